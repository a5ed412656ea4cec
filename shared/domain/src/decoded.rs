//! The typed event a recorded event was sealed from, kept with it by the process that sealed it.
//!
//! On the embedded host every consumer of an event runs in the process that appended it: the
//! next task's fold, the status and inventory projections, the forwarder and the emails are all
//! handed the very events the writer committed (through the stream cache and the change feed).
//! Each of them decoded the event's JSON text again, about three times an event. An event
//! sealed from a typed event ([`Encoded::from`] an `OrderEvent` or `ProductEvent`) keeps that
//! event, and [`decode`](crate::events::decode) hands it out instead of parsing the text.
//!
//! # Why it is never wrong
//! - What is kept is the event the payload was serialized from, and a payload decodes to the
//!   event it was serialized from: sealing checks exactly that in every debug build (so every
//!   test that appends checks it), and `events::tests` checks it for every event type.
//! - It is used only for the text it was made with: it holds that payload (so the text cannot be
//!   freed and another put at its address) and is consulted only while the record's payload is
//!   that same allocation, with the same event type and schema version. A record whose payload
//!   is replaced (a test's tampering, a store's shredding) decodes from its text again.
//! - It is never stored or sent: serialization skips it, a record read back from a store has
//!   none, and records compare equal with or without it.

use std::fmt;
use std::sync::Arc;

use crate::events::{DomainEvent, OrderEvent, ProductEvent};
use crate::shared_str::SharedStr;

/// The typed event a record was sealed from, when this process sealed it (see the module doc).
/// Cloning it moves a reference count.
#[derive(Clone, Default)]
pub struct DecodedCache(Option<Arc<Held>>);

struct Held {
    payload: SharedStr,
    event: DomainEvent,
}

impl DecodedCache {
    /// Nothing kept: a record read from a store, or made from text.
    pub const NONE: Self = Self(None);

    pub(crate) fn new(payload: &SharedStr, event: DomainEvent) -> Self {
        Self(Some(Arc::new(Held {
            payload: payload.clone(),
            event,
        })))
    }

    /// The event kept for a record of `event_type` at `schema_version` with `payload`, if it
    /// was made from exactly that text.
    pub(crate) fn get(
        &self,
        event_type: &str,
        schema_version: u32,
        payload: &SharedStr,
    ) -> Option<&DomainEvent> {
        let held = self.0.as_deref()?;
        let (ty, schema) = match &held.event {
            DomainEvent::Order(e) => (e.event_type(), e.schema_version()),
            DomainEvent::Product(e) => (e.event_type(), e.schema_version()),
        };
        (held.payload.is_same_text(payload) && ty == event_type && schema == schema_version)
            .then_some(&held.event)
    }

    /// Whether an event is kept (for tests and diagnostics).
    pub fn is_held(&self) -> bool {
        self.0.is_some()
    }
}

/// Not part of what happened: records are equal with or without it.
impl PartialEq for DecodedCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for DecodedCache {}

impl fmt::Debug for DecodedCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_held() { "held" } else { "none" })
    }
}

/// An event ready to be sealed onto a stream: its type, schema version and payload text, and,
/// when it was made from a typed event, that event (kept with the record, see [`DecodedCache`]).
#[derive(Debug)]
pub struct Encoded<'a> {
    pub event_type: &'a str,
    pub schema_version: u32,
    pub payload: String,
    pub(crate) event: Option<DomainEvent>,
}

/// Text that was not made here (tests, upcasting fixtures, replay's synthetic log): sealed
/// without a typed event; its consumers decode it.
impl<'a> From<(&'a str, u32, String)> for Encoded<'a> {
    fn from((event_type, schema_version, payload): (&'a str, u32, String)) -> Self {
        Self {
            event_type,
            schema_version,
            payload,
            event: None,
        }
    }
}

macro_rules! encoded_from {
    ($ty:ident => $variant:ident) => {
        impl From<$ty> for Encoded<'static> {
            fn from(event: $ty) -> Self {
                let (event_type, schema_version, payload) = event.encode();
                Self {
                    event_type,
                    schema_version,
                    payload,
                    event: Some(DomainEvent::$variant(event)),
                }
            }
        }

        impl From<&$ty> for Encoded<'static> {
            fn from(event: &$ty) -> Self {
                Self::from(event.clone())
            }
        }
    };
}

encoded_from!(OrderEvent => Order);
encoded_from!(ProductEvent => Product);

#[cfg(test)]
mod tests;
