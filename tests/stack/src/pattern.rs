//! Event patterns as Lambda's filter criteria and EventBridge apply them: an object names
//! fields to descend into; an array lists what a field may be (a value, or an operator such as
//! `{"prefix": "order#"}`); a field that is an array matches if any element does. An operator
//! this module does not know is an error, never a silent match, so a new filter in the
//! template cannot slip past the harness.

use serde_json::Value;

/// A pattern the harness cannot apply.
#[derive(Debug, Clone, thiserror::Error)]
#[error("event pattern {pattern}: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// A parsed event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    root: Value,
}

impl Pattern {
    /// Parses a pattern (JSON text), checking every operator is one this module applies.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let err = |reason: String| PatternError {
            pattern: text.to_owned(),
            reason,
        };
        let root: Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        if !root.is_object() {
            return Err(err("a pattern is a JSON object".into()));
        }
        check(&root).map_err(err)?;
        Ok(Self {
            text: text.to_owned(),
            root,
        })
    }

    /// The pattern's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        matches_object(&self.root, event)
    }
}

const OPERATORS: [&str; 5] = [
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "equals-ignore-case",
];

fn check(pattern: &Value) -> Result<(), String> {
    match pattern {
        Value::Object(fields) => fields.values().try_for_each(check),
        Value::Array(allowed) => allowed.iter().try_for_each(|a| match a {
            Value::Object(op) => match op.keys().next().map(String::as_str) {
                Some(name) if op.len() == 1 && OPERATORS.contains(&name) => Ok(()),
                _ => Err(format!("unsupported operator {a}")),
            },
            Value::Array(_) => Err(format!("nested array {a}")),
            _ => Ok(()),
        }),
        other => Err(format!(
            "a field's pattern is an object or an array, not {other}"
        )),
    }
}

fn matches_object(pattern: &Value, event: &Value) -> bool {
    let Value::Object(fields) = pattern else {
        return false;
    };
    fields.iter().all(|(name, p)| {
        let value = event.get(name);
        match p {
            Value::Object(_) => value.is_some_and(|v| matches_object(p, v)),
            Value::Array(allowed) => allowed.iter().any(|a| matches_field(a, value)),
            _ => false,
        }
    })
}

fn matches_field(allowed: &Value, value: Option<&Value>) -> bool {
    if let Value::Object(op) = allowed
        && let Some(exists) = op.get("exists")
    {
        return exists.as_bool() == Some(value.is_some());
    }
    match value {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|v| matches_scalar(allowed, v)),
        Some(v) => matches_scalar(allowed, v),
    }
}

fn matches_scalar(allowed: &Value, value: &Value) -> bool {
    let Value::Object(op) = allowed else {
        return allowed == value;
    };
    let text = value.as_str();
    if let Some(prefix) = op.get("prefix").and_then(Value::as_str) {
        return text.is_some_and(|t| t.starts_with(prefix));
    }
    if let Some(suffix) = op.get("suffix").and_then(Value::as_str) {
        return text.is_some_and(|t| t.ends_with(suffix));
    }
    if let Some(other) = op.get("equals-ignore-case").and_then(Value::as_str) {
        return text.is_some_and(|t| t.eq_ignore_ascii_case(other));
    }
    if let Some(but) = op.get("anything-but") {
        return match but {
            Value::Array(list) => !list.contains(value),
            Value::Object(_) => !matches_scalar(but, value),
            single => single != value,
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_templates_filters_select_what_their_comments_say() {
        let orders = Pattern::parse(
            r#"{"eventName":["INSERT"],"dynamodb":{"NewImage":{"streamId":{"S":[{"prefix":"order#"}]}}}}"#,
        )
        .unwrap();
        let record = |name: &str, stream: &str| json!({"eventName": name, "dynamodb": {"NewImage": {"streamId": {"S": stream}}}});
        assert!(orders.matches(&record("INSERT", "order#01J")));
        assert!(!orders.matches(&record("INSERT", "product#MUG")));
        assert!(!orders.matches(&record("MODIFY", "order#01J")));
        let terminal = Pattern::parse(
            r#"{"dynamodb":{"NewImage":{"eventType":{"S":["OrderCompleted","OrderFailed"]}}}}"#,
        )
        .unwrap();
        let typed = |t: &str| json!({"dynamodb": {"NewImage": {"eventType": {"S": t}}}});
        assert!(terminal.matches(&typed("OrderFailed")));
        assert!(!terminal.matches(&typed("OrderPaid")));
    }

    #[test]
    fn operators_and_arrays() {
        let p = Pattern::parse(
            r#"{"a":[{"anything-but":["x"]}],"b":[{"exists":false}],"c":[{"suffix":".png"}]}"#,
        )
        .unwrap();
        assert!(p.matches(&json!({"a": "y", "c": ["z.png", "q"]})));
        assert!(!p.matches(&json!({"a": "x", "c": "z.png"})));
        assert!(!p.matches(&json!({"a": "y", "b": 1, "c": "z.png"})));
    }

    #[test]
    fn an_unknown_operator_is_refused() {
        assert!(Pattern::parse(r#"{"a":[{"numeric":[">",1]}]}"#).is_err());
        assert!(Pattern::parse(r#"{"a":"x"}"#).is_err());
    }
}
