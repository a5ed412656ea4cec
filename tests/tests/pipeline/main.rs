//! Whole-pipeline tests on the embedded default, through HTTP on a random port.
//! One binary, one module per concern; each test starts its own pipeline on a fresh database.

#![allow(clippy::too_many_lines)] // scenario tests read top to bottom

mod after;
mod bad_input;
mod concurrency;
mod failures;
mod forgotten;
mod happy;
mod idempotency;
mod redelivery;
mod refunds;
