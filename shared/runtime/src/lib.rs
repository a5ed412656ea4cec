//! The local runtime: what runs the pipeline in one process around the ports, whatever adapters
//! implement them. The embedded host runs it on the SQLite adapters (`order-embedded`);
//! `orders serve --backend aws` runs the same workers on the AWS adapters (`order-aws`).
//!
//! # Layout
//! - [`workers`]: the StartOrderProcessing queue consumer and the sweeper, generic
//!   over the `PolledQueue` and `StuckOrders` ports.
//! - [`workflow`] (with `execution`) and [`functions`]: durable executions of the shared state
//!   machine definitions (the order's and the refund's), with `lambda:invoke` done locally (the
//!   executions are bookkept in SQLite, as Step Functions keeps its own).
//! - [`limit`]: how many executions the runner runs at once, fixed or following the tasks'
//!   latency.
//! - [`bus`]: EventBridge-style rules routed in process (the confirmation, the failure notice,
//!   the customer's updates, a requested refund's execution).
//! - [`projections`] and [`forwarder`]: the embedded host's change-feed workers (read models;
//!   the order events to the bus), paced alike by `feed`.
//! - [`recent_emails`]: the last emails sent, kept for the console by a notifier decorator.
//! - [`pipeline`]: the embedded host's wiring ([`Pipeline`], [`Config`]).

pub mod bus;
mod execution;
mod feed;
pub mod forwarder;
pub mod functions;
pub mod limit;
pub mod pipeline;
pub mod projections;
pub mod recent_emails;
pub mod workers;
pub mod workflow;

pub use limit::Concurrency;
pub use pipeline::{Config, LocalKeys, LocalNotifier, Pipeline, StartError};
