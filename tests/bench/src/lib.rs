//! Benchmarks and the cost model of the order pipeline (issue 6).
//!
//! # Layout
//! - [`runtime_api`]: a stub Lambda Runtime API on loopback, reporting when a function polls
//!   and answers.
//! - [`cold_start`]: one timed cold start of a binary against the stub.
//! - [`functions`]: the eleven function binaries, and a real first event for each (fixtures
//!   for orders prepared on the emulator).
//! - [`artifact`]: a binary's stripped and zipped size.
//! - [`stats`]: median and percentiles.
//! - [`cost`]: the price per million orders from a counted local run.
//! - [`report`]: every benchmark's JSON in one table, with targets (`bench-report`).
//! - [`alternated`]: the batch benches' flags, round-trip proxy and table.
//!
//! Binaries: `lambda-cold-start`, `cost-model`, `bench-report`, and the two cold-start
//! baselines `hello-runtime` and `hello-sdk`.

#![recursion_limit = "256"] // the SDK futures of `functions` nest deeply

pub mod alternated;
pub mod artifact;
pub mod cold_start;
pub mod cost;
pub mod functions;
pub mod report;
pub mod stats;

/// The stub Runtime API now lives in the test kit (tests/stack uses it too).
pub use order_testkit::runtime_api;
