//! `${Name}` placeholders, replaced like `CloudFormation`'s
//! `DefinitionSubstitutions` so the same definition text runs locally.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::definition::DefinitionError;

/// One piece of a string: literal text or a placeholder name.
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Characters a placeholder name may contain. Anything else after `${` is
/// left as text, so `JSONPath` or intrinsic syntax is never mistaken for one.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !is_name_char(c))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            out.push(Piece::Text(&rest[..start]));
            out.push(Piece::Placeholder(&after[..name_len]));
            rest = &after[name_len + 1..];
        } else {
            out.push(Piece::Text(&rest[..start + 2]));
            rest = after;
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// Every placeholder name used anywhere in `text`.
pub(crate) fn placeholders(text: &str) -> BTreeSet<String> {
    pieces(text)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Placeholder(name) => Some(name.to_owned()),
            Piece::Text(_) => None,
        })
        .collect()
}

fn substitute_str(
    text: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, DefinitionError> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(name) => out.push_str(
                values
                    .get(name)
                    .ok_or_else(|| DefinitionError::UnknownPlaceholder(name.to_owned()))?,
            ),
        }
    }
    Ok(out)
}

/// Replaces placeholders in every string (keys included) of a parsed
/// definition. Done on parsed JSON, not on the text, so a value containing
/// quotes cannot break the document.
pub(crate) fn substitute(
    value: Value,
    values: &BTreeMap<String, String>,
) -> Result<Value, DefinitionError> {
    Ok(match value {
        Value::String(text) => Value::String(substitute_str(&text, values)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| substitute(item, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                out.insert(substitute_str(&key, values)?, substitute(item, values)?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_placeholders_but_not_paths_or_lone_dollars() {
        let found = placeholders(
            r#"{"a": "${One}", "b": "x${Two_2}y${One}", "c": "$.x", "d": "${", "e": "${bad name}"}"#,
        );
        assert_eq!(
            found,
            BTreeSet::from(["One".to_owned(), "Two_2".to_owned()])
        );
    }

    #[test]
    fn substitutes_values_and_keys() {
        let values = BTreeMap::from([("Fn".to_owned(), "arn:fn".to_owned())]);
        let out = substitute(json!({"${Fn}": ["a ${Fn} b", 1]}), &values).expect("substitutes");
        assert_eq!(out, json!({"arn:fn": ["a arn:fn b", 1]}));
    }

    #[test]
    fn unknown_placeholder_is_named_in_the_error() {
        let err = substitute(json!({"a": "${Missing}"}), &BTreeMap::new()).expect_err("unknown");
        assert_eq!(
            err,
            DefinitionError::UnknownPlaceholder("Missing".to_owned())
        );
    }
}
