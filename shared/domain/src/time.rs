//! Wall-clock instants as milliseconds since the Unix epoch, printed as RFC 3339.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

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
        self.to_string()
    }

    /// `2026-11-25T20:13:40.123Z` on the stack, as `humantime::format_rfc3339_millis` writes
    /// it (every event's time is serialised through here, eight an order: the formatter's
    /// machinery cost more than the digits); `None` past 9999-12-31, which RFC 3339 cannot write.
    fn rfc3339(self) -> Option<[u8; 24]> {
        let secs = self.0 / 1000;
        if secs >= LAST_RFC3339_SECOND {
            return None;
        }
        let c = Civil::at(secs);
        let mut b = *b"0000-00-00T00:00:00.000Z";
        digits(&mut b[0..4], c.year);
        digits(&mut b[5..7], c.month);
        digits(&mut b[8..10], c.day);
        digits(&mut b[11..13], c.secs_of_day / 3600);
        digits(&mut b[14..16], c.secs_of_day % 3600 / 60);
        digits(&mut b[17..19], c.secs_of_day % 60);
        digits(&mut b[20..23], self.0 % 1000);
        Some(b)
    }
}

/// 10000-01-01T00:00:00Z: the first second RFC 3339's four-digit year cannot write.
const LAST_RFC3339_SECOND: u64 = 253_402_300_800;

/// `n`'s last `dst.len()` decimal digits, zero-padded, into `dst`.
pub fn digits(dst: &mut [u8], mut n: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
    }
}

/// A UTC instant's civil date (proleptic Gregorian) and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Days since 1970-01-01 (a Thursday).
    pub days: u64,
    pub year: u64,
    /// 1 to 12.
    pub month: u64,
    /// 1 to 31.
    pub day: u64,
    pub secs_of_day: u64,
}

impl Civil {
    /// The civil date of `unix_seconds` (H. Hinnant's algorithm, in unsigned arithmetic).
    pub fn at(unix_seconds: u64) -> Self {
        let days = unix_seconds / 86_400;
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Self {
            days,
            year: yoe + era * 400 + u64::from(month <= 2),
            month,
            day,
            secs_of_day: unix_seconds % 86_400,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.rfc3339().ok_or(fmt::Error)?;
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self
            .rfc3339()
            .ok_or_else(|| serde::ser::Error::custom("a time past the year 9999"))?;
        s.serialize_str(std::str::from_utf8(&b).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text::parse_str(d, Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_timestamp_round_trips_through_rfc3339() {
        let t = Timestamp::from_millis(1_764_101_620_123);
        assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(t.to_rfc3339(), "2025-11-25T20:13:40.123Z");
    }

    /// The text is humantime's, digit for digit, from the epoch to the last millisecond RFC
    /// 3339 can write (leap days, centuries and the 400-year rule included); past it, both
    /// refuse.
    #[test]
    fn the_rfc3339_text_is_humantimes() {
        let humantime = |ms: u64| {
            humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        };
        let last = LAST_RFC3339_SECOND * 1000 - 1;
        let samples = (0..last).step_by(7_919_999_983).chain([
            0,
            951_782_400_000,   // 2000-02-29
            4_107_542_399_999, // 2100-02-28T23:59:59.999
            1_764_101_620_123,
            last,
        ]);
        for ms in samples {
            let t = Timestamp::from_millis(ms);
            assert_eq!(t.to_rfc3339(), humantime(ms), "{ms}");
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", humantime(ms))
            );
        }
        let past = Timestamp::from_millis(last + 1);
        assert!(serde_json::to_string(&past).is_err());
        assert!(std::fmt::write(&mut String::new(), format_args!("{past}")).is_err());
    }
}
