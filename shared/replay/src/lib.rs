//! Audit replay: rebuilds every read model from the event log through the same projection code
//! the live workers run, proves the log untouched by checking each stream's hash chain, and
//! compares the result with the live read models, or replaces them (`orders replay`).
//!
//! The core is host-neutral and holds no IO: it takes one stream's events at a time, in version
//! order, with the stream's live row, and never more than one stream's state. A host's driver
//! streams its log through it: the embedded driver ([`sqlite`]) walks the SQLite `events` table in
//! `(stream_id, version)` order beside the live tables; the DynamoDB driver ([`dynamo`]) surveys
//! the log with parallel Scan segments, then reads it back one stream at a time.
//!
//! # Layout
//! - [`fold`]: [`StreamFold`], one stream folded event by event into its row, with the row the
//!   live projection should have (up to its checkpoint) beside the row the whole log gives.
//! - [`chain`]: [`ChainCheck`], the hash-chain and version check one event at a time.
//! - [`audit`]: with `verify`, the log's money and stock add up: per order, refunds within
//!   the capture and each line's quantity; per product, stock = seeded − taken by completed
//!   orders + restocked ([`Violation`], reported as [`Failure::Audit`]).
//! - [`view`]: [`View`], a rebuilt row of either model, and which stream feeds which row.
//! - [`compare`]: a rebuilt row against the live row ([`Difference`]).
//! - [`judge`](mod@judge): the verdict on a row: its difference and what `--rebuild` writes ([`Repair`]).
//! - [`summary`]: the tally, the printed report and the exit code ([`Outcome`]).
//! - [`timeline`](mod@timeline): one order's events with what each changed (`--order`).
//! - [`report`]: [`OrderReport`], one order's timeline with its live row's verdict (`--order`).
//! - [`observer`]: progress and per-row hooks for the caller.
//! - [`sqlite`] (feature `embedded`): the driver on the embedded database (one pass in
//!   `(stream_id, version)` order merged with the live tables), the conditional rebuild writes,
//!   `--order` reports, and the raw read+decode baseline the benchmark compares with.
//! - [`dynamo`] (feature `aws`): the driver on the AWS host's DynamoDB tables (a parallel Scan
//!   survey of the events table, then per-stream consistent Queries folded with bounded
//!   concurrency, each beside its live row), its conditional rebuild writes and `--order`.
//! - [`synthetic`] (feature `embedded`): a generator of large realistic logs for benchmarks and
//!   tests.

pub mod audit;
pub mod chain;
pub mod compare;
#[cfg(feature = "aws")]
pub mod dynamo;
pub mod fold;
pub mod judge;
pub mod observer;
pub mod report;
#[cfg(feature = "embedded")]
pub mod sqlite;
pub mod summary;
#[cfg(feature = "embedded")]
pub mod synthetic;
pub mod timeline;
pub mod view;

pub use audit::Violation;
pub use chain::ChainCheck;
pub use compare::{Difference, LiveRow, Mismatch};
pub use fold::{Failure, FoldedStream, ReplayOptions, StreamFold};
pub use judge::{Repair, Verdict, judge, judge_orphan};
pub use observer::Observer;
pub use report::OrderReport;
pub use summary::{Outcome, Summary};
pub use timeline::{Timeline, timeline};
pub use view::{Model, View};
