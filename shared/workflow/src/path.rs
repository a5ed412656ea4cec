//! Reference paths (`$`, `$.a.b`, `$.a[0]`, `$['a b']`, `$$.State.Name`):
//! parsing, reading a value, and writing one (for `ResultPath`).
//!
//! Only reference paths are supported, not full `JSONPath`: a definition that
//! uses wildcards, filters or slices is rejected when it is parsed, rather
//! than behaving differently here than in AWS.

use std::fmt;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Field(String),
    Index(usize),
}

/// A parsed reference path. `$$` paths read the context object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReferencePath {
    text: String,
    context: bool,
    segments: Vec<Segment>,
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ReferencePath {
    /// `$`: the whole input.
    pub(crate) fn root() -> Self {
        Self {
            text: "$".to_owned(),
            context: false,
            segments: Vec::new(),
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (context, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("path {text:?} must start with `$`"));
        };
        let chars: Vec<char> = rest.chars().collect();
        let unsupported =
            |what: &str| format!("path {text:?}: {what} (only reference paths are supported)");
        let mut segments = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && chars[end] != '.' && chars[end] != '[' {
                        end += 1;
                    }
                    let name: String = chars[start..end].iter().collect();
                    if name.is_empty() {
                        return Err(unsupported("empty field name or `..`"));
                    }
                    if name == "*" {
                        return Err(unsupported("wildcard `*`"));
                    }
                    segments.push(Segment::Field(name));
                    i = end;
                }
                '[' => {
                    let (segment, next) = parse_bracket(&chars, i + 1).ok_or_else(|| {
                        unsupported("bracket must hold an index or a quoted name")
                    })?;
                    segments.push(segment);
                    i = next;
                }
                other => return Err(unsupported(&format!("unexpected character {other:?}"))),
            }
        }
        Ok(Self {
            text: text.to_owned(),
            context,
            segments,
        })
    }

    /// Whether this path reads the context object (`$$...`).
    pub(crate) fn is_context(&self) -> bool {
        self.context
    }

    /// Whether this is `$`: the whole input.
    pub(crate) fn is_root(&self) -> bool {
        !self.context && self.segments.is_empty()
    }

    /// The value the path selects, or `None` when it selects nothing.
    pub(crate) fn select<'a>(&self, input: &'a Value, context: &'a Value) -> Option<&'a Value> {
        let mut current = if self.context { context } else { input };
        for segment in &self.segments {
            current = match segment {
                Segment::Field(name) => current.as_object()?.get(name)?,
                Segment::Index(index) => current.as_array()?.get(*index)?,
            };
        }
        Some(current)
    }

    /// Whether [`Self::insert`] into `target` would succeed, whatever the value.
    pub(crate) fn fits(&self, target: &Value) -> bool {
        fits_at(Some(target), &self.segments)
    }

    /// Puts `value` at this path inside `target`, creating missing
    /// intermediate objects (as `ResultPath` does). Fails when an existing
    /// intermediate value is not an object or array of the right kind.
    pub(crate) fn insert(&self, mut target: Value, value: Value) -> Result<Value, String> {
        insert_at(&mut target, &self.segments, value)
            .map_err(|why| format!("cannot apply path {}: {why}", self.text))?;
        Ok(target)
    }
}

/// Whether [`insert_at`] would succeed on `target`, decided without changing it: the same
/// walk, where a missing field is a new empty object.
fn fits_at(target: Option<&Value>, segments: &[Segment]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return true;
    };
    match (first, target) {
        // A missing field becomes `{}`: its fields fit, its indexes do not (the last arm).
        (Segment::Field(_), None) => fits_at(None, rest),
        (Segment::Field(name), Some(Value::Object(object))) => {
            rest.is_empty() || fits_at(object.get(name), rest)
        }
        (Segment::Index(index), Some(Value::Array(items))) => items
            .get(*index)
            .is_some_and(|item| fits_at(Some(item), rest)),
        _ => false,
    }
}

/// Parses what follows a `[`: `0]`, `'name']` or `"name"]`. Returns the
/// segment and the index just after the `]`.
fn parse_bracket(chars: &[char], start: usize) -> Option<(Segment, usize)> {
    let first = *chars.get(start)?;
    if first == '\'' || first == '"' {
        let mut name = String::new();
        let mut i = start + 1;
        loop {
            match *chars.get(i)? {
                '\\' => {
                    name.push(*chars.get(i + 1)?);
                    i += 2;
                }
                c if c == first => break,
                c => {
                    name.push(c);
                    i += 1;
                }
            }
        }
        (chars.get(i + 1) == Some(&']')).then(|| (Segment::Field(name), i + 2))
    } else {
        let end = start + chars[start..].iter().position(|c| *c == ']')?;
        let digits: String = chars[start..end].iter().collect();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let index = digits.parse().ok()?;
        Some((Segment::Index(index), end + 1))
    }
}

fn insert_at(target: &mut Value, segments: &[Segment], value: Value) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        *target = value;
        return Ok(());
    };
    let slot = match first {
        Segment::Field(name) => {
            let object = target
                .as_object_mut()
                .ok_or_else(|| format!("field {name:?} of a value that is not an object"))?;
            if rest.is_empty() {
                object.insert(name.clone(), value);
                return Ok(());
            }
            object
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()))
        }
        Segment::Index(index) => target
            .as_array_mut()
            .ok_or_else(|| format!("index {index} of a value that is not an array"))?
            .get_mut(*index)
            .ok_or_else(|| format!("index {index} is out of bounds"))?,
    };
    insert_at(slot, rest, value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(text: &str) -> ReferencePath {
        ReferencePath::parse(text).expect("valid path")
    }

    #[test]
    fn selects_fields_indexes_and_quoted_names() {
        let input = json!({"a": {"b": [10, {"c d": "x"}]}});
        let none = Value::Null;
        assert_eq!(path("$").select(&input, &none), Some(&input));
        assert_eq!(path("$.a.b[0]").select(&input, &none), Some(&json!(10)));
        assert_eq!(
            path("$.a.b[1]['c d']").select(&input, &none),
            Some(&json!("x"))
        );
        assert_eq!(
            path("$.a[\"b\"][0]").select(&input, &none),
            Some(&json!(10))
        );
        assert_eq!(path("$.a.missing").select(&input, &none), None);
        assert_eq!(path("$.a.b[5]").select(&input, &none), None);
    }

    #[test]
    fn context_paths_read_the_context_object() {
        let context = json!({"State": {"Name": "Charge"}});
        let p = path("$$.State.Name");
        assert!(p.is_context());
        assert_eq!(p.select(&json!({}), &context), Some(&json!("Charge")));
    }

    #[test]
    fn rejects_syntax_that_is_not_a_reference_path() {
        for bad in [
            "a.b",
            "$..a",
            "$.a[*]",
            "$.a[0:2]",
            "$.a[?(@.x)]",
            "$.",
            "$a",
            "$.a['b",
        ] {
            assert!(
                ReferencePath::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn insert_creates_missing_intermediate_objects() {
        let out = path("$.a.b.c")
            .insert(json!({"keep": 1}), json!(true))
            .expect("insert");
        assert_eq!(out, json!({"keep": 1, "a": {"b": {"c": true}}}));
    }

    #[test]
    fn fits_says_exactly_whether_insert_succeeds() {
        let targets = [
            json!({}),
            json!({"x": "text"}),
            json!({"x": [0, {"y": 1}]}),
            json!({"x": {"y": [1]}}),
            json!([1, 2]),
            json!("text"),
            Value::Null,
        ];
        let paths = [
            "$",
            "$.x",
            "$.x.y",
            "$.x.y.z",
            "$.x[0]",
            "$.x[1].y",
            "$.x[1].y.z",
            "$.x[2]",
            "$.x.y[0]",
            "$.x.y[1]",
            "$.new.deep",
            "$.new[0]",
            "$[0]",
            "$[5]",
        ];
        for target in &targets {
            for text in paths {
                let p = path(text);
                assert_eq!(
                    p.fits(target),
                    p.insert(target.clone(), json!(7)).is_ok(),
                    "{text} into {target}"
                );
            }
        }
    }

    #[test]
    fn insert_at_root_replaces_and_into_a_scalar_fails() {
        assert_eq!(path("$").insert(json!({"x": 1}), json!(2)), Ok(json!(2)));
        assert!(
            path("$.x.y")
                .insert(json!({"x": "text"}), json!(2))
                .is_err()
        );
        assert!(path("$.x").insert(json!("text"), json!(2)).is_err());
        assert_eq!(
            path("$.x[1]").insert(json!({"x": [0, 0]}), json!(5)),
            Ok(json!({"x": [0, 5]}))
        );
        assert!(
            path("$.x[2]")
                .insert(json!({"x": [0, 0]}), json!(5))
                .is_err()
        );
    }
}
