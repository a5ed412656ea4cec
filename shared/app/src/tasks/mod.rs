//! The tasks of OrderProcessingStateMachine, and of RefundProcessingStateMachine ([`refund`]
//! module: process_refund, refund_failed). Each one reads the order's stream (the truth),
//! decides a command on the order's state, appends what it decided, and answers the workflow from
//! the state. Each is idempotent: run twice, it appends once and answers the same.
//!
//! Errors are [`TaskError`]s, whose `error_type` the state machine's Retry and Catch match on (it
//! becomes the Lambda's `errorType` on AWS).

mod error;
mod fail;
mod pay;
mod refund;
mod reserve;
mod validate;
mod with_products;

pub use error::TaskError;
pub use fail::{compensate, fail_at_version, order_failed};
pub use pay::process_payment;
pub use refund::{RefundTaskInput, process_refund, refund_failed};
pub use reserve::update_inventory;
pub use validate::validate_order;

use order_domain::OrderId;
use order_domain::order::{OrderError, OrderState};
use serde::Deserialize;

/// What every task receives from the state machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    pub order_id: OrderId,
    /// `$$.State.RetryCount`: 0 on the first attempt.
    #[serde(default)]
    pub attempt: u32,
    /// The error a Catch caught (only for `order_failed`).
    #[serde(default)]
    pub error: Option<CaughtError>,
}

/// A Catch's error output, `{"Error": .., "Cause": ..}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// The order is not at `step`: asked too early, or (only a bug gets here) its decision went
/// through and the state still does not hold the step's answer.
fn not_ready(step: &'static str, state: &OrderState) -> TaskError {
    OrderError::NotReady {
        step,
        status: state.status(),
    }
    .into()
}
