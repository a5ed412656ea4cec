//! Wall-clock instants as milliseconds since the Unix epoch, printed as RFC 3339.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant with millisecond precision. Serialised as RFC 3339 (`2026-11-25T20:13:40.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self(ms)
    }

    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Parses RFC 3339 (`2026-11-25T20:13:40Z`, fractions allowed).
    pub fn parse(text: &str) -> Result<Self, humantime::TimestampError> {
        let t = humantime::parse_rfc3339_weak(text)?;
        let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        Ok(Self(u64::try_from(ms).unwrap_or(u64::MAX)))
    }

    pub fn to_rfc3339(self) -> String {
        self.rfc3339().to_string()
    }

    /// The RFC 3339 text, written where it is displayed (no `String` on the way).
    fn rfc3339(self) -> humantime::Rfc3339Timestamp {
        humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(self.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.rfc3339(), f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text::parse_str(d, Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_round_trips_through_rfc3339() {
        let t = Timestamp::from_millis(1_764_101_620_123);
        assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(t.to_rfc3339(), "2025-11-25T20:13:40.123Z");
    }
}
