//! A task's failure, named for the state machine: each variant's [`TaskError::error_type`] is the
//! string the workflow's Retry and Catch match on (it becomes the Lambda's `errorType` on AWS).
//! Business outcomes are caught and end the order; transient errors are retried.
//!
//! The names are checked against the workflow definition by a test (`asl_tests.rs`), so renaming
//! one without the definition, or the other way round, fails the build's tests.

use order_domain::order::OrderError;
use order_domain::ports::StoreError;

use crate::stream::{ExecuteError, LoadError};

/// Declares the enum with one `String` (the message) per variant, its error type per variant,
/// and the list of all of them, so the list cannot miss a variant.
macro_rules! task_errors {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )+) => {
        /// A task's failure: which one (the workflow matches on its [`Self::error_type`]) and
        /// the message that goes with it.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum TaskError {
            $(
                $(#[$doc])*
                #[error("{name}: {0}", name = $name)]
                $variant(String),
            )+
        }

        impl TaskError {
            /// Every error type a task can raise.
            pub const ERROR_TYPES: &[&str] = &[$($name),+];

            /// The name the state machine's Retry and Catch match on.
            pub fn error_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)+
                }
            }

            /// What went wrong, for the error's cause.
            pub fn message(&self) -> &str {
                match self {
                    $(Self::$variant(message) => message,)+
                }
            }
        }
    };
}

task_errors! {
    /// Validation refused the order (caught: the order fails as REJECTED).
    OrderRejected => "OrderRejected",
    /// The gateway declined the card (caught: the order fails as PAYMENT_DECLINED).
    PaymentDeclined => "PaymentDeclined",
    /// Stock ran out before it was taken (caught: refund, the order fails as OUT_OF_STOCK).
    OutOfStock => "OutOfStock",
    /// The payment gateway did not answer (retried).
    GatewayUnavailable => "PaymentGatewayUnavailable",
    /// The event store did not answer (retried).
    StoreUnavailable => "EventStoreUnavailable",
    /// The order's stream kept moving under the task (retried).
    ConcurrentModification => "ConcurrentModification",
    /// The customer asked to cancel the order (caught: the OrderFailed step cancels it,
    /// refunding a captured payment).
    OrderCancelled => "OrderCancelled",
    /// The order is not at this step: a bug or a message from the future (caught).
    OrderNotReady => "OrderNotReady",
    /// The task's input did not parse, or asked to write more than a transaction holds (caught).
    InvalidInput => "InvalidTaskInput",
    /// An event in the log did not decode (caught).
    CorruptEvent => "CorruptEvent",
    /// No task function by that name (caught). The name is Lambda's for an unknown function.
    UnknownFunction => "Lambda.ResourceNotFoundException",
}

impl TaskError {
    /// Whether the state machine retries this error.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::GatewayUnavailable(_)
                | Self::StoreUnavailable(_)
                | Self::ConcurrentModification(_)
        )
    }

    /// Parses a task's JSON input.
    pub fn parse_input(input: serde_json::Value) -> Result<super::TaskInput, Self> {
        serde_json::from_value(input).map_err(|e| Self::InvalidInput(e.to_string()))
    }
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::Conflict { .. } => Self::ConcurrentModification(message),
            StoreError::Unavailable(_) => Self::StoreUnavailable(message),
            StoreError::TooLarge { .. } => Self::InvalidInput(message),
            StoreError::Corrupt(_) => Self::CorruptEvent(message),
        }
    }
}

impl From<LoadError> for TaskError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(s) => s.into(),
            LoadError::Decode(d) => Self::CorruptEvent(d.to_string()),
        }
    }
}

impl From<OrderError> for TaskError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Cancelled => Self::OrderCancelled(e.to_string()),
            e => Self::OrderNotReady(e.to_string()),
        }
    }
}

impl From<ExecuteError> for TaskError {
    fn from(e: ExecuteError) -> Self {
        match e {
            ExecuteError::Load(l) => l.into(),
            ExecuteError::Refused(o) => o.into(),
        }
    }
}

#[cfg(test)]
#[path = "asl_tests.rs"]
mod asl_tests;
