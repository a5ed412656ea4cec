//! The schedule rules' events: EventBridge sends each target a `Scheduled Event` at the
//! rule's rate. The harness fires a schedule when it starts pumping and again whenever its
//! period has passed (`rate(…)`); a `cron(…)` rule is fired once a minute, its finest
//! granularity, which is at least as often as it would run.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::recorded::now_rfc3339;
use crate::stack::Rule;

/// A schedule rule and when it last fired.
pub struct Schedule {
    pub rule: Rule,
    pub period: Duration,
    last: Option<Instant>,
}

/// The period of a schedule expression (`rate(5 minutes)`, `cron(…)`: a minute).
pub fn period(expression: &str) -> Option<Duration> {
    if expression.starts_with("cron(") {
        return Some(Duration::from_mins(1));
    }
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    match unit.trim_end_matches('s') {
        "minute" => Some(Duration::from_mins(n)),
        "hour" => Some(Duration::from_hours(n)),
        "day" => Some(Duration::from_hours(24 * n)),
        _ => None,
    }
}

impl Schedule {
    /// The schedule of `rule`, if it has one and is enabled.
    pub fn of(rule: &Rule) -> Option<Self> {
        if rule.state.as_deref() == Some("DISABLED") {
            return None;
        }
        let period = period(rule.schedule_expression.as_deref()?)?;
        Some(Self {
            rule: rule.clone(),
            period,
            last: None,
        })
    }

    /// Whether it is due now (and marks it fired if so).
    pub fn due(&mut self, now: Instant) -> bool {
        let due = self
            .last
            .is_none_or(|t| now.duration_since(t) >= self.period);
        if due {
            self.last = Some(now);
        }
        due
    }

    /// The event for one target (its `Input` if it has one).
    pub fn event(&self, input: Option<&str>, region: &str) -> Value {
        if let Some(parsed) = input.and_then(|i| serde_json::from_str(i).ok()) {
            return parsed;
        }
        json!({
            "version": "0",
            "id": ulid::Ulid::generate().to_string().to_lowercase(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": now_rfc3339(),
            "region": region,
            "resources": [self.rule.arn],
            "detail": {},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(period("rate(1 minute)"), Some(Duration::from_mins(1)));
        assert_eq!(period("rate(5 minutes)"), Some(Duration::from_mins(5)));
        assert_eq!(period("rate(2 hours)"), Some(Duration::from_hours(2)));
        assert_eq!(period("cron(0 12 * * ? *)"), Some(Duration::from_mins(1)));
        assert_eq!(period("rate(soon)"), None);
    }
}
