//! Input and output processing shared by the state types: `InputPath`,
//! `ResultPath` and `OutputPath`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::errors::{RESULT_PATH_MATCH_FAILURE, StateError};
use crate::path::ReferencePath;
use crate::state::Filters;

/// Applies a read filter, borrowing what it selects; a `null` filter (`None`) yields `{}`.
fn filter<'a>(
    path: Option<&ReferencePath>,
    field: &str,
    value: &'a Value,
    context: &'a Value,
) -> Result<Cow<'a, Value>, StateError> {
    match path {
        None => Ok(Cow::Owned(Value::Object(Map::new()))),
        Some(path) => path
            .select(value, context)
            .map(Cow::Borrowed)
            .ok_or_else(|| {
                StateError::runtime(format!(
                    "Invalid path {path} in {field}: it selects nothing in {value}"
                ))
            }),
    }
}

/// The effective input: the raw input filtered by `InputPath`, borrowed from it (a state
/// whose `Parameters` build a new value never copies its input).
pub(crate) fn input<'a>(
    filters: &Filters,
    raw: &'a Value,
    context: &'a Value,
) -> Result<Cow<'a, Value>, StateError> {
    filter(filters.input_path.as_ref(), "InputPath", raw, context)
}

/// The state output: `value` filtered by `OutputPath`; the default `$` hands `value` on as it
/// is, uncopied.
pub(crate) fn output(
    filters: &Filters,
    value: Value,
    context: &Value,
) -> Result<Value, StateError> {
    match filters.output_path.as_ref() {
        Some(path) if path.is_root() => Ok(value),
        path => filter(path, "OutputPath", &value, context).map(Cow::into_owned),
    }
}

/// Places `result` into the raw input at `ResultPath`; a `null`
/// `ResultPath` (`None`) discards the result and keeps the input.
pub(crate) fn result(
    path: Option<&ReferencePath>,
    raw: &Value,
    result: Value,
) -> Result<Value, StateError> {
    match path {
        None => Ok(raw.clone()),
        Some(path) => path
            .insert(raw.clone(), result)
            .map_err(|why| StateError::new(RESULT_PATH_MATCH_FAILURE, why)),
    }
}
