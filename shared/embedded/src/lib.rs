//! The embedded default: every port on SQLite, on one database file. The local runtime that
//! drives these adapters (workers, workflow runner, rule bus, host wiring) is `order-runtime`.
//!
//! # Layout
//! - [`db`]: the database, a group-committing writer thread and WAL readers; migrations.
//! - [`store`]: the event store and the change feed (global position); [`cache`]: the streams
//!   this process just wrote, so loading a live order needs no read.
//! - [`queue`]: OrdersQueue and its DLQ with SQS semantics; [`intake`]: a POST's append and
//!   enqueue in one commit.
//! - [`keys`]: the customers' data keys, wrapped under the data directory's master key, and
//!   destroyed for good on forget (crypto-shredding).
//! - [`idempotency`], [`read_models`]: idempotency records, order-status and inventory views.
//! - [`outbox`]: SNS email as RFC 5322 messages, one mbox per topic, delivered once per dedup
//!   id; [`mbox`]: the email and mbox format it writes.
//! - [`stream_positions`]: where `serve --backend aws`'s DynamoDB Streams consumers stopped,
//!   per shard (the AWS host's own bookkeeping database).

pub mod cache;
pub mod db;
pub mod idempotency;
pub mod intake;
pub mod keys;
pub mod mbox;
pub mod outbox;
pub mod queue;
pub mod read_models;
pub mod store;
pub mod stream_positions;

#[cfg(test)]
mod test_writes;
