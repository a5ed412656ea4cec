//! Input and output processing shared by the state types: `InputPath`,
//! `ResultPath` and `OutputPath`.

use serde_json::{Map, Value};

use crate::errors::{RESULT_PATH_MATCH_FAILURE, StateError};
use crate::path::ReferencePath;
use crate::state::Filters;

/// Applies a read filter; a `null` filter (`None`) yields `{}`.
fn filter(
    path: Option<&ReferencePath>,
    field: &str,
    value: &Value,
    context: &Value,
) -> Result<Value, StateError> {
    match path {
        None => Ok(Value::Object(Map::new())),
        Some(path) => path.select(value, context).cloned().ok_or_else(|| {
            StateError::runtime(format!(
                "Invalid path {path} in {field}: it selects nothing in {value}"
            ))
        }),
    }
}

/// The effective input: the raw input filtered by `InputPath`.
pub(crate) fn input(filters: &Filters, raw: &Value, context: &Value) -> Result<Value, StateError> {
    filter(filters.input_path.as_ref(), "InputPath", raw, context)
}

/// The state output: `value` filtered by `OutputPath`.
pub(crate) fn output(
    filters: &Filters,
    value: &Value,
    context: &Value,
) -> Result<Value, StateError> {
    filter(filters.output_path.as_ref(), "OutputPath", value, context)
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
