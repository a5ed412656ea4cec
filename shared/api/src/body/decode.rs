//! JSON text → a body struct, the one way every route reads a body: strictly (a repeated key,
//! a struct written as an array, an unknown field are all refused), with every problem named by
//! the field it is about, as the API names fields (`items[2].quantity`).

use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::strict;
use crate::error::ApiError;

/// Parses `bytes` as a `T`. Syntax errors (including invalid UTF-8) are MALFORMED_JSON; a body
/// that is not an object, a line of `items` that is not one, a wrong type, a missing, unknown
/// or repeated field is INVALID_FIELD naming it.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Parse to a JSON tree first: serde would otherwise accept a struct written as an array.
    // The tree refuses a repeated key, which serde_json alone would resolve to the last one.
    let value = strict::parse(bytes).map_err(|e| match e {
        strict::StrictError::Malformed(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("the body is not valid JSON: {e}"),
        ),
        strict::StrictError::DuplicateKey { path } => {
            let message = format!("{path} appears twice in one object; give each key once");
            ApiError::invalid(path, message)
        }
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    if let Some(items) = value.get("items").and_then(serde_json::Value::as_array)
        && let Some(i) = items.iter().position(|item| !item.is_object())
    {
        return Err(ApiError::invalid(
            format!("items[{i}]"),
            "must be an object with productId and quantity",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        // serde's path already ends at an unknown field, but stops before a missing one.
        let named = msg
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match named {
            Some(name) => join(&path, name),
            None if path == "." => "body".to_owned(),
            None => path,
        };
        ApiError::invalid(field, msg)
    })
}

/// An optional field that, when given, is a string: `null` is a wrong type, not an absence
/// (the schema says string, and a client sending null most likely meant something).
pub fn present_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// `field` joined to the serde path it was found under.
fn join(path: &str, field: &str) -> String {
    if path.is_empty() || path == "." {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}
