//! `Retry` and `Catch`: which error matches which policy, and how long to
//! wait before the next attempt.

use std::time::Duration;

use serde_json::Value;

use crate::definition::DefinitionError;
use crate::errors::{ALL, RUNTIME, TASK_FAILED, TIMEOUT};
use crate::fields::Fields;
use crate::path::ReferencePath;

/// Longest single delay the interpreter will sleep: ten years. Keeps an
/// exponential backoff without `MaxDelaySeconds` from overflowing `Duration`.
const LONGEST_DELAY_SECS: f64 = 315_360_000.0;

/// How a retrier spreads its delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    /// A uniformly random delay between zero and the computed one.
    Full,
}

/// One element of a state's `Retry` array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier {
    pub(crate) error_equals: Vec<String>,
    pub(crate) interval_seconds: u32,
    pub(crate) max_attempts: u32,
    pub(crate) backoff_rate: f64,
    pub(crate) max_delay_seconds: Option<u32>,
    pub(crate) jitter: Jitter,
}

impl Retrier {
    /// The delay before retry number `retries_done + 1` of this retrier,
    /// jitter applied (`unit` is a random number in `[0, 1]`), not scaled.
    pub(crate) fn delay(&self, retries_done: u32, unit: f64) -> Duration {
        let delay = backoff_delay(
            self.interval_seconds,
            self.backoff_rate,
            self.max_delay_seconds,
            retries_done,
        );
        match self.jitter {
            Jitter::None => delay,
            Jitter::Full => delay.mul_f64(unit.clamp(0.0, 1.0)),
        }
    }
}

/// One element of a state's `Catch` array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher {
    pub(crate) error_equals: Vec<String>,
    pub(crate) next: String,
    /// `None` when `ResultPath` is `null`: the error output is discarded.
    pub(crate) result_path: Option<ReferencePath>,
}

/// The delay before a retry, before jitter and `interval_scale`:
/// `IntervalSeconds × BackoffRate^retries_done`, capped at
/// `MaxDelaySeconds` when given. `retries_done` counts the earlier retries
/// of the same retrier (0 before its first retry).
pub fn backoff_delay(
    interval_seconds: u32,
    backoff_rate: f64,
    max_delay_seconds: Option<u32>,
    retries_done: u32,
) -> Duration {
    let exponent = i32::try_from(retries_done).unwrap_or(i32::MAX);
    let mut seconds = f64::from(interval_seconds) * backoff_rate.powi(exponent);
    if let Some(cap) = max_delay_seconds {
        seconds = seconds.min(f64::from(cap));
    }
    seconds_to_duration(seconds)
}

/// Multiplies a delay by `RunOptions::interval_scale`; zero, negative or
/// NaN scales mean "do not wait".
pub(crate) fn scale(delay: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor <= 0.0 {
        return Duration::ZERO;
    }
    seconds_to_duration(delay.as_secs_f64() * factor)
}

fn seconds_to_duration(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(seconds.min(LONGEST_DELAY_SECS))
    }
}

/// A random number in `[0, 1)` for `JitterStrategy: FULL`. Jitter needs no
/// quality randomness, so std's randomly keyed hasher is enough.
pub(crate) fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    hasher.write_u128(nanos);
    // The top 53 bits fit an f64 mantissa exactly.
    let bits = hasher.finish() >> 11;
    #[expect(clippy::cast_precision_loss, reason = "53-bit values are exact in f64")]
    let unit = bits as f64 / (1_u64 << 53) as f64;
    unit
}

/// Whether an `ErrorEquals` list matches `error`. `States.Runtime` matches
/// nothing: the spec makes it neither retriable nor catchable.
pub(crate) fn matches(error_equals: &[String], error: &str) -> bool {
    if error == RUNTIME {
        return false;
    }
    error_equals
        .iter()
        .any(|name| name == error || name == ALL || (name == TASK_FAILED && error != TIMEOUT))
}

pub(crate) fn parse_retriers(fields: &Fields<'_>) -> Result<Vec<Retrier>, DefinitionError> {
    let items = array(fields, "Retry")?;
    let mut retriers = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let f = Fields::new(item, fields.child(&format!("Retry[{index}]")))?;
        f.only(&[
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        ])?;
        let error_equals = f.error_equals()?;
        let interval_seconds = f.seconds("IntervalSeconds")?.unwrap_or(1);
        if interval_seconds == 0 {
            return Err(f.error("IntervalSeconds", "must be at least 1"));
        }
        let backoff_rate = f.number("BackoffRate")?.unwrap_or(2.0);
        if backoff_rate.is_nan() || backoff_rate < 1.0 {
            return Err(f.error("BackoffRate", "must be at least 1.0"));
        }
        let max_delay_seconds = f.seconds("MaxDelaySeconds")?;
        if max_delay_seconds == Some(0) {
            return Err(f.error("MaxDelaySeconds", "must be at least 1"));
        }
        let jitter = match f.string("JitterStrategy")? {
            None | Some("NONE") => Jitter::None,
            Some("FULL") => Jitter::Full,
            Some(_) => return Err(f.error("JitterStrategy", "must be \"FULL\" or \"NONE\"")),
        };
        retriers.push(Retrier {
            error_equals,
            interval_seconds,
            max_attempts: f.seconds("MaxAttempts")?.unwrap_or(3),
            backoff_rate,
            max_delay_seconds,
            jitter,
        });
    }
    check_all_is_last(fields, "Retry", retriers.iter().map(|r| &r.error_equals))?;
    Ok(retriers)
}

pub(crate) fn parse_catchers(fields: &Fields<'_>) -> Result<Vec<Catcher>, DefinitionError> {
    let items = array(fields, "Catch")?;
    let mut catchers = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let f = Fields::new(item, fields.child(&format!("Catch[{index}]")))?;
        f.only(&["ErrorEquals", "Next", "ResultPath", "Comment"])?;
        catchers.push(Catcher {
            error_equals: f.error_equals()?,
            next: f.required_string("Next")?.to_owned(),
            result_path: f.result_path()?,
        });
    }
    check_all_is_last(fields, "Catch", catchers.iter().map(|c| &c.error_equals))?;
    Ok(catchers)
}

fn array<'a>(fields: &Fields<'a>, field: &str) -> Result<&'a [Value], DefinitionError> {
    match fields.get(field) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(fields.error(field, "must be an array")),
    }
}

fn check_all_is_last<'a>(
    fields: &Fields<'_>,
    field: &str,
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
) -> Result<(), DefinitionError> {
    let count = lists.len();
    for (index, names) in lists.enumerate() {
        if index + 1 < count && names.iter().any(|name| name == ALL) {
            return Err(fields.error(
                &format!("{field}[{index}]"),
                "States.ALL must be in the last element",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn backoff_grows_by_the_rate_for_each_retry() {
        let secs = |n| backoff_delay(2, 3.0, None, n).as_secs_f64();
        assert!((secs(0) - 2.0).abs() < 1e-9);
        assert!((secs(1) - 6.0).abs() < 1e-9);
        assert!((secs(2) - 18.0).abs() < 1e-9);
    }

    #[test]
    fn backoff_is_capped_by_max_delay_seconds() {
        assert_eq!(backoff_delay(1, 2.0, Some(5), 0), Duration::from_secs(1));
        assert_eq!(backoff_delay(1, 2.0, Some(5), 2), Duration::from_secs(4));
        assert_eq!(backoff_delay(1, 2.0, Some(5), 3), Duration::from_secs(5));
        assert_eq!(backoff_delay(1, 2.0, Some(5), 30), Duration::from_secs(5));
    }

    #[test]
    fn backoff_without_cap_does_not_overflow() {
        let huge = backoff_delay(99_999_999, 10.0, None, u32::MAX);
        assert_eq!(huge, Duration::from_secs_f64(LONGEST_DELAY_SECS));
    }

    #[test]
    fn full_jitter_picks_a_delay_below_the_computed_one() {
        let retrier = Retrier {
            error_equals: names(&[ALL]),
            interval_seconds: 4,
            max_attempts: 3,
            backoff_rate: 2.0,
            max_delay_seconds: None,
            jitter: Jitter::Full,
        };
        assert_eq!(retrier.delay(1, 0.25), Duration::from_secs(2));
        assert_eq!(retrier.delay(1, 0.0), Duration::ZERO);
        let none = Retrier {
            jitter: Jitter::None,
            ..retrier
        };
        assert_eq!(none.delay(1, 0.25), Duration::from_secs(8));
    }

    #[test]
    fn scale_multiplies_and_zero_means_no_wait() {
        let d = Duration::from_secs(10);
        assert_eq!(scale(d, 0.5), Duration::from_secs(5));
        assert_eq!(scale(d, 0.0), Duration::ZERO);
        assert_eq!(scale(d, f64::NAN), Duration::ZERO);
        assert_eq!(scale(d, -1.0), Duration::ZERO);
    }

    #[test]
    fn error_names_match_exactly_or_through_wildcards() {
        assert!(matches(&names(&["Custom"]), "Custom"));
        assert!(!matches(&names(&["Custom"]), "Other"));
        assert!(matches(&names(&[ALL]), "Custom"));
        assert!(matches(&names(&[ALL]), TIMEOUT));
        assert!(matches(&names(&[TASK_FAILED]), "Lambda.ServiceException"));
        assert!(!matches(&names(&[TASK_FAILED]), TIMEOUT));
        assert!(!matches(&names(&[ALL]), RUNTIME));
        assert!(!matches(&names(&[RUNTIME]), RUNTIME));
    }
}
