//! JSON text → `serde_json::Value`, refusing an object that repeats a key.
//!
//! serde_json keeps the last of two equal keys; other readers (API Gateway's request validator
//! among them) may keep the first. A body with a repeated key could then mean one order to the
//! edge and another to the function, so it is refused outright, at any depth. The check rides
//! on the one parse the body needs anyway: one map lookup per key, and the path to the repeated
//! key is only assembled when there is one.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// Why the text could not become a tree.
#[derive(Debug)]
pub enum StrictError {
    /// Not JSON at all (syntax, invalid UTF-8, trailing characters, nesting too deep).
    Malformed(serde_json::Error),
    /// An object repeats a key; `path` names it as the API names fields (`items[0].productId`).
    DuplicateKey { path: String },
}

/// Parses `bytes` as one JSON value in which no object repeats a key.
pub fn parse(bytes: &[u8]) -> Result<Value, StrictError> {
    let trail = Trail::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Node(&trail)
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => match trail.take() {
            Some(path) => Err(StrictError::DuplicateKey { path }),
            None => Err(StrictError::Malformed(e)),
        },
    }
}

/// One step from an object or array to what it holds.
enum Step {
    Key(String),
    Index(usize),
}

/// Where the repeated key was found, filled innermost first while the error unwinds, so the
/// normal path never builds a path at all.
#[derive(Default)]
struct Trail {
    found: Cell<bool>,
    steps: RefCell<Vec<Step>>,
}

impl Trail {
    fn duplicate(&self, key: &str) {
        self.found.set(true);
        self.steps.borrow_mut().push(Step::Key(key.to_owned()));
    }

    fn unwind(&self, step: impl FnOnce() -> Step) {
        if self.found.get() {
            self.steps.borrow_mut().push(step());
        }
    }

    /// The repeated key's path, if the error was one.
    fn take(&self) -> Option<String> {
        if !self.found.get() {
            return None;
        }
        let mut path = String::new();
        for step in self.steps.borrow().iter().rev() {
            match step {
                Step::Key(key) if path.is_empty() => path.push_str(key),
                Step::Key(key) => {
                    path.push('.');
                    path.push_str(key);
                }
                Step::Index(i) => {
                    let _ = write!(path, "[{i}]");
                }
            }
        }
        Some(path)
    }
}

/// Any JSON value, built as serde_json builds its own `Value`, with maps checked for repeats.
#[derive(Clone, Copy)]
struct Node<'t>(&'t Trail);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // What serde_json's own Value does: a number JSON cannot hold becomes null.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        loop {
            let index = items.len();
            match seq.next_element_seed(self) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => {
                    self.0.unwind(|| Step::Index(index));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match map.entry(key) {
                Entry::Occupied(seen) => {
                    self.0.duplicate(seen.key());
                    return Err(de::Error::custom(format_args!(
                        "duplicate key `{}`",
                        seen.key()
                    )));
                }
                Entry::Vacant(slot) => match access.next_value_seed(self) {
                    Ok(value) => {
                        slot.insert(value);
                    }
                    Err(e) => {
                        self.0.unwind(|| Step::Key(slot.key().clone()));
                        return Err(e);
                    }
                },
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(text: &str) -> Option<String> {
        match parse(text.as_bytes()) {
            Err(StrictError::DuplicateKey { path }) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn a_body_without_repeats_parses_to_the_same_tree_as_serde_json() {
        let text = r#"{"a":[1,-2,3.5,1e300,true,null,"x\u00e9"],"b":{"c":{}},"d":[]}"#;
        let strict = parse(text.as_bytes()).unwrap();
        let plain: Value = serde_json::from_str(text).unwrap();
        assert_eq!(strict, plain);
    }

    #[test]
    fn a_repeated_key_is_named_by_its_path_at_any_depth() {
        assert_eq!(
            duplicate(r#"{"customerId":"a","customerId":"b"}"#).as_deref(),
            Some("customerId")
        );
        assert_eq!(
            duplicate(r#"{"items":[{"productId":"A","quantity":1},{"quantity":1,"quantity":2}]}"#)
                .as_deref(),
            Some("items[1].quantity")
        );
        assert_eq!(
            duplicate(r#"[[0,{"a":{"b":1,"b":1}}]]"#).as_deref(),
            Some("[0][1].a.b")
        );
        // The same key in two objects is no repeat; an escaped spelling of a key is.
        assert!(parse(br#"[{"a":1},{"a":2}]"#).is_ok());
        assert_eq!(duplicate(r#"{"a":1,"\u0061":2}"#).as_deref(), Some("a"));
    }

    #[test]
    fn broken_json_is_malformed_not_a_repeat() {
        for text in [
            &b"{\"a\":"[..],
            b"{\"a\":1} x",
            b"",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":[1,}",
        ] {
            assert!(
                matches!(parse(text), Err(StrictError::Malformed(_))),
                "{text:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(StrictError::Malformed(_))
        ));
    }
}
