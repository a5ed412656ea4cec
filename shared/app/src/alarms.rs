//! Alarms that change state like CloudWatch's, written once so the local host's alarms and the
//! template's agree: a definition names a metric, a statistic over a period, and fires when
//! `datapoints_to_alarm` of the last `evaluation_periods` datapoints breach the threshold (the
//! "M of N" rule), with missing datapoints treated as the definition says.
//!
//! The definitions ([`definitions`]) mirror template.yaml's alarms that mean something on one
//! machine (queue depth, the orders DLQ, the business alarms); a check in
//! `scripts/test_template.py` keeps period, evaluation periods, datapoints, threshold and
//! comparison equal to the template's. [`window`] turns the host's samples into one datapoint
//! per period; [`Alarm::evaluate`] moves the state; [`notify`] writes the one email a state change
//! sends to CriticalAlertsTopic.

use std::time::Duration;

use order_domain::Timestamp;
use order_domain::ports::{Notification, Notifier, PortError, Topic};
use serde::Serialize;

pub mod window;

pub use window::{Sample, datapoints};

/// An alarm's state, spelled as CloudWatch spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// How a datapoint is compared with the threshold (CloudWatch's `ComparisonOperator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanThreshold => value > threshold,
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// What a period without a datapoint counts as (CloudWatch's `TreatMissingData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreatMissing {
    /// Within the threshold: an idle pipeline is healthy.
    NotBreaching,
    Breaching,
    /// The state stays as it is while every datapoint is missing.
    Ignore,
    /// Every datapoint missing is INSUFFICIENT_DATA.
    Missing,
}

/// What an alarm watches: one series the host samples, or one derived from several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Messages waiting on OrdersQueue.
    QueueVisible,
    /// Messages in OrdersQueue's dead-letter queue.
    DeadLetters,
    /// `100 * failed / (completed + failed)` over the period.
    FailureRatePercent,
    /// End-to-end latency, placed to terminal, in seconds.
    OrderLatencySeconds,
    /// The projection lag gauge, in seconds.
    ProjectionLagSeconds,
}

impl Metric {
    pub const fn name(self) -> &'static str {
        match self {
            Self::QueueVisible => "OrdersQueue ApproximateNumberOfMessagesVisible",
            Self::DeadLetters => "OrdersDeadLetterQueue ApproximateNumberOfMessagesVisible",
            Self::FailureRatePercent => "OrderFailureRate (100*failed/(completed+failed))",
            Self::OrderLatencySeconds => crate::metrics::ORDER_LATENCY,
            Self::ProjectionLagSeconds => crate::metrics::PROJECTION_LAG,
        }
    }
}

/// How the period's samples become one datapoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Maximum,
    /// The ratio of the period's sums (for [`Metric::FailureRatePercent`]).
    Sum,
    /// The 99th percentile of the period's observations.
    P99,
}

/// One alarm, as the template defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDefinition {
    /// The template's `AlarmName` less the stack's prefix.
    pub name: &'static str,
    pub metric: Metric,
    pub statistic: Statistic,
    pub period: Duration,
    pub evaluation_periods: usize,
    pub datapoints_to_alarm: usize,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing: TreatMissing,
}

impl AlarmDefinition {
    /// The same alarm with its period multiplied by `scale` (tests make a minute a second).
    #[must_use]
    pub fn scaled(mut self, scale: f64) -> Self {
        self.period = self.period.mul_f64(scale.max(0.0001));
        self
    }
}

/// The local alarms, as template.yaml defines the alarms of the same names.
pub fn definitions() -> Vec<AlarmDefinition> {
    let alarm = |name, metric, statistic, period, (n, m), threshold| AlarmDefinition {
        name,
        metric,
        statistic,
        period,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        threshold,
        comparison: Comparison::GreaterThanThreshold,
        treat_missing: TreatMissing::NotBreaching,
    };
    let minute = Duration::from_mins(1);
    vec![
        alarm(
            "OrdersQueueDepth",
            Metric::QueueVisible,
            Statistic::Maximum,
            minute,
            (3, 3),
            10.0,
        ),
        alarm(
            "OrdersDeadLetterQueue",
            Metric::DeadLetters,
            Statistic::Maximum,
            minute,
            (1, 1),
            0.0,
        ),
        alarm(
            "OrderFailureRate",
            Metric::FailureRatePercent,
            Statistic::Sum,
            Duration::from_mins(5),
            (1, 1),
            25.0,
        ),
        alarm(
            "OrderLatencyP99",
            Metric::OrderLatencySeconds,
            Statistic::P99,
            minute,
            (5, 3),
            30.0,
        ),
        alarm(
            "ProjectionLag",
            Metric::ProjectionLagSeconds,
            Statistic::Maximum,
            minute,
            (3, 3),
            60.0,
        ),
    ]
}

/// A state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub name: &'static str,
    pub from: AlarmState,
    pub to: AlarmState,
    pub at: Timestamp,
    pub reason: String,
}

/// An alarm and its current state.
#[derive(Debug, Clone)]
pub struct Alarm {
    pub definition: AlarmDefinition,
    pub state: AlarmState,
    pub since: Timestamp,
    pub reason: String,
}

impl Alarm {
    /// A new alarm is INSUFFICIENT_DATA until its first evaluation, as CloudWatch's is.
    pub fn new(definition: AlarmDefinition, now: Timestamp) -> Self {
        Self {
            definition,
            state: AlarmState::InsufficientData,
            since: now,
            reason: "Unchecked: Initial alarm creation".to_owned(),
        }
    }

    /// Evaluates the latest datapoints (oldest first, one per period, `None` for a period
    /// without data; only the last `evaluation_periods` count). Returns the transition when
    /// the state changed; the reason is updated only then, as CloudWatch's is.
    pub fn evaluate(&mut self, datapoints: &[Option<f64>], now: Timestamp) -> Option<Transition> {
        let (state, reason) = decide(&self.definition, datapoints, self.state);
        if state == self.state {
            return None;
        }
        let transition = Transition {
            name: self.definition.name,
            from: self.state,
            to: state,
            at: now,
            reason: reason.clone(),
        };
        self.state = state;
        self.since = now;
        self.reason = reason;
        Some(transition)
    }
}

/// CloudWatch's rule: ALARM when at least M of the last N datapoints breach (missing ones
/// counted as [`TreatMissing`] says), OK otherwise; with every datapoint missing, `Missing`
/// gives INSUFFICIENT_DATA and `Ignore` keeps `current`.
fn decide(
    def: &AlarmDefinition,
    datapoints: &[Option<f64>],
    current: AlarmState,
) -> (AlarmState, String) {
    let n = def.evaluation_periods.max(1);
    let range = &datapoints[datapoints.len().saturating_sub(n)..];
    let missing = n - range.iter().filter(|d| d.is_some()).count();
    let breaching = range
        .iter()
        .flatten()
        .filter(|v| def.comparison.breaches(**v, def.threshold))
        .count();
    let shown: Vec<String> = range
        .iter()
        .flatten()
        .map(|v| format!("{:.2}", round2(*v)))
        .collect();
    if missing == n {
        match def.treat_missing {
            TreatMissing::Missing => {
                return (
                    AlarmState::InsufficientData,
                    format!("No datapoints in the last {n} periods."),
                );
            }
            TreatMissing::Ignore => return (current, "No datapoints; state kept.".to_owned()),
            TreatMissing::NotBreaching | TreatMissing::Breaching => {}
        }
    }
    let counted = match def.treat_missing {
        TreatMissing::Breaching => breaching + missing,
        _ => breaching,
    };
    let m = def.datapoints_to_alarm.clamp(1, n);
    let state = if counted >= m {
        AlarmState::Alarm
    } else {
        AlarmState::Ok
    };
    let verdict = if state == AlarmState::Alarm {
        "was"
    } else {
        "was not"
    };
    let reason = format!(
        "Threshold Crossed: {counted} out of the last {n} datapoints [{}] {verdict} {} the threshold ({}) (minimum {m} datapoints for ALARM).",
        shown.join(", "),
        def.comparison.as_str(),
        def.threshold,
    );
    (state, reason)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Whether a transition sends an email: entering or leaving ALARM (CloudWatch's AlarmActions
/// and OKActions), not the start-up move out of INSUFFICIENT_DATA into OK.
pub fn notifies(t: &Transition) -> bool {
    t.from == AlarmState::Alarm || t.to == AlarmState::Alarm
}

/// Sends `t`'s email ([`notification`]) to CriticalAlertsTopic.
///
/// # Errors
/// When the notifier fails.
pub async fn notify<N: Notifier>(notifier: &N, t: &Transition) -> Result<(), PortError> {
    notifier
        .publish(Topic::CriticalAlerts, notification(t))
        .await?;
    Ok(())
}

/// `t`'s email, deduplicated by (alarm, new state, transition time): a redelivered publish of
/// the same change sends one email.
pub fn notification(t: &Transition) -> Notification {
    Notification {
        dedup_id: format!("alarm-{}-{}-{}", t.name, t.to.as_str(), t.at.as_millis()),
        subject: format!(
            "{}: \"{}\" (was {})",
            t.to.as_str(),
            t.name,
            t.from.as_str()
        ),
        body: format!(
            "Alarm {} changed from {} to {} at {}.\nReason: {}\n",
            t.name,
            t.from.as_str(),
            t.to.as_str(),
            t.at,
            t.reason
        ),
        recipients: vec![],
        // An alarm belongs to no order: its email starts no trace.
        trace_parent: None,
        opened_with: None,
    }
}

#[cfg(test)]
mod template_tests;
#[cfg(test)]
mod tests;
