//! Payload templates: `Parameters` and `ResultSelector`.
//!
//! A key ending in `.$` takes its value from a path (`$...`, `$$...`) or an
//! intrinsic function; the output key drops the `.$`. Everything else is
//! copied as written, recursing into nested objects and arrays.

use serde_json::{Map, Value};

use crate::errors::StateError;
use crate::intrinsic::Intrinsic;
use crate::path::ReferencePath;

/// A parsed payload template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Literal(Value),
    Path(ReferencePath),
    Intrinsic(Intrinsic),
}

impl Template {
    pub(crate) fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, value) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        if name.is_empty() {
                            return Err("field \".$\" has an empty name".to_owned());
                        }
                        // AWS rejects both spellings side by side: the output
                        // would have two values for one key.
                        if map.contains_key(name) {
                            return Err(format!("fields {name:?} and {key:?} collide"));
                        }
                        let Value::String(expression) = value else {
                            return Err(format!("field {key:?} must be a string"));
                        };
                        let dynamic = Self::dynamic(expression)
                            .map_err(|why| format!("field {key:?}: {why}"))?;
                        fields.push((name.to_owned(), dynamic));
                    } else {
                        fields.push((key.clone(), Self::parse(value)?));
                    }
                }
                Ok(Self::Object(fields))
            }
            Value::Array(items) => items
                .iter()
                .map(Self::parse)
                .collect::<Result<_, _>>()
                .map(Self::Array),
            other => Ok(Self::Literal(other.clone())),
        }
    }

    /// A path or intrinsic call (the value of a `.$` key, `ErrorPath`, ...).
    pub(crate) fn dynamic(expression: &str) -> Result<Self, String> {
        if expression.starts_with('$') {
            ReferencePath::parse(expression).map(Self::Path)
        } else if expression.starts_with("States.") {
            Intrinsic::parse(expression).map(Self::Intrinsic)
        } else {
            Err(format!(
                "{expression:?} is neither a path (`$...`) nor an intrinsic function (`States.…`)"
            ))
        }
    }

    /// Builds the payload from the state's `input` and the context object.
    pub(crate) fn evaluate(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        match self {
            Self::Object(fields) => {
                let mut out = Map::new();
                for (key, template) in fields {
                    out.insert(key.clone(), template.evaluate(input, context)?);
                }
                Ok(Value::Object(out))
            }
            Self::Array(items) => items
                .iter()
                .map(|item| item.evaluate(input, context))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Self::Literal(value) => Ok(value.clone()),
            Self::Path(path) => path.select(input, context).cloned().ok_or_else(|| {
                StateError::runtime(format!(
                    "the JSONPath {path} could not be found in the input {input}"
                ))
            }),
            Self::Intrinsic(call) => call.evaluate(input, context),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dynamic_keys_are_resolved_recursively() {
        let template = Template::parse(&json!({
            "FunctionName": "charge",
            "Payload": {
                "order.$": "$.order",
                "name.$": "$$.State.Name",
                "items": [{"sku.$": "$.sku"}, 1],
                "label.$": "States.Format('#{}', $.order.id)"
            }
        }))
        .expect("parses");
        let out = template
            .evaluate(
                &json!({"order": {"id": 7}, "sku": "A"}),
                &json!({"State": {"Name": "Charge"}}),
            )
            .expect("evaluates");
        assert_eq!(
            out,
            json!({
                "FunctionName": "charge",
                "Payload": {
                    "order": {"id": 7},
                    "name": "Charge",
                    "items": [{"sku": "A"}, 1],
                    "label": "#7"
                }
            })
        );
    }

    #[test]
    fn path_that_selects_nothing_is_a_runtime_error() {
        let template = Template::parse(&json!({"x.$": "$.missing"})).expect("parses");
        let err = template
            .evaluate(&json!({}), &json!({}))
            .expect_err("missing");
        assert_eq!(err.error, "States.Runtime");
    }

    #[test]
    fn rejects_bad_dynamic_values() {
        for bad in [
            json!({"x.$": 3}),
            json!({"x.$": "plain"}),
            json!({"x.$": "$.a", "x": 1}),
            json!({"x.$": "States.Nope()"}),
        ] {
            assert!(Template::parse(&bad).is_err(), "{bad} should be rejected");
        }
    }
}
