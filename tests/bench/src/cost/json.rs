//! The cost model as one JSON object on one line (`cost-model --json`), for runners that
//! collect benchmark figures. Its keys are a contract: `orders`, `express_per_million`,
//! `standard_per_million` and `ratio` (with the email), and the target's basis without the
//! email deliveries, `express_without_email`, `standard_without_email`, `ratio_without_email`
//! and `target_without_email_met` (`ratio_without_email` ≤ `target_fraction`, the target of
//! issue 16), are always there; the rest is the detail of the human report (per-service
//! totals, every line, every function, the assumptions).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::count::Counts;
use super::model::{Assumptions, Line, Observed, Workflow, functions};
use super::prices;
use super::report::{TARGET_FRACTION, Totals};

/// A line's cost in each workflow's total (`None`: not in that total).
fn per_workflow(l: &Line) -> (Option<f64>, Option<f64>) {
    let cost = l.usd_per_million_orders();
    match l.only {
        None => (Some(cost), Some(cost)),
        Some(Workflow::Express) => (Some(cost), None),
        Some(Workflow::Standard) => (None, Some(cost)),
    }
}

/// The whole report as a JSON value (print it with `to_string` for one line).
pub fn to_json(counts: &Counts, observed: &Observed, a: &Assumptions, lines: &[Line]) -> Value {
    let t = Totals::of(lines);
    let mut services: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for l in lines {
        let (e, s) = per_workflow(l);
        let entry = services.entry(l.service).or_default();
        entry.0 += e.unwrap_or(0.0);
        entry.1 += s.unwrap_or(0.0);
    }
    let services: BTreeMap<&str, Value> = services
        .into_iter()
        .map(|(k, (e, s))| (k, json!({ "express": e, "standard": s })))
        .collect();
    let line_values: Vec<Value> = lines
        .iter()
        .map(|l| {
            let (e, s) = per_workflow(l);
            json!({
                "service": l.service,
                "item": l.item,
                "quantity_per_order": l.quantity,
                "unit": l.unit,
                "basis": l.basis.as_str(),
                "how": l.how,
                "express": e,
                "standard": s,
            })
        })
        .collect();
    let function_values: Vec<Value> = functions(observed, a)
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "memory_mb": f.memory_mb,
                "invocations_per_order": f.invocations,
                "basis": f.basis.as_str(),
                "calls_per_invocation": f.calls_per_invocation,
                "billed_ms": f.billed_ms(a),
                "gb_seconds_per_order": f.gb_seconds(a),
            })
        })
        .collect();
    json!({
        "orders": counts.orders,
        "orders_accepted": counts.accepted,
        "seconds": counts.seconds,
        "express_per_million": t.express,
        "standard_per_million": t.standard,
        "ratio": t.ratio,
        "target_fraction": TARGET_FRACTION,
        "target_met": t.ratio <= TARGET_FRACTION,
        "target_without_email_met": t.met(),
        "target_express_max_per_million": TARGET_FRACTION * t.standard,
        "email_per_million": t.email,
        "express_without_email_per_million": t.express_without_email(),
        "standard_without_email_per_million": t.standard_without_email(),
        "express_without_email": t.express_without_email(),
        "standard_without_email": t.standard_without_email(),
        "ratio_without_email": t.ratio_without_email(),
        "target": format!("ratio_without_email ≤ {TARGET_FRACTION}"),
        "target_express_without_email_max": t.express_without_email_max(),
        "emf_bytes_per_invocation": observed.emf_bytes,
        "services": services,
        "lines": line_values,
        "functions": function_values,
        "assumptions": {
            "gets_per_order": a.gets_per_order,
            "idempotency_key_share": a.idempotency_key_share,
            "sqs_messages_per_batch": a.sqs_messages_per_batch,
            "stream_records_per_invocation": a.stream_records_per_invocation,
            "email_subscribers": a.email_subscribers,
            "call_ms": a.call_ms,
            "cpu_ms": a.cpu_ms,
            "state_overhead_ms": a.state_overhead_ms,
            "express_memory_mb": a.express_memory_mb,
            "sfn_log_bytes_per_event": a.sfn_log_bytes_per_event,
            "access_log_bytes": a.access_log_bytes,
            "xray_sample_rate": a.xray_sample_rate,
            "refund_lines": a.refund_lines,
        },
        "prices_as_of": prices::PRICES_AS_OF,
    })
}
