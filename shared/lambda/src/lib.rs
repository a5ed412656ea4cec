//! Lambda handlers of the order pipeline. Each takes the AWS event as Lambda delivers it, calls
//! the shared use case (the same one the local runtime calls), and answers in Lambda's terms:
//! partial batch failures for SQS and Streams, a typed `errorType` for Step Functions tasks.
//!
//! Handlers are generic over the domain's ports, so they are tested with real AWS event JSON
//! and the embedded adapters; the binaries under `services/` and `projections/` wire them to
//! the AWS adapters.
//!
//! # Layout
//! - [`task`]: ValidateOrder, ProcessPayment, UpdateInventory, OrderFailed (the order state
//!   machine), ProcessRefund and RefundFailed (the refund state machine).
//! - [`start`]: StartOrderProcessing (SQS batch → executions).
//! - [`confirm`]: OrderSuccessHandler, OrderFailureHandler and OrderUpdateHandler (EventBridge →
//!   email).
//! - [`project`]: EventProjector, the stream's one reader (both views + [`forward`]ing the
//!   order events to EventBridge).
//! - [`seed`]: the SeedInventory custom resource.
//! - [`sweep`]: OrderSweeper (the schedule's event → one run of the sweeper).
//! - [`batch`]: the partial batch response shapes.
//! - [`emf`]: the business metrics as CloudWatch Embedded Metric Format, flushed per
//!   invocation by [`emf::run`], which every binary's `main` runs its handler with.
//! - [`deadline`]: the invocation's deadline, which bounds an idempotency claim's lease.
//! - [`stage`]: the API stage stripped from the request path.
//! - [`claims`]: the caller's claims, as API Gateway's authorizer verified them.
//! - [`xray`]: logging, and the steps' spans sent to X-Ray under active tracing.
//! - [`wiring`]: environment → SDK clients (only those a function needs) → adapters (each named
//!   by its own `from_env` in `order-aws`), and the `main` of every binary.

#![recursion_limit = "256"] // the SDK futures of `wiring` nest deeply

pub mod batch;
pub mod claims;
pub mod confirm;
pub mod deadline;
pub mod emf;
pub mod forward;
pub mod project;
pub mod seed;
pub mod stage;
pub mod start;
pub mod sweep;
pub mod task;
pub mod wiring;
pub mod xray;

/// Initialises logging for a Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON` gives JSON lines), and the
/// export of the orders' traces to X-Ray when the function's active tracing is on ([`xray`]).
pub fn init_tracing() {
    xray::init();
}
