//! One refund's price as markdown (after the per-order report) and as JSON (the `refund` key of
//! `cost-model --json`).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::model::{Assumptions, Line, Observed, Workflow, total};
use super::refund::{RefundPath, functions, lines};
use super::report::{qty, usd};

/// The refund's totals per million refunds: Express, Standard.
pub fn totals(path: &RefundPath, o: &Observed, a: &Assumptions) -> (f64, f64) {
    let l = lines(path, o, a);
    (total(&l, Workflow::Express), total(&l, Workflow::Standard))
}

fn cells(l: &Line) -> (String, String) {
    let cost = usd(l.usd_per_million_orders());
    match l.only {
        None => (cost.clone(), cost),
        Some(Workflow::Express) => (cost, "–".to_owned()),
        Some(Workflow::Standard) => ("–".to_owned(), cost),
    }
}

/// The refund section of the report.
pub fn render(path: &RefundPath, o: &Observed, a: &Assumptions) -> String {
    let mut s = String::new();
    let (express, standard) = totals(path, o, a);
    let _ = writeln!(
        s,
        "\nOne refund (a return of {} line, restocked, refunded at the first attempt), per million refunds. Derived from the code path and the refund definition, not counted: {} states executed, ProcessRefund invoked {} time(s).\n",
        a.refund_lines,
        path.states,
        path.tasks.get("process-refund").copied().unwrap_or(0.0)
    );
    let _ = writeln!(
        s,
        "| service | what | per refund | unit | basis | how | Express $/M refunds | Standard $/M refunds |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---|---|---:|---:|");
    for l in lines(path, o, a) {
        let (e, st) = cells(&l);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {e} | {st} |",
            l.service,
            l.item,
            qty(l.quantity),
            l.unit,
            l.basis.as_str(),
            l.how
        );
    }
    let _ = writeln!(
        s,
        "| **total** | | | | | | **{}** | **{}** |",
        usd(express),
        usd(standard)
    );
    let _ = writeln!(
        s,
        "\n| function | memory (MB) | invocations per refund | basis | AWS calls per invocation | billed ms | how |"
    );
    let _ = writeln!(s, "|---|---:|---:|---|---:|---:|---|");
    for f in functions(path, a) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {} | {:.2} | {} | {} |",
            f.name,
            f.memory_mb,
            f.invocations,
            f.basis.as_str(),
            f.calls_per_invocation,
            f.billed_ms(a),
            f.how
        );
    }
    s
}

/// The refund's price as JSON: `express_per_million` and `standard_per_million` (refunds), the
/// path, every line and function.
pub fn to_json(path: &RefundPath, o: &Observed, a: &Assumptions) -> Value {
    let (express, standard) = totals(path, o, a);
    let line_values: Vec<Value> = lines(path, o, a)
        .iter()
        .map(|l| {
            json!({
                "service": l.service,
                "item": l.item,
                "quantity_per_refund": l.quantity,
                "unit": l.unit,
                "basis": l.basis.as_str(),
                "how": l.how,
                "express": (l.only != Some(Workflow::Standard)).then(|| l.usd_per_million_orders()),
                "standard": (l.only != Some(Workflow::Express)).then(|| l.usd_per_million_orders()),
            })
        })
        .collect();
    let function_values: Vec<Value> = functions(path, a)
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "memory_mb": f.memory_mb,
                "invocations_per_refund": f.invocations,
                "basis": f.basis.as_str(),
                "calls_per_invocation": f.calls_per_invocation,
                "billed_ms": f.billed_ms(a),
            })
        })
        .collect();
    json!({
        "express_per_million": express,
        "standard_per_million": standard,
        "states": path.states,
        "tasks": path.tasks,
        "refund_lines": a.refund_lines,
        "lines": line_values,
        "functions": function_values,
    })
}
