//! Use cases of the order pipeline, generic over the domain's ports. Both hosts (the embedded
//! runtime and the AWS Lambdas) call these functions; neither holds business logic of its own.
//!
//! # Layout
//! - [`place`]: POST /orders (idempotency key, append OrderPlaced, enqueue).
//! - [`after`]: cancel, ship and refund requests on a placed order (recorded as events; the
//!   refund workflow moves the money).
//! - [`start`]: StartOrderProcessing (queue message → one workflow execution per order).
//! - [`tasks`]: the state machine's tasks: validate, pay, reserve inventory, fail;
//!   [`dispatch`]: which task a function name runs ([`dispatch::TaskFunction`]).
//! - [`gateway`]: the deterministic simulated payment gateway.
//! - [`query`]: GET /orders/{id}, its events, inventory.
//! - [`forward`]: the order events the bus carries, and the forwarding loop every host runs over
//!   a batch of the log's records.
//! - [`notify`]: the confirmation and the failure notice of the terminal events' rules;
//!   [`notify_update`]: the customer's emails of an order's life (received, cancelled, shipped,
//!   refunded) of OrderUpdateRule.
//! - [`metrics`]: the business metrics, counted where the facts are appended; [`alarms`]: the
//!   local alarms, which change state like CloudWatch's.
//! - [`backlog`]: admission control: the orders accepted and not yet ended, and the verdict
//!   that sheds a new one at the bound.
//! - [`seed`]: idempotent inventory seeding.
//! - [`sweep`]: the sweeper (orders left PLACED re-enqueued, orders whose execution died closed
//!   as FAILED with their refund), one use case for the runtime's loop and the sweeper Lambda.
//! - [`vault`]: sealing and opening an order's personal data under its customer's data key,
//!   and forgetting a customer (crypto-shredding).
//! - [`stream`]: loading an order and appending its decisions with conflict retry.
//! - [`trace`]: the order's W3C trace context, found in its events by every step.

pub mod after;
pub mod alarms;
pub mod backlog;
pub mod dead_letters;
pub mod dispatch;
pub mod forward;
pub mod gateway;
pub mod metrics;
pub mod notify;
pub mod notify_update;
pub mod place;
pub mod query;
pub mod seed;
pub mod start;
pub mod stream;
pub mod sweep;
pub mod tasks;
pub mod trace;
pub mod vault;

pub use query::ReadModels;
