//! What the emulator would have invoked, had it run functions (shared/aws/emulator/
//! moto_invocations.py records it): the events a rule matched for a function target, and
//! custom resources' requests. Both are asynchronous invocations on AWS; a function error is
//! retried (EventBridge retries a target, Lambda's async invoke twice), here up to
//! [`ATTEMPTS`] times with growing waits ([`RETRY_DELAYS`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;

use crate::harness::HarnessError;

/// Attempts at one recorded invocation. EventBridge retries a failed target with exponential
/// backoff for as long as the rule's RetryPolicy allows (the template's rules: 20 attempts, an
/// hour); the harness retries for about half a minute ([`RETRY_DELAYS`]), which outlasts a
/// notification's dedup lease (15 s) held by an attempt that failed after claiming it.
pub const ATTEMPTS: u32 = 6;

/// The waits before the 2nd, 3rd, … attempt.
pub const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
];

/// One recorded invocation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    pub seq: usize,
    pub function_arn: String,
    /// `events` (a rule's target) or `cloudformation` (a custom resource).
    pub source: String,
    pub event: Value,
    /// The rule, for `events`.
    pub rule: Option<String>,
}

impl Recorded {
    /// The event as the function receives it: EventBridge's `time` is an RFC 3339 string
    /// (the emulator keeps seconds since the epoch) and it has no `ingestion-time`.
    pub fn payload(&self) -> Value {
        let mut event = self.event.clone();
        if self.source == "events"
            && let Value::Object(map) = &mut event
        {
            map.remove("ingestion-time");
            if let Some(secs) = map.get("time").and_then(Value::as_f64) {
                map.insert("time".into(), Value::String(rfc3339(secs)));
            }
        }
        event
    }
}

/// `secs` since the epoch as `2026-12-01T12:00:00Z`.
pub fn rfc3339(secs: f64) -> String {
    let whole = if secs.is_finite() && secs > 0.0 {
        // Seconds since 1970 fit a u64 long past this project.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let s = secs as u64;
        s
    } else {
        0
    };
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(whole)).to_string()
}

/// Now, as EventBridge writes it.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The records after `after` (their `seq`), oldest first.
pub async fn fetch(
    http: &reqwest::Client,
    endpoint: &str,
    after: usize,
) -> Result<Vec<Recorded>, HarnessError> {
    let url = format!(
        "{}/_order_stack/invocations?after={after}",
        endpoint.trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| HarnessError::Aws(format!("{url}: {e}")))?;
    if !response.status().is_success() {
        return Err(HarnessError::Aws(format!(
            "{url}: {} (is the emulator shared/aws/emulator/moto_serialized.py?)",
            response.status()
        )));
    }
    response
        .json()
        .await
        .map_err(|e| HarnessError::Aws(format!("{url}: {e}")))
}
