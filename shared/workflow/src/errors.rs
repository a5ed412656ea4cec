//! Error names the interpreter itself raises or treats specially, and the
//! internal error value a state reports.

/// Matches any error except [`RUNTIME`]; must stand alone and last.
pub const ALL: &str = "States.ALL";
/// Matches any error except [`TIMEOUT`] (and [`RUNTIME`]).
pub const TASK_FAILED: &str = "States.TaskFailed";
/// A Task ran longer than its `TimeoutSeconds`.
pub const TIMEOUT: &str = "States.Timeout";
/// The execution cannot go on (a path selected nothing, bad intrinsic input,
/// ...). Never retried, never caught.
pub const RUNTIME: &str = "States.Runtime";
/// A Choice state matched no rule and has no `Default`.
pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// `ResultPath` could not be applied to the state's input.
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";

/// An error a state reports: a name matched against `ErrorEquals` and a
/// human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateError {
    pub(crate) error: String,
    pub(crate) cause: String,
}

impl StateError {
    pub(crate) fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    pub(crate) fn runtime(cause: impl Into<String>) -> Self {
        Self::new(RUNTIME, cause)
    }
}
