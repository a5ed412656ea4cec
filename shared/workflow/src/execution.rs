//! What the caller supplies to run states and what it gets back.

use std::future::Future;

use serde_json::Value;

use crate::errors::StateError;

/// A Task's failure as the invoker reports it: `error` is matched against
/// `ErrorEquals` in `Retry` and `Catch`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    /// The error name, e.g. `Lambda.ServiceException` or `OutOfStock`.
    pub error: String,
    /// A human-readable explanation.
    pub cause: String,
}

impl TaskFailure {
    /// A failure with the given error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

impl From<TaskFailure> for StateError {
    fn from(failure: TaskFailure) -> Self {
        Self::new(failure.error, failure.cause)
    }
}

/// Runs Task resources; the caller maps each `Resource` (e.g.
/// `arn:aws:states:::lambda:invoke`) to a local handler.
pub trait TaskInvoker: Send + Sync {
    /// Runs a Task's Resource with its effective input (after `InputPath`
    /// and `Parameters`).
    fn invoke(
        &self,
        resource: &str,
        input: Value,
    ) -> impl Future<Output = Result<Value, TaskFailure>> + Send;
}

/// The execution-level part of the context object (`$$`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionContext {
    /// `$$.Execution.Id`.
    pub execution_id: String,
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// `$$.StateMachine.Name`.
    pub state_machine_name: String,
    /// `$$.Execution.StartTime`, RFC 3339.
    pub start_time: String,
}

/// How to run states.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// Multiplies every Retry and Wait delay: 1.0 is real time, 0.0 (as
    /// tests use) does not wait at all. Task `TimeoutSeconds` is not scaled.
    pub interval_scale: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            interval_scale: 1.0,
        }
    }
}

/// Where a state leads.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Go on to `state` with `output` as its input.
    Next {
        /// The next state's name.
        state: String,
        /// The completed state's output.
        output: Value,
    },
    /// The execution succeeded with `output`.
    Succeeded {
        /// The execution's output.
        output: Value,
    },
    /// The execution failed.
    Failed {
        /// The error name (e.g. `States.Timeout`).
        error: String,
        /// A human-readable explanation.
        cause: String,
    },
}

impl From<StateError> for Transition {
    fn from(failure: StateError) -> Self {
        Self::Failed {
            error: failure.error,
            cause: failure.cause,
        }
    }
}
