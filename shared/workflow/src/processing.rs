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

/// [`input`] for a caller that owns the raw input and keeps nothing of it: the default `$`
/// hands it on as it is, uncopied.
pub(crate) fn input_owned(
    filters: &Filters,
    raw: Value,
    context: &Value,
) -> Result<Value, StateError> {
    filter_owned(filters.input_path.as_ref(), "InputPath", raw, context)
}

/// The state output: `value` filtered by `OutputPath`; the default `$` hands `value` on as it
/// is, uncopied.
pub(crate) fn output(
    filters: &Filters,
    value: Value,
    context: &Value,
) -> Result<Value, StateError> {
    filter_owned(filters.output_path.as_ref(), "OutputPath", value, context)
}

/// [`filter`] of an owned value: the root path hands it on as it is.
fn filter_owned(
    path: Option<&ReferencePath>,
    field: &str,
    value: Value,
    context: &Value,
) -> Result<Value, StateError> {
    match path {
        Some(path) if path.is_root() => Ok(value),
        path => filter(path, field, &value, context).map(Cow::into_owned),
    }
}

/// Places `result` into a copy of the raw input at `ResultPath`; a `null`
/// `ResultPath` (`None`) discards the result and keeps the input.
pub(crate) fn result(
    path: Option<&ReferencePath>,
    raw: &Value,
    result: Value,
) -> Result<Value, StateError> {
    result_in_place(path, raw.clone(), result)
}

/// [`result`] into the raw input itself, for a caller that needs it no more.
pub(crate) fn result_in_place(
    path: Option<&ReferencePath>,
    raw: Value,
    result: Value,
) -> Result<Value, StateError> {
    match path {
        None => Ok(raw),
        Some(path) => path
            .insert(raw, result)
            .map_err(|why| StateError::new(RESULT_PATH_MATCH_FAILURE, why)),
    }
}

/// Whether `ResultPath` into `raw` and then `OutputPath` are sure to succeed, whatever the
/// result: then a task's attempt cannot fail after its invocation, and its input is not
/// needed again.
pub(crate) fn cannot_fail(filters: &Filters, path: Option<&ReferencePath>, raw: &Value) -> bool {
    let output_is_total = filters
        .output_path
        .as_ref()
        .is_none_or(ReferencePath::is_root);
    output_is_total && path.is_none_or(|path| path.fits(raw))
}
