//! The embedded default: every port on SQLite, and the local runtime that runs the whole
//! pipeline in one process on one database file.
//!
//! # Layout
//! - [`db`]: the database, a group-committing writer thread and WAL readers; migrations.
//! - [`store`]: the event store and the change feed (global position); [`cache`]: the streams
//!   this process just wrote, so loading a live order needs no read.
//! - [`queue`]: OrdersQueue and its DLQ with SQS semantics; [`intake`]: a POST's append and
//!   enqueue in one commit.
//! - [`idempotency`], [`read_models`]: idempotency records, order-status and inventory views.
//! - [`workflow`] and [`functions`]: durable executions of the shared state machine definition,
//!   with `lambda:invoke` and `sns:publish` done locally.
//! - [`bus`]: EventBridge-style rules; [`outbox`]: SNS email as RFC 5322 messages, one mbox per
//!   topic, delivered once per dedup id; [`mbox`]: the email and mbox format it writes.
//! - [`runtime`]: the workers and their wiring ([`runtime::Pipeline`]).

pub mod bus;
pub mod cache;
pub mod db;
pub mod functions;
pub mod host;
pub mod idempotency;
pub mod intake;
pub mod mbox;
pub mod outbox;
pub mod queue;
pub mod read_models;
pub mod runtime;
pub mod store;
pub mod workers;
pub mod workflow;

pub use runtime::{Config, Pipeline};
