//! Each target's met/missed logic, on fixture JSON varied one figure at a time.

use serde_json::{Value, json};

use super::{COLD_START_JSON, OPEN_LOOP_JSON, OVERLOAD_JSON, PIPELINE_JSON, full_run, json, row};
use crate::report::rows::rows;
use crate::report::table::{Row, Verdict, any_failed, render};
use crate::report::{Outcome, Results};

const PIPELINE: &str = "local pipeline";
const OPEN_LOOP: &str = "local, open loop";
const OVERLOAD: &str = "overload";
const COLD_START: &str = "cold start";

fn missed_by(verdict: &Verdict, by: f64) -> bool {
    matches!(verdict, Verdict::Missed(b) if (b - by).abs() < 1e-3)
}

/// The rows of a full run with one benchmark's JSON changed by `edit`.
fn with(fixture: &str, edit: impl FnOnce(&mut Value), put: fn(&mut Results, Outcome)) -> Vec<Row> {
    let mut v = json(fixture);
    edit(&mut v);
    let mut results = full_run();
    put(&mut results, Outcome::Ran(v));
    rows(&results)
}

fn closed(edit: impl FnOnce(&mut Value)) -> Vec<Row> {
    with(PIPELINE_JSON, edit, |r, o| r.pipeline = o)
}

fn overload(edit: impl FnOnce(&mut Value)) -> Vec<Row> {
    with(OVERLOAD_JSON, edit, |r, o| r.overload = o)
}

fn cost(v: Value) -> Vec<Row> {
    rows(&Results {
        cost: Outcome::Ran(v),
        ..full_run()
    })
}

#[test]
fn the_closed_loop_judges_capacity_cpu_and_the_append_rate_against_raw_sqlite() {
    let rows = rows(&full_run());
    let throughput = row(&rows, "local pipeline", "POST → terminal state");
    assert_eq!(throughput.value, "4,211 orders/s");
    assert!(
        throughput
            .measure
            .contains("5,000 orders, 64 clients, closed loop")
    );
    assert!(missed_by(&throughput.verdict, 5000.0 / 4210.5));
    let cpu = row(&rows, "local pipeline", "server CPU");
    assert_eq!(cpu.value, "212 µs");
    assert!(missed_by(&cpu.verdict, 212.4 / 150.0));
    // 25,263 events/s ÷ 28,000 raw single-row commits/s, computed from the two rates.
    let per_raw = row(&rows, "local pipeline", "events/s ÷ raw 1-row");
    assert_eq!(
        (per_raw.value.as_str(), &per_raw.verdict),
        ("0.90", &Verdict::Met)
    );
    // At capacity POSTs queue by design: the closed loop's p99 is shown, not judged.
    let latency = row(&rows, "local pipeline", "POST latency");
    assert_eq!(
        (latency.value.as_str(), &latency.verdict),
        ("12.1 / 41.3 ms", &Verdict::Info)
    );
    assert_eq!(
        row(&rows, "local pipeline", "raw SQLite, 1 row").verdict,
        Verdict::Baseline
    );

    let rows = closed(|v| {
        v["orders_per_s"] = 5100.0.into();
        v["cpu_us_per_order"] = 150.0.into();
        v["events_per_s"] = 20000.0.into();
    });
    assert_eq!(
        row(&rows, PIPELINE, "POST → terminal state").verdict,
        Verdict::Met
    );
    assert_eq!(row(&rows, PIPELINE, "server CPU").verdict, Verdict::Met);
    assert!(missed_by(
        &row(&rows, PIPELINE, "events/s ÷ raw 1-row").verdict,
        0.8 / (20000.0 / 28000.0)
    ));
}

#[test]
fn the_stores_own_appends_are_judged_against_the_same_raw_commits() {
    // 42,000 appends/s from 64 appenders ÷ 28,000 raw 1-row commits/s; one appender 14,000.
    let rows = rows(&full_run());
    let store = row(&rows, PIPELINE, "the store's appends/s ÷ raw");
    assert_eq!(
        (store.value.as_str(), &store.verdict),
        ("1.50 (0.50)", &Verdict::Met)
    );
    assert_eq!(
        row(&rows, PIPELINE, "the store alone").value,
        "14,000 / 42,000 events/s"
    );
    let rows = closed(|v| v["store_appends"]["concurrent_per_s"] = 14000.0.into());
    assert!(missed_by(
        &row(&rows, PIPELINE, "the store's appends/s ÷ raw").verdict,
        0.8 / 0.5
    ));
    // A pipeline-bench from before the store's own measure still gives its other rows.
    let rows = closed(|v| {
        v.as_object_mut().unwrap().remove("store_appends");
    });
    assert!(rows.iter().all(|r| !r.measure.starts_with("the store")));
    assert_eq!(row(&rows, PIPELINE, "server CPU").value, "212 µs");
}

#[test]
fn the_load_generators_cpu_is_shown_beside_the_servers_when_measured() {
    let rows = closed(|v| v["client_cpu_us_per_order"] = 71.4.into());
    let client = row(&rows, PIPELINE, "load generator CPU per order");
    assert_eq!(
        (client.value.as_str(), &client.verdict),
        ("71 µs", &Verdict::Info)
    );
    assert!(client.measure.contains("its 64 clients"));
    // A pipeline-bench from before this measure has no such row.
    let rows = closed(|_| {});
    assert!(
        rows.iter()
            .all(|r| !r.measure.starts_with("load generator"))
    );
}

#[test]
fn a_closed_loop_without_cpu_figures_shows_them_unmeasured() {
    let rows = closed(|v| v["cpu_us_per_order"] = Value::Null);
    let cpu = row(&rows, PIPELINE, "server CPU");
    assert_eq!(
        (cpu.value.as_str(), &cpu.verdict),
        ("not measured (no /proc)", &Verdict::Info)
    );
}

#[test]
fn the_open_loop_at_2000_orders_per_s_judges_the_p99_strictly_below_20_ms() {
    let rows = rows(&full_run());
    let latency = row(&rows, OPEN_LOOP, "POST latency");
    assert!(latency.measure.contains("open loop at 2,000 orders/s"));
    assert_eq!(latency.value, "3.2 / 14.8 ms; POSTs accepted at 1,999/s");
    assert_eq!(latency.verdict, Verdict::Met);
    assert_eq!(
        row(&rows, OPEN_LOOP, "POST → terminal state").verdict,
        Verdict::Info
    );

    let put = |r: &mut Results, o| r.open_loop = o;
    let at_20 = with(OPEN_LOOP_JSON, |v| v["post_p99_ms"] = 20.0.into(), put);
    assert!(missed_by(
        &row(&at_20, OPEN_LOOP, "POST latency").verdict,
        1.0
    ));
    // Offered less than the target rate, the p99 is not judged.
    let slower = with(OPEN_LOOP_JSON, |v| v["rate"] = 1000.0.into(), put);
    assert_eq!(
        row(&slower, OPEN_LOOP, "POST latency").verdict,
        Verdict::Info
    );
}

#[test]
fn an_overload_whose_completions_fall_behind_an_unbounded_queue_is_missed() {
    let rows = rows(&full_run());
    let share = row(&rows, OVERLOAD, "completed ÷ accepted");
    assert!(share.measure.contains("60 s of POSTs from 32 connections"));
    assert_eq!(
        share.value,
        "0.49: accepted 3,456/s, completed 1,712/s, shed 0/s; drain 20.1 s"
    );
    assert!(missed_by(&share.verdict, 0.9 / 0.495));
    let queue = row(&rows, OVERLOAD, "queue depth");
    assert_eq!(
        (queue.value.as_str(), &queue.verdict),
        ("41,000 / unbounded", &Verdict::Info)
    );
    assert_eq!(row(&rows, OVERLOAD, "POST latency").value, "8.0 / 29.9 ms");
}

#[test]
fn an_overload_is_met_by_keeping_up_or_by_shedding_within_the_stated_bound() {
    let kept_up = overload(|v| {
        v["overload"]["completed_per_s"] = 3200.0.into();
        v["overload"]["completed_over_accepted"] = Value::Null;
    });
    let share = row(&kept_up, OVERLOAD, "completed ÷ accepted");
    assert!(share.value.starts_with("0.93:"), "{}", share.value);
    assert_eq!(share.verdict, Verdict::Met);

    let shed = overload(|v| {
        v["overload"]["shed_per_s"] = 1700.0.into();
        v["overload"]["max_queue_depth"] = 1024.into();
        v["overload"]["backlog_bound"] = 1024.into();
    });
    assert_eq!(
        row(&shed, OVERLOAD, "completed ÷ accepted").verdict,
        Verdict::Met
    );
    let queue = row(&shed, OVERLOAD, "queue depth");
    assert_eq!(
        (queue.value.as_str(), &queue.verdict),
        ("1,024 / 1,024", &Verdict::Met)
    );

    let overran = overload(|v| {
        v["overload"]["shed_per_s"] = 1700.0.into();
        v["overload"]["max_queue_depth"] = 2048.into();
        v["overload"]["backlog_bound"] = 1024.into();
    });
    assert!(missed_by(
        &row(&overran, OVERLOAD, "completed ÷ accepted").verdict,
        2.0
    ));
    assert!(missed_by(
        &row(&overran, OVERLOAD, "queue depth").verdict,
        2.0
    ));

    // A bound without shedding does not excuse falling behind.
    let bounded = overload(|v| v["overload"]["backlog_bound"] = 50_000.into());
    assert!(missed_by(
        &row(&bounded, OVERLOAD, "completed ÷ accepted").verdict,
        0.9 / 0.495
    ));
}

/// Until the overload run is merged, pipeline-bench rejects `--overload`: a skipped row that
/// says why, not a crash and not a failed report; other failures stay failures.
#[test]
fn a_pipeline_bench_without_the_overload_run_is_a_skipped_row() {
    let old = Results {
        overload: Outcome::Failed(
            "pipeline-bench exited with exit status: 1: Error: unknown flag --overload (use --orders N …)"
                .into(),
        ),
        ..full_run()
    };
    let rows = rows(&old);
    let skipped = row(&rows, OVERLOAD, "all");
    assert_eq!(skipped.verdict, Verdict::Skipped);
    assert!(skipped.value.contains("no --overload"));
    assert!(!any_failed(&rows));

    let no_figures = overload(|v| *v = json!({"bench": "pipeline-bench", "orders": 5000}));
    let failed = row(&no_figures, OVERLOAD, "all");
    assert_eq!(failed.verdict, Verdict::Failed);
    assert!(failed.value.contains("`overload`"));
    let crashed = Results {
        overload: Outcome::Failed("pipeline-bench exited with signal: 9".into()),
        ..full_run()
    };
    let crashed = crate::report::rows::rows(&crashed);
    assert_eq!(row(&crashed, OVERLOAD, "all").verdict, Verdict::Failed);
}

#[test]
fn the_emulator_with_4_clients_is_judged_and_shows_its_own_ceiling() {
    let rows = rows(&full_run());
    let throughput = row(&rows, "emulator backend", "POST → terminal state");
    assert!(throughput.measure.contains("200 orders, 4 clients"));
    assert_eq!(
        (throughput.value.as_str(), &throughput.verdict),
        ("12.5 orders/s", &Verdict::Met)
    );
    let latency = row(&rows, "emulator backend", "POST latency");
    assert_eq!(
        (latency.value.as_str(), &latency.verdict),
        ("74.0 / 310.0 ms", &Verdict::Met)
    );
    let ceiling = row(&rows, "emulator backend", "the emulator's own ceiling");
    assert_eq!(
        ceiling.value,
        "180 PutItem/s (1 client), 240 PutItem/s (4 clients)"
    );
    assert_eq!(ceiling.verdict, Verdict::Baseline);
    // The host's emails trail its workflows, and an order's calls are counted until the
    // emulator went quiet: 10.0 orders/s over that time × 16 calls ÷ 240 PutItem/s (4 clients,
    // as the flow).
    let drained = row(&rows, "emulator backend", "POST → every email sent");
    assert_eq!(
        (drained.value.as_str(), &drained.verdict),
        ("10.0 orders/s", &Verdict::Info)
    );
    let share = row(&rows, "emulator backend", "orders/s × calls per order");
    assert_eq!(
        share.value,
        "0.67 (16.0 calls per order; ceiling 15.0 orders/s)"
    );
    // A pipeline-bench that does not say when the emails were done: the terminal-state rate.
    let older = closed(|v| {
        v["emulator"]
            .as_object_mut()
            .unwrap()
            .remove("drained_orders_per_s");
    });
    assert!(
        older
            .iter()
            .all(|r| !r.measure.starts_with("POST → every email"))
    );
    assert_eq!(
        row(&older, "emulator backend", "orders/s × calls per order").value,
        "0.83 (16.0 calls per order; ceiling 15.0 orders/s)"
    );

    let slow = closed(|v| {
        v["emulator"]["orders_per_s"] = 0.9.into();
        v["emulator"]["post_p50_ms"] = 2700.0.into();
    });
    assert!(missed_by(
        &row(&slow, "emulator backend", "POST → terminal state").verdict,
        10.0 / 0.9
    ));
    assert!(missed_by(
        &row(&slow, "emulator backend", "POST latency").verdict,
        27.0
    ));
}

/// A pipeline-bench from before `--emulator-clients` reports neither its clients nor the
/// ceiling: its figures are shown, not judged, and nothing fails.
#[test]
fn an_emulator_run_without_the_new_fields_is_shown_not_judged() {
    let rows = closed(|v| {
        v["emulator"] = json!({"orders": 200, "orders_per_s": 1.02, "post_p50_ms": 3231.0,
            "post_p99_ms": 19339.0, "ratio_to_embedded": 0.00075});
    });
    let throughput = row(&rows, "emulator backend", "POST → terminal state");
    assert!(throughput.measure.contains("unreported clients"));
    assert_eq!(throughput.verdict, Verdict::Info);
    assert!(throughput.target.contains("--emulator-clients 4"));
    let ceiling = row(&rows, "emulator backend", "the emulator's own ceiling");
    assert_eq!(ceiling.value, "not reported by this pipeline-bench");
    assert_eq!(
        row(&rows, "emulator backend", "emulator ÷ embedded").value,
        "0.001"
    );
    assert!(!any_failed(&rows));

    let eight = closed(|v| v["emulator"]["clients"] = 8.into());
    let p50 = row(&eight, "emulator backend", "POST latency");
    assert_eq!(p50.verdict, Verdict::Info);
    // Without calls per order, the share is orders/s (to the last email) over PutItem/s.
    let no_calls = closed(|v| v["emulator"]["calls_per_order"] = Value::Null);
    assert_eq!(
        row(&no_calls, "emulator backend", "orders/s ÷ raw PutItem/s").value,
        "0.042"
    );
}

#[test]
fn the_cost_target_is_the_ratio_without_the_email() {
    let rows = rows(&full_run());
    assert_eq!(
        row(&rows, "cost", "Standard").value,
        "$163.02 per million orders (email $20.00)"
    );
    assert_eq!(
        row(&rows, "cost", "Express ÷ Standard with").verdict,
        Verdict::Info
    );
    let ratio = row(&rows, "cost", "Express ÷ Standard without");
    assert_eq!(ratio.value, "0.19 (1/5.2): $27.50 ÷ $143.02");
    assert_eq!(ratio.verdict, Verdict::Met);
    assert!(render(&rows).contains("| ≤ 0.20 (a fifth) | met |"));
}

/// Without the new fields, the ratio comes from the older `…_per_million` pair, or from the
/// totals less the email: (51.88 − 20) ÷ (163.02 − 20) = 0.22, the figure.
#[test]
fn the_cost_ratio_falls_back_to_the_totals_less_the_email() {
    let totals = json!({"orders": 1000, "express_per_million": 51.88,
        "standard_per_million": 163.02, "email_per_million": 20.0});
    let rows = cost(totals.clone());
    let ratio = row(&rows, "cost", "Express ÷ Standard without");
    assert_eq!(ratio.value, "0.22 (1/4.5): $31.88 ÷ $143.02");
    assert!(missed_by(&ratio.verdict, (31.88 / 143.02) / 0.2));

    let mut pair = totals.clone();
    pair["express_without_email_per_million"] = 25.0.into();
    pair["standard_without_email_per_million"] = 143.02.into();
    let rows = cost(pair);
    let ratio = row(&rows, "cost", "Express ÷ Standard without");
    assert!(ratio.value.starts_with("0.17 (1/5.7)"), "{}", ratio.value);
    assert_eq!(ratio.verdict, Verdict::Met);

    let mut bare = totals;
    bare.as_object_mut().map(|o| o.remove("email_per_million"));
    let rows = cost(bare);
    let failed = row(&rows, "cost", "all");
    assert_eq!(failed.verdict, Verdict::Failed);
    assert!(failed.value.contains("`email_per_million`"));
}

#[test]
fn replay_at_six_tenths_of_raw_meets_the_half_rate_target() {
    let rows = rows(&full_run());
    let ratio = row(&rows, "replay", "replay ÷ raw");
    assert_eq!(
        (ratio.value.as_str(), &ratio.verdict),
        ("0.60", &Verdict::Met)
    );
}

#[test]
fn a_function_above_1_2_times_the_sdk_hello_is_missed_and_named_as_the_worst() {
    let rows = rows(&full_run());
    assert_eq!(
        row(&rows, COLD_START, "order-placement").verdict,
        Verdict::Met
    );
    let seed = row(&rows, COLD_START, "seed-inventory");
    assert!(matches!(seed.verdict, Verdict::Missed(_)));
    assert!(seed.value.contains("init 11.50 ms (1.26 × hello-sdk)"));
    assert!(seed.value.contains("zip 6.5 MiB"));
    let all = row(&rows, COLD_START, "all 2 functions");
    assert_eq!(all.value, "1.26 × hello-sdk (seed-inventory)");
    assert!(matches!(all.verdict, Verdict::Missed(_)));
    assert_eq!(
        row(&rows, COLD_START, "hello-sdk").verdict,
        Verdict::Baseline
    );
}

/// A run limited to some functions (`--only`) cannot meet "every function".
#[test]
fn a_cold_start_run_of_only_some_functions_meets_nothing_for_all() {
    let rows = with(
        COLD_START_JSON,
        |v| v["functions"][1]["ratio_to_sdk"] = 1.1.into(),
        |r, o| r.cold_start = o,
    );
    let all = row(&rows, COLD_START, "all 2 functions");
    assert!(
        all.measure
            .contains("of the 14 deployed; run without --only"),
        "{}",
        all.measure
    );
    assert_eq!(all.verdict, Verdict::Info);
}

#[test]
fn a_function_with_failed_runs_is_a_failure() {
    let rows = with(
        COLD_START_JSON,
        |v| v["functions"][0]["failed_runs"] = 2.into(),
        |r, o| r.cold_start = o,
    );
    let placement = row(&rows, COLD_START, "order-placement");
    assert_eq!(placement.verdict, Verdict::Failed);
    assert!(placement.value.contains("2 failed runs"));
    assert!(any_failed(&rows));
}
