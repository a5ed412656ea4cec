//! Typed access to the fields of one JSON object in a definition, with
//! errors that say where the problem is (`States.Charge.Retry[0]`).

use serde_json::{Map, Value};

use crate::definition::DefinitionError;
use crate::path::ReferencePath;
use crate::template::Template;

/// Largest value AWS accepts for the integer timing fields.
const MAX_SECONDS: u64 = 99_999_999;

/// Fields AWS knows but this interpreter does not implement. Naming them
/// gives a clearer error than "unknown field".
const UNSUPPORTED: &[&str] = &[
    "Arguments",
    "Assign",
    "Branches",
    "Condition",
    "Credentials",
    "HeartbeatSecondsPath",
    "ItemProcessor",
    "ItemReader",
    "ItemSelector",
    "Items",
    "ItemsPath",
    "Iterator",
    "MaxConcurrency",
    "Output",
    "ResultWriter",
    "TimeoutSecondsPath",
    "Timestamp",
    "TimestampPath",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];

pub(crate) struct Fields<'a> {
    location: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(
        value: &'a Value,
        location: impl Into<String>,
    ) -> Result<Self, DefinitionError> {
        let location = location.into();
        match value {
            Value::Object(map) => Ok(Self { location, map }),
            _ => Err(DefinitionError::Invalid {
                location,
                message: "must be a JSON object".to_owned(),
            }),
        }
    }

    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// A location for a nested element, e.g. `States.A.Retry[0]`.
    pub(crate) fn child(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.location)
    }

    pub(crate) fn error(&self, field: &str, message: impl Into<String>) -> DefinitionError {
        DefinitionError::Invalid {
            location: self.child(field),
            message: message.into(),
        }
    }

    pub(crate) fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field)
    }

    pub(crate) fn keys_and_values(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.map.iter()
    }

    /// Fails on the first field not in `allowed`.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), DefinitionError> {
        match self.map.keys().find(|key| !allowed.contains(&key.as_str())) {
            None => Ok(()),
            Some(key) if UNSUPPORTED.contains(&key.as_str()) => {
                Err(self.error(key, "is not supported by this interpreter"))
            }
            Some(key) => Err(self.error(key, "is not a field this object can have")),
        }
    }

    pub(crate) fn string(&self, field: &str) -> Result<Option<&'a str>, DefinitionError> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.error(field, "must be a string")),
        }
    }

    pub(crate) fn required_string(&self, field: &str) -> Result<&'a str, DefinitionError> {
        self.string(field)?
            .ok_or_else(|| self.error(field, "is required"))
    }

    pub(crate) fn bool(&self, field: &str) -> Result<Option<bool>, DefinitionError> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(self.error(field, "must be true or false")),
        }
    }

    /// A non-negative integer no larger than AWS allows.
    pub(crate) fn seconds(&self, field: &str) -> Result<Option<u32>, DefinitionError> {
        match self.map.get(field) {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .filter(|n| *n <= MAX_SECONDS)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    self.error(field, format!("must be an integer from 0 to {MAX_SECONDS}"))
                }),
        }
    }

    pub(crate) fn number(&self, field: &str) -> Result<Option<f64>, DefinitionError> {
        match self.map.get(field) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.error(field, "must be a number")),
        }
    }

    /// A reference path that may not be `null`.
    pub(crate) fn path(&self, field: &str) -> Result<Option<ReferencePath>, DefinitionError> {
        self.string(field)?
            .map(|text| ReferencePath::parse(text).map_err(|why| self.error(field, why)))
            .transpose()
    }

    /// `InputPath` / `OutputPath` / `ResultPath`: absent means `$`, `null`
    /// means "none" (returned as `None`).
    pub(crate) fn nullable_path(
        &self,
        field: &str,
    ) -> Result<Option<ReferencePath>, DefinitionError> {
        match self.map.get(field) {
            None => Ok(Some(ReferencePath::root())),
            Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => ReferencePath::parse(text)
                .map(Some)
                .map_err(|why| self.error(field, why)),
            Some(_) => Err(self.error(field, "must be a path string or null")),
        }
    }

    /// `ResultPath`: like [`Self::nullable_path`], but it writes, so it can
    /// not point into the context object.
    pub(crate) fn result_path(&self) -> Result<Option<ReferencePath>, DefinitionError> {
        let path = self.nullable_path("ResultPath")?;
        if path.as_ref().is_some_and(ReferencePath::is_context) {
            return Err(self.error("ResultPath", "cannot write to the context object ($$)"));
        }
        Ok(path)
    }

    pub(crate) fn template(&self, field: &str) -> Result<Option<Template>, DefinitionError> {
        self.map
            .get(field)
            .map(|value| Template::parse(value).map_err(|why| self.error(field, why)))
            .transpose()
    }

    /// A path or intrinsic given as a string (`ErrorPath`, `CausePath`).
    pub(crate) fn dynamic(&self, field: &str) -> Result<Option<Template>, DefinitionError> {
        self.string(field)?
            .map(|text| Template::dynamic(text).map_err(|why| self.error(field, why)))
            .transpose()
    }

    /// A non-empty array of error names (`ErrorEquals`). `States.ALL` must
    /// be the only name when present.
    pub(crate) fn error_equals(&self) -> Result<Vec<String>, DefinitionError> {
        let names = match self.map.get("ErrorEquals") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        }
        .ok_or_else(|| self.error("ErrorEquals", "must be a non-empty array of strings"))?;
        if names.len() > 1 && names.iter().any(|name| name == crate::errors::ALL) {
            return Err(self.error("ErrorEquals", "States.ALL must be the only error name"));
        }
        Ok(names)
    }
}
