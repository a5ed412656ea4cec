//! The stored form of an event and its hash chain.
//!
//! Every event carries the SHA-256 of its predecessor in the same stream, so changing, removing or
//! inserting a stored event breaks the chain at that point. The hash is computed over exactly what
//! is stored (the payload as its stored JSON text), which keeps it valid if a personal field is
//! later crypto-shredded in place by the store.
//!
//! The trace context ([`TraceParent`]) travels with every event but is NOT hashed: it is
//! diagnostic metadata (which trace a step belonged to), not what happened, so events written
//! before it existed keep their hashes and a store may drop it without breaking the chain.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decoded::{DecodedCache, Encoded};
use crate::shared_str::SharedStr;
use crate::time::Timestamp;
use crate::trace::TraceParent;
use crate::values::{EventId, StreamId};

/// The `prev_hash` of a stream's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an event and when: copied onto every event a command appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The order the event belongs to, for tracing a whole flow across streams.
    pub correlation_id: SharedStr,
    /// The event id or request id that caused this event.
    pub causation_id: SharedStr,
    pub occurred_at: Timestamp,
    /// The W3C trace context of the step that appends (a child of the order's trace); `None`
    /// for events outside an order's trace (seeding, tests). Not hashed.
    pub trace_parent: Option<TraceParent>,
}

/// One event as it is stored in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedEvent {
    pub stream_id: StreamId,
    /// 1, 2, 3 … within the stream.
    pub version: u64,
    pub event_id: EventId,
    pub event_type: SharedStr,
    pub schema_version: u32,
    pub occurred_at: Timestamp,
    pub correlation_id: SharedStr,
    pub causation_id: SharedStr,
    /// The event's data as stored JSON text (hashed as is).
    pub payload: SharedStr,
    pub prev_hash: SharedStr,
    pub hash: SharedStr,
    /// The W3C trace context the event was appended under: diagnostic metadata, deliberately
    /// left out of [`compute_hash`](Self::compute_hash), so the chain of events written before
    /// it existed (which read back `None`) still verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<TraceParent>,
    /// The typed event this process sealed it from, if it did: never stored, never compared
    /// (see [`DecodedCache`]). [`DecodedCache::NONE`] for a record made any other way.
    #[serde(skip)]
    pub decoded: DecodedCache,
}

impl RecordedEvent {
    /// Seals a new event onto a stream whose head is at `prev_version` with hash `prev_hash`
    /// (given as a [`SharedStr`], it is shared, not copied). An event sealed from a typed
    /// event (an `OrderEvent` or `ProductEvent`, see [`Encoded`]) keeps it for the consumers in
    /// this process; one sealed from `(type, schema version, payload)` text does not.
    pub fn seal<'a>(
        stream_id: StreamId,
        prev_version: u64,
        prev_hash: impl Into<SharedStr>,
        encoded: impl Into<Encoded<'a>>,
        meta: &EventMeta,
    ) -> Self {
        let Encoded {
            event_type,
            schema_version,
            payload,
            event: typed,
        } = encoded.into();
        let mut event = Self {
            stream_id,
            version: prev_version + 1,
            event_id: EventId::generate(),
            event_type: event_type.into(),
            schema_version,
            occurred_at: meta.occurred_at,
            correlation_id: meta.correlation_id.clone(),
            causation_id: meta.causation_id.clone(),
            payload: payload.into(),
            prev_hash: prev_hash.into(),
            hash: SharedStr::default(),
            trace_parent: meta.trace_parent,
            decoded: DecodedCache::NONE,
        };
        event.hash = event.compute_hash().into();
        if let Some(typed) = typed {
            // What is kept must be what the text decodes to: checked by every test that seals.
            debug_assert_eq!(
                crate::events::decode(&event).as_ref(),
                Ok(&typed),
                "an event must decode from its payload to the event it was encoded from"
            );
            event.decoded = DecodedCache::new(&event.payload, typed);
        }
        event
    }

    /// Whether the stored `hash` is this event's ([`compute_hash`](Self::compute_hash)), compared
    /// without building a string: replay's `--verify` asks it of every event in the log.
    pub fn hash_is_valid(&self) -> bool {
        self.hash.as_bytes() == self.hash_hex()
    }

    /// The SHA-256 (hex) of this event's stored fields and its predecessor's hash.
    /// Fields are length-prefixed so that no two different events hash the same bytes.
    /// `trace_parent` is not among them (diagnostic metadata, see the module doc).
    pub fn compute_hash(&self) -> String {
        String::from_utf8_lossy(&self.hash_hex()).into_owned()
    }

    /// [`compute_hash`](Self::compute_hash) as 64 ASCII digits. The numbers are written as
    /// decimal text on the stack (as `to_string` wrote them), the length-prefixed fields laid
    /// out in one buffer and hashed at once (fed to SHA-256 as 22 pieces, one `update` each,
    /// it took about 15 % longer), and the digest turned to hex in place: every event is hashed
    /// when it is sealed and again by `replay --verify`.
    fn hash_hex(&self) -> [u8; 64] {
        let (mut version, mut schema, mut at) = ([0; 20], [0; 20], [0; 20]);
        let event_id = self.event_id.to_string();
        let fields = [
            b"chain-v1".as_slice(),
            self.prev_hash.as_bytes(),
            self.stream_id.as_str().as_bytes(),
            decimal(self.version, &mut version),
            event_id.as_bytes(),
            self.event_type.as_bytes(),
            decimal(u64::from(self.schema_version), &mut schema),
            decimal(self.occurred_at.as_millis(), &mut at),
            self.correlation_id.as_bytes(),
            self.causation_id.as_bytes(),
            self.payload.as_bytes(),
        ];
        let mut message = Vec::with_capacity(fields.iter().map(|f| 8 + f.len()).sum());
        for field in fields {
            message.extend_from_slice(&(field.len() as u64).to_be_bytes());
            message.extend_from_slice(field);
        }
        let mut hex = [0; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(Sha256::digest(&message)) {
            pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
        }
        hex
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `n` in decimal, written at the end of `buf` (20 digits hold any u64).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// Events to append to one stream, whose head must still be at `expected_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamWrite {
    pub stream_id: StreamId,
    pub expected_version: u64,
    pub events: Vec<RecordedEvent>,
}

/// Where a stream's hash chain or version sequence breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error(
        "{stream} version {version}: expected version {expected} (a missing or inserted event)"
    )]
    VersionGap {
        stream: String,
        version: u64,
        expected: u64,
    },
    #[error("{stream} version {version}: stored hash does not match its content (changed event)")]
    HashMismatch { stream: String, version: u64 },
    #[error(
        "{stream} version {version}: prev_hash does not link to version {prev} (reordered or removed event)"
    )]
    BrokenLink {
        stream: String,
        version: u64,
        prev: u64,
    },
}

/// Checks one stream's events (in stored order) for an unbroken chain from version 1.
pub fn verify_chain(events: &[RecordedEvent]) -> Result<(), ChainError> {
    let mut prev_hash = GENESIS_HASH;
    for (i, e) in events.iter().enumerate() {
        let expected = i as u64 + 1;
        let stream = e.stream_id.as_str().to_owned();
        if e.version != expected {
            return Err(ChainError::VersionGap {
                stream,
                version: e.version,
                expected,
            });
        }
        if !e.hash_is_valid() {
            return Err(ChainError::HashMismatch {
                stream,
                version: e.version,
            });
        }
        if e.prev_hash != prev_hash {
            return Err(ChainError::BrokenLink {
                stream,
                version: e.version,
                prev: expected - 1,
            });
        }
        prev_hash = &e.hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{EventId, OrderId};

    fn meta() -> EventMeta {
        EventMeta {
            correlation_id: "c".into(),
            causation_id: "r".into(),
            occurred_at: Timestamp::from_millis(1),
            trace_parent: None,
        }
    }

    fn chain(n: u64) -> Vec<RecordedEvent> {
        let stream = OrderId::generate().stream();
        let mut out: Vec<RecordedEvent> = Vec::new();
        for v in 0..n {
            let prev = out
                .last()
                .map_or(GENESIS_HASH.to_owned(), |e| e.hash.to_string());
            out.push(RecordedEvent::seal(
                stream.clone(),
                v,
                &prev,
                ("OrderCompleted", 1, format!("{{\"n\":{v}}}")),
                &meta(),
            ));
        }
        out
    }

    /// The chain's format ("chain-v1") is what every stored event was hashed with: a change to
    /// how the fields are fed to SHA-256 would break every stream already written. Pinned on a
    /// fixed event: the values the hashing gave before it was rewritten to lay its fields out
    /// in one buffer, which an independent SHA-256 over the layout (Python's hashlib) also gives.
    #[test]
    fn the_hash_of_a_fixed_event_is_pinned() {
        let event = RecordedEvent {
            stream_id: StreamId::parse("order#01KBM7ZJ8Q8Y3C6W1T2V4X5Y6Z").unwrap(),
            version: 12_345,
            event_id: EventId::parse("01KBM7ZJ8Q8Y3C6W1T2V4X5Y6A").unwrap(),
            event_type: "OrderValidated".into(),
            schema_version: 2,
            occurred_at: Timestamp::from_millis(1_796_314_707_045),
            correlation_id: "01KBM7ZJ8Q8Y3C6W1T2V4X5Y6Z".into(),
            causation_id: "req-7".into(),
            payload: r#"{"total":900,"note":"é ☃"}"#.into(),
            prev_hash: "ab".repeat(32).into(),
            hash: SharedStr::default(),
            trace_parent: Some(TraceParent::new_root()),
            decoded: DecodedCache::NONE,
        };
        let first = RecordedEvent {
            version: 1,
            schema_version: 0,
            occurred_at: Timestamp::from_millis(0),
            payload: SharedStr::default(),
            prev_hash: GENESIS_HASH.into(),
            ..event.clone()
        };
        assert_eq!(
            event.compute_hash(),
            "489c52b162f0a5c5c39dd13e8b9f279b63b5d0509564e27936c0dc31b2c2e294"
        );
        assert_eq!(
            first.compute_hash(),
            "0a4d941dff2a62fbb69358773b7cca0e66a04b5c5d18d5c852c0d60c9465fdef"
        );
        let mut sealed = event;
        sealed.hash = sealed.compute_hash().into();
        assert!(sealed.hash_is_valid());
        let other = if sealed.hash.ends_with('0') { "1" } else { "0" };
        sealed.hash = format!("{}{other}", &sealed.hash[..63]).into();
        assert!(!sealed.hash_is_valid());
        sealed.hash = sealed.hash[..63].into();
        assert!(!sealed.hash_is_valid(), "a truncated hash");
    }

    #[test]
    fn the_trace_context_is_not_hashed() {
        let mut c = chain(2);
        let before = c[1].hash.clone();
        c[1].trace_parent = Some(TraceParent::new_root());
        assert_eq!(c[1].compute_hash(), before);
        assert_eq!(verify_chain(&c), Ok(()));
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(()));
    }

    #[test]
    fn a_changed_payload_breaks_the_chain_at_that_version() {
        let mut c = chain(4);
        c[2].payload = "{\"n\":99}".into();
        assert!(matches!(
            verify_chain(&c),
            Err(ChainError::HashMismatch { version: 3, .. })
        ));
    }

    #[test]
    fn a_removed_event_is_a_version_gap() {
        let mut c = chain(4);
        c.remove(1);
        assert!(matches!(
            verify_chain(&c),
            Err(ChainError::VersionGap {
                version: 3,
                expected: 2,
                ..
            })
        ));
    }

    #[test]
    fn swapped_versions_are_detected() {
        let mut c = chain(4);
        c.swap(1, 2);
        let (a, b) = (c[1].version, c[2].version);
        c[1].version = b;
        c[2].version = a;
        assert!(verify_chain(&c).is_err());
    }
}
