//! The order pipeline's domain: what happened (events), what may happen next (decide/evolve), and
//! the ports the outside world is reached through. No IO, no AWS, no SQLite.
//!
//! # Layout
//! - [`values`]: validated newtypes (`OrderId`, `ProductId`, `Quantity`, `Money`, `Email`, ...).
//!   Parse, don't validate: once you hold one, it is valid.
//! - [`envelope`]: the stored form of an event (stream, version, ids, hash chain) and how a new
//!   event is sealed onto a stream.
//! - [`decoded`]: the typed event a record was sealed from, kept with it so that the consumers
//!   in the process that sealed it need not parse its text again.
//! - [`events`]: the order and product events, their wire names, schema versions and upcasters.
//! - [`order`] and [`product`]: the two aggregates, each as `evolve` (infallible fold) plus
//!   decisions that turn the current state and a command into new events.
//! - [`personal`]: the sealed personal data of an order (email, payment token), and what
//!   shows once its customer's key is destroyed.
//! - [`ports`]: the traits every host (embedded SQLite, AWS) implements.
//! - [`append`]: what every event store checks before an append (version sequence, size).
//! - [`idempotency`]: the idempotency judgement (stored record + request → verdict).
//! - [`dedup`]: the decision every notifier makes before publishing, so a redelivered
//!   notification goes out once.
//! - [`shared_str`]: text an event holds, shared when the event is cloned.
//! - [`trace`]: the W3C trace context an order's events carry, so one order is one trace.

pub mod append;
pub mod decoded;
pub mod dedup;
pub mod envelope;
pub mod events;
pub mod idempotency;
pub mod order;
pub mod personal;
pub mod ports;
pub mod product;
pub mod shared_str;
mod text;
pub mod time;
pub mod trace;
pub mod values;

pub use decoded::Encoded;
pub use envelope::{EventMeta, GENESIS_HASH, RecordedEvent, StreamWrite};
pub use events::{DomainEvent, FailureReason, OrderEvent, ProductEvent};
pub use shared_str::SharedStr;
pub use time::Timestamp;
pub use trace::TraceParent;
pub use values::{
    CustomerId, Email, EventId, Money, OrderId, PaymentToken, ProductId, Quantity, StreamId,
    ValueError,
};
