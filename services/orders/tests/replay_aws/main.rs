//! `orders replay --backend aws` on the real binary, against the emulator (moto): each test
//! provisions its own small tables, fills the log through the real adapters (the event store
//! and the app's task functions), projects it with the Streams projector's step, then tampers
//! with its own tables (and deletes them when it passes).
//!
//! Without `AWS_ENDPOINT_URL` a test prints that it was skipped and returns, except under
//! `CI=true`, where it fails (the project's test command starts moto and exports it).
//!
//! # Layout
//! - `aws`: a test's tables on the emulator, what tests do to them, and the replay command.
//! - `run`: the mixed run, written through the real adapters.
//! - `verify`: a log that matches its read models, and tampered logs that `--verify` catches.
//! - `audit`: `--verify`'s audit of money and stock on a log with a return, and a refund it flags.
//! - `rebuild`: rows that differ from the log or lag behind it, found and repaired.
//! - `timeline`: `--order` and `--as-of`, and replay without its tables named.

mod audit;
mod aws;
mod rebuild;
mod run;
mod timeline;
mod verify;
