//! `orders replay` on the real binary, over a data directory filled by a real mixed run:
//! orders completed, declined, rejected and out of stock. Each test copies that run's data and
//! tampers with its own copy.
//!
//! # Layout
//! - `run`: the mixed run, made once for the whole binary, and a private copy of its data.
//! - `verify`: a log that matches its read models, and tampered logs that `--verify` catches.
//! - `rebuild`: corrupted read-model rows found and repaired, beside a running server too.
//! - `timeline`: `--order` and `--as-of`, and the exit codes of bad invocations.

mod rebuild;
mod run;
mod timeline;
mod verify;
