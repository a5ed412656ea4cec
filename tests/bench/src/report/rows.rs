//! Each benchmark's JSON object → rows of the report, with the targets of issue 16 (and the
//! replay target of issue 6).
//!
//! A part that was skipped or failed still gets a row, so nothing vanishes from the table.
//! A JSON object that lacks a figure a row needs counts as a failure of that benchmark; the
//! figures other helpers' branches add (the emulator's ceiling, the overload run, the cost
//! without the email) are read leniently, so an older benchmark still gives a table.

mod cold_start;
mod cost;
mod emulator;
mod overload;
mod pipeline;
mod replay;

use serde_json::Value;

use super::table::Row;
use super::{Outcome, Part, Results};

/// ≥ 5,000 completed orders/s on 2 cores (closed loop, load generator included).
const ORDERS_PER_S: f64 = 5000.0;
/// Server CPU per order at capacity.
const CPU_US_PER_ORDER: f64 = 150.0;
/// The open loop's offered rate, at which the POST p99 is judged.
const OPEN_RATE: f64 = 2000.0;
/// p99 POST latency under 20 ms (at 2,000 orders/s).
const P99_MS: f64 = 20.0;
/// Events appended per second against raw SQLite single-row commits, same run.
const EVENTS_PER_RAW_SINGLE: f64 = 0.8;
/// Under overload, completions keep up with acceptances to within this fraction.
const OVERLOAD_COMPLETED_SHARE: f64 = 0.9;
/// The emulator backend with 4 clients: orders/s and POST p50.
const EMULATOR_ORDERS_PER_S: f64 = 10.0;
const EMULATOR_P50_MS: f64 = 100.0;
const EMULATOR_CLIENTS: f64 = 4.0;
/// Replay at ≥ 50 % of the raw read + decode rate.
const REPLAY_RATIO: f64 = 0.5;
/// Each function's init within 1.2× of the SDK hello world's.
const INIT_RATIO: f64 = 1.2;
/// The deployed (Express) design at most a fifth of the Standard flow, both without the email.
const COST_RATIO: f64 = 0.2;

const PIPELINE: &str = "local pipeline";
const OPEN_LOOP: &str = "local, open loop";
const OVERLOAD: &str = "overload";
const EMULATOR: &str = "emulator backend";
const REPLAY: &str = "replay";
const COLD_START: &str = "cold start";
const COST: &str = "cost";

const PIPELINE_TARGETS: &str =
    "≥ 5,000 orders/s; ≤ 150 µs CPU per order; events/s ≥ 0.8 × raw 1-row commits";
const OPEN_LOOP_TARGETS: &str = "p99 POST < 20 ms at 2,000 orders/s";
const OVERLOAD_TARGETS: &str =
    "completed ≥ 0.9 × accepted, or the excess shed with the queue bounded";
const REPLAY_TARGETS: &str = "replay ≥ 0.50 × raw read + decode";
const COLD_START_TARGETS: &str = "each init ≤ 1.2 × hello-sdk";
const COST_TARGETS: &str = "Express ≤ 0.20 × Standard, both without the email";

/// Every row of the report, in order: closed loop, open loop, overload, emulator, replay,
/// cold start, cost; each with the load average around its run.
pub fn rows(results: &Results) -> Vec<Row> {
    let loaded = |rows: Vec<Row>, run: Part| -> Vec<Row> {
        let load = results.load.get(&run).cloned().unwrap_or_default();
        rows.into_iter()
            .map(|r| Row {
                load: load.clone(),
                ..r
            })
            .collect()
    };
    let mut out = Vec::new();
    out.extend(loaded(
        part(
            &results.pipeline,
            PIPELINE,
            PIPELINE_TARGETS,
            pipeline::closed_loop,
        ),
        Part::Pipeline,
    ));
    out.extend(loaded(
        part(
            &results.open_loop,
            OPEN_LOOP,
            OPEN_LOOP_TARGETS,
            pipeline::open_loop,
        ),
        Part::OpenLoop,
    ));
    out.extend(loaded(overload::rows(&results.overload), Part::Overload));
    out.extend(loaded(
        emulator::rows(&results.pipeline, results.emulator_skipped.as_deref()),
        Part::Pipeline,
    ));
    out.extend(loaded(
        part(&results.replay, REPLAY, REPLAY_TARGETS, replay::rows),
        Part::Replay,
    ));
    out.extend(loaded(
        part(
            &results.cold_start,
            COLD_START,
            COLD_START_TARGETS,
            cold_start::rows,
        ),
        Part::ColdStart,
    ));
    out.extend(loaded(
        part(&results.cost, COST, COST_TARGETS, cost::rows),
        Part::Cost,
    ));
    out
}

/// The rows of one benchmark: its figures, or one row saying it was skipped or failed.
fn part(
    outcome: &Outcome,
    name: &str,
    targets: &str,
    figures: fn(&Json<'_>) -> Result<Vec<Row>, String>,
) -> Vec<Row> {
    match outcome {
        Outcome::Skipped(why) => vec![Row::skipped(name, "all", targets, why)],
        Outcome::Failed(what) => vec![Row::failed(name, "all", targets, what)],
        Outcome::Ran(v) => figures(&Json(v))
            .unwrap_or_else(|e| vec![Row::failed(name, "all", targets, &format!("its JSON {e}"))]),
    }
}

/// A benchmark's JSON object, read by key; a missing or mistyped figure is an error.
struct Json<'a>(&'a Value);

impl Json<'_> {
    fn f64(&self, key: &str) -> Result<f64, String> {
        self.0
            .get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("lacks the number `{key}`"))
    }

    /// A number that may be missing or `null` (not measured, or not in this build's JSON).
    fn opt_f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(Value::as_f64)
    }

    fn str(&self, key: &str) -> Result<&str, String> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("lacks the string `{key}`"))
    }

    /// A nested object, if there is one.
    fn obj(&self, key: &str) -> Option<Json<'_>> {
        self.0.get(key).filter(|v| v.is_object()).map(Json)
    }

    fn list(&self, key: &str) -> Result<Vec<Json<'_>>, String> {
        let items = self
            .0
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("lacks the list `{key}`"))?;
        Ok(items.iter().map(Json).collect())
    }
}
