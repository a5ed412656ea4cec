//! The tasks of OrderProcessingStateMachine. Each one reads the order's stream (the truth),
//! decides, appends its outcome, and answers the workflow. Each is idempotent: run twice, it
//! appends once and answers the same.
//!
//! Errors carry an `error_type` that the state machine's Retry and Catch match on (it becomes the
//! Lambda's `errorType` on AWS).

mod fail;
mod pay;
mod reserve;
mod validate;

pub use fail::order_failed;
pub use pay::process_payment;
pub use reserve::update_inventory;
pub use validate::validate_order;

use order_domain::OrderId;
use order_domain::order::OrderError;
use order_domain::ports::StoreError;
use serde::Deserialize;

use crate::stream::{ExecuteError, LoadError};

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

/// A task's failure, named for the state machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct TaskError {
    pub error_type: &'static str,
    pub message: String,
}

/// The error types a task can raise. Business outcomes are caught; transient ones are retried.
pub mod error_type {
    pub const ORDER_REJECTED: &str = "OrderRejected";
    pub const PAYMENT_DECLINED: &str = "PaymentDeclined";
    pub const OUT_OF_STOCK: &str = "OutOfStock";
    pub const GATEWAY_UNAVAILABLE: &str = "PaymentGatewayUnavailable";
    pub const STORE_UNAVAILABLE: &str = "EventStoreUnavailable";
    pub const CONCURRENT_MODIFICATION: &str = "ConcurrentModification";
    pub const ORDER_NOT_READY: &str = "OrderNotReady";
    pub const INVALID_INPUT: &str = "InvalidTaskInput";
    pub const CORRUPT_LOG: &str = "CorruptEvent";
}

impl TaskError {
    pub fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
        }
    }

    /// Whether the state machine retries this error.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.error_type,
            error_type::GATEWAY_UNAVAILABLE
                | error_type::STORE_UNAVAILABLE
                | error_type::CONCURRENT_MODIFICATION
        )
    }

    /// Parses a task's JSON input.
    pub fn parse_input(input: serde_json::Value) -> Result<TaskInput, Self> {
        serde_json::from_value(input)
            .map_err(|e| Self::new(error_type::INVALID_INPUT, e.to_string()))
    }
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => {
                Self::new(error_type::CONCURRENT_MODIFICATION, e.to_string())
            }
            StoreError::Unavailable(_) => Self::new(error_type::STORE_UNAVAILABLE, e.to_string()),
            StoreError::TooLarge { .. } => Self::new(error_type::INVALID_INPUT, e.to_string()),
            StoreError::Corrupt(_) => Self::new(error_type::CORRUPT_LOG, e.to_string()),
        }
    }
}

impl From<LoadError> for TaskError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(s) => s.into(),
            LoadError::Decode(d) => Self::new(error_type::CORRUPT_LOG, d.to_string()),
        }
    }
}

impl From<OrderError> for TaskError {
    fn from(e: OrderError) -> Self {
        Self::new(error_type::ORDER_NOT_READY, e.to_string())
    }
}

impl From<ExecuteError<OrderError>> for TaskError {
    fn from(e: ExecuteError<OrderError>) -> Self {
        match e {
            ExecuteError::Load(l) => l.into(),
            ExecuteError::Refused(o) => o.into(),
        }
    }
}
