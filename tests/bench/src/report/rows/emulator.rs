//! The emulator flow's rows (`serve --backend aws` on moto), which the closed-loop
//! `pipeline-bench` run measures when given `--emulator`: throughput and POST p50 with 4
//! clients against the targets, and the emulator's own ceiling (its raw PutItem rate,
//! measured in the same run) with the share of it the flow reaches.

use super::{EMULATOR, EMULATOR_CLIENTS, EMULATOR_ORDERS_PER_S, EMULATOR_P50_MS, Json, Outcome};
use crate::report::table::{Row, Verdict, grouped};

const TARGETS: &str = "≥ 10 orders/s and POST p50 < 100 ms with 4 clients";

pub(super) fn rows(pipeline: &Outcome, skipped: Option<&str>) -> Vec<Row> {
    let all = "the same flow on moto";
    if let Some(why) = skipped {
        return vec![Row::skipped(EMULATOR, all, TARGETS, why)];
    }
    let v = match pipeline {
        Outcome::Skipped(_) => {
            return vec![Row::skipped(
                EMULATOR,
                all,
                TARGETS,
                "it runs inside pipeline-bench, which was skipped",
            )];
        }
        Outcome::Failed(_) => {
            return vec![Row::failed(EMULATOR, all, TARGETS, "pipeline-bench failed")];
        }
        Outcome::Ran(v) => Json(v),
    };
    match v.obj("emulator") {
        Some(e) => figures(&e).unwrap_or_else(|e| {
            vec![Row::failed(
                EMULATOR,
                all,
                TARGETS,
                &format!("its JSON {e}"),
            )]
        }),
        None => vec![Row::failed(
            EMULATOR,
            all,
            TARGETS,
            "pipeline-bench printed no emulator figures",
        )],
    }
}

fn figures(e: &Json<'_>) -> Result<Vec<Row>, String> {
    let orders_per_s = e.f64("orders_per_s")?;
    let (p50, p99) = (e.f64("post_p50_ms")?, e.f64("post_p99_ms")?);
    let clients = e.opt_f64("clients");
    // The targets are for 4 clients; a run with others (or a pipeline-bench that does not say,
    // which ran the emulator flow with the closed loop's clients) is shown, not judged.
    let (judged, clients_text) = match clients {
        Some(c) if (c - EMULATOR_CLIENTS).abs() < f64::EPSILON => (true, grouped(c)),
        Some(c) => (false, grouped(c)),
        None => (false, "unreported".to_owned()),
    };
    let judge = |verdict: Verdict| if judged { verdict } else { Verdict::Info };
    let target = |t: &str| {
        if judged {
            t.to_owned()
        } else {
            format!("{t} (judged with 4 clients: --emulator-clients 4)")
        }
    };
    let load = format!(
        "{} orders, {clients_text} clients",
        grouped(e.f64("orders")?)
    );
    let mut rows = vec![
        Row::new(
            EMULATOR,
            format!("POST → terminal state, {load}"),
            format!("{orders_per_s:.1} orders/s"),
            target("≥ 10 orders/s"),
            judge(Verdict::at_least(orders_per_s, EMULATOR_ORDERS_PER_S)),
        ),
        Row::new(
            EMULATOR,
            format!("POST latency p50 / p99 ({load})"),
            format!("{p50:.1} / {p99:.1} ms"),
            target("p50 < 100 ms"),
            judge(Verdict::below(p50, EMULATOR_P50_MS)),
        ),
    ];
    // The emails of the orders' events trail their workflows on this host: the whole of an
    // order's work ends when the emulator goes quiet.
    let drained = e.opt_f64("drained_orders_per_s");
    if let Some(rate) = drained {
        rows.push(Row::new(
            EMULATOR,
            format!("POST → every email sent, {load}"),
            format!("{rate:.1} orders/s"),
            "none",
            Verdict::Info,
        ));
    }
    rows.extend(ceiling(e, drained.unwrap_or(orders_per_s)));
    if let Some(ratio) = e.opt_f64("ratio_to_embedded") {
        rows.push(Row::new(
            EMULATOR,
            "emulator ÷ embedded throughput",
            format!("{ratio:.3}"),
            "none",
            Verdict::Info,
        ));
    }
    Ok(rows)
}

/// The emulator's own ceiling and the share of it the flow reaches: orders/s × calls per
/// order ÷ PutItem/s (at the flow's concurrency when measured so), or orders/s ÷ PutItem/s
/// when the calls per order are not reported. `orders_per_s` is over the whole of the orders'
/// work (their emails sent) when the run says how long that took, as its calls are.
fn ceiling(e: &Json<'_>, orders_per_s: f64) -> Vec<Row> {
    let (single, four) = (
        e.opt_f64("put_item_per_s"),
        e.opt_f64("put_item_per_s_4_clients"),
    );
    let Some(put) = four.or(single) else {
        return vec![Row::new(
            EMULATOR,
            "the emulator's own ceiling (raw PutItem/s)",
            "not reported by this pipeline-bench",
            "stated in the same run",
            Verdict::Info,
        )];
    };
    let value = [(single, "1 client"), (four, "4 clients")]
        .into_iter()
        .filter_map(|(rate, how)| rate.map(|r| format!("{} PutItem/s ({how})", grouped(r))))
        .collect::<Vec<_>>()
        .join(", ");
    let share = match e.opt_f64("calls_per_order").filter(|c| *c > 0.0) {
        Some(calls) => (
            "orders/s × calls per order ÷ PutItem/s: the share of the emulator the flow uses",
            format!(
                "{:.2} ({calls:.1} calls per order; ceiling {:.1} orders/s)",
                orders_per_s * calls / put,
                put / calls
            ),
        ),
        None => (
            "orders/s ÷ raw PutItem/s",
            format!("{:.3}", orders_per_s / put),
        ),
    };
    vec![
        Row::new(
            EMULATOR,
            "the emulator's own ceiling (raw PutItem, same run)",
            value,
            "baseline",
            Verdict::Baseline,
        ),
        Row::new(EMULATOR, share.0, share.1, "none", Verdict::Info),
    ]
}
