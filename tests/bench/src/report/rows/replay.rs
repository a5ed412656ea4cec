//! `replay-bench`: the audit replay against raw read + decode (issue 6's target, kept).

use serde_json::Value;

use super::{Json, REPLAY, REPLAY_RATIO};
use crate::report::table::{Row, Verdict, grouped};

pub(super) fn rows(j: &Json<'_>) -> Result<Vec<Row>, String> {
    let ratio = j.f64("ratio")?;
    let mut rows = vec![
        Row::new(
            REPLAY,
            format!(
                "raw read + decode ({} events, best of {})",
                grouped(j.f64("events")?),
                grouped(j.f64("runs")?)
            ),
            format!("{} events/s", grouped(j.f64("raw_events_per_s")?)),
            "baseline",
            Verdict::Baseline,
        ),
        Row::new(
            REPLAY,
            "replay: fold + compare with live rows",
            format!("{} events/s", grouped(j.f64("replay_events_per_s")?)),
            "none",
            Verdict::Info,
        ),
        Row::new(
            REPLAY,
            "replay ÷ raw read + decode",
            format!("{ratio:.2}"),
            "≥ 0.50",
            Verdict::at_least(ratio, REPLAY_RATIO),
        ),
        Row::new(
            REPLAY,
            "replay --verify (every hash) ÷ raw",
            format!("{:.2}", j.f64("verify_ratio")?),
            "none",
            Verdict::Info,
        ),
    ];
    if j.0.get("matches").and_then(Value::as_bool) == Some(false) {
        rows.push(Row::failed(
            REPLAY,
            "replay matches the live read models",
            "match",
            "the generated log did not replay to its live read models",
        ));
    }
    Ok(rows)
}
