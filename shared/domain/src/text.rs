//! Values written as JSON strings, decoded without a `String` on the way.

use std::fmt;

use serde::Deserializer;

/// Deserializes a value written as a JSON string by parsing the text where the deserializer
/// holds it: no `String` is made on the way (decoding an event's ids and timestamps was a
/// tenth of the allocations a local order makes).
pub(crate) fn parse_str<'de, D, T, E>(d: D, parse: fn(&str) -> Result<T, E>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    struct Parse<T, E>(fn(&str) -> Result<T, E>);
    impl<T, E: fmt::Display> serde::de::Visitor<'_> for Parse<T, E> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<X: serde::de::Error>(self, text: &str) -> Result<T, X> {
            (self.0)(text).map_err(X::custom)
        }
    }
    d.deserialize_str(Parse(parse))
}

#[cfg(test)]
mod tests {
    use crate::{OrderId, ProductId, Timestamp};

    /// Borrowed, escaped (decoded into the deserializer's scratch space) and owned text all
    /// parse; anything else is refused as a `String` would have been.
    #[test]
    fn text_parses_however_the_deserializer_holds_it() {
        let id: ProductId = serde_json::from_str(r#""p-1""#).unwrap();
        assert_eq!(id.as_str(), "p-1");
        let escaped: ProductId = serde_json::from_str(r#""p\u002d1""#).unwrap();
        assert_eq!(escaped, id);
        let owned: ProductId = serde_json::from_value(serde_json::json!("p-1")).unwrap();
        assert_eq!(owned, id);
        let at: Timestamp = serde_json::from_str(r#""2025-11-25T20:13:40.123Z""#).unwrap();
        assert_eq!(at.as_millis(), 1_764_101_620_123);
        let refused = serde_json::from_str::<OrderId>("7")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("expected a string"), "{refused}");
        let invalid = serde_json::from_str::<OrderId>(r#""not-a-ulid""#).unwrap_err();
        assert!(invalid.to_string().contains("ULID"), "{invalid}");
    }
}
