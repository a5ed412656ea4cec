//! The report assembled from fixture JSON (what the benchmarks print with `--json`); no
//! timing is asserted, only what the table says about the figures it is given.

mod targets;
mod usage;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::options::Options;
use super::rows::rows;
use super::run::parse_output;
use super::table::{Row, Verdict, any_failed, grouped, render};
use super::{Outcome, Part, Results};

const PIPELINE_JSON: &str = include_str!("fixtures/pipeline.json");
const OPEN_LOOP_JSON: &str = include_str!("fixtures/open-loop.json");
const OVERLOAD_JSON: &str = include_str!("fixtures/overload.json");
const REPLAY_JSON: &str = include_str!("fixtures/replay.json");
const COLD_START_JSON: &str = include_str!("fixtures/cold-start.json");
const COST_JSON: &str = include_str!("fixtures/cost.json");

fn ran(json: &str) -> Outcome {
    Outcome::Ran(serde_json::from_str(json).expect("fixture is JSON"))
}

fn json(fixture: &str) -> Value {
    serde_json::from_str(fixture).expect("fixture is JSON")
}

fn full_run() -> Results {
    Results {
        pipeline: ran(PIPELINE_JSON),
        open_loop: ran(OPEN_LOOP_JSON),
        overload: ran(OVERLOAD_JSON),
        emulator_skipped: None,
        replay: ran(REPLAY_JSON),
        cold_start: ran(COLD_START_JSON),
        cost: ran(COST_JSON),
        load: Part::ALL
            .into_iter()
            .map(|p| (p, format!("0.50 0.40 0.30 → 1.{} 0.60 0.40", p as u8)))
            .collect(),
    }
}

fn row<'a>(rows: &'a [Row], part: &str, measure_starts: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.part == part && r.measure.starts_with(measure_starts))
        .unwrap_or_else(|| panic!("no row {part} / {measure_starts}…"))
}

fn parse(args: &[&str]) -> Options {
    Options::parse(args.iter().map(|&a| a.to_owned()), Path::new("/bin-dir")).expect("flags")
}

#[test]
fn a_full_run_has_a_row_for_every_figure_and_no_failure() {
    let rows = rows(&full_run());
    let parts: Vec<&str> = rows.iter().map(|r| r.part.as_str()).collect();
    for part in [
        "local pipeline",
        "local, open loop",
        "overload",
        "emulator backend",
        "replay",
        "cold start",
        "cost",
    ] {
        assert!(parts.contains(&part), "{part} missing");
    }
    assert!(!any_failed(&rows));
    let table = render(&rows);
    assert!(
        table.starts_with(
            "| part | measure | value | target | result | load avg before → after |\n"
        )
    );
    assert_eq!(table.lines().count(), rows.len() + 2);
}

/// Each row quotes the load average around the run it comes from; the emulator's rows come
/// from the closed loop's run.
#[test]
fn every_row_quotes_the_load_average_of_its_run() {
    let results = full_run();
    let rows = rows(&results);
    assert!(rows.iter().all(|r| !r.load.is_empty()));
    let load = |part: &str| &row(&rows, part, "").load;
    assert_eq!(load("local pipeline"), &results.load[&Part::Pipeline]);
    assert_eq!(load("emulator backend"), &results.load[&Part::Pipeline]);
    assert_eq!(load("overload"), &results.load[&Part::Overload]);
    assert_eq!(load("cost"), &results.load[&Part::Cost]);
    assert!(render(&rows).contains("| met | 0.50 0.40 0.30 → 1.1 0.60 0.40 |"));
    let skipped = Results {
        load: BTreeMap::new(),
        ..full_run()
    };
    assert!(render(&super::rows::rows(&skipped)).contains("| – |\n"));
}

#[test]
fn skipped_parts_print_as_skipped_rows() {
    let results = Results {
        pipeline: Outcome::Skipped("--skip pipeline".into()),
        open_loop: Outcome::Skipped("--skip pipeline".into()),
        overload: Outcome::Skipped("--skip overload".into()),
        emulator_skipped: Some("no --emulator URL given".into()),
        replay: Outcome::Skipped("--skip replay".into()),
        cold_start: Outcome::Skipped("needs --emulator URL".into()),
        cost: Outcome::Skipped("--skip cost".into()),
        load: BTreeMap::new(),
    };
    let rows = rows(&results);
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|r| r.verdict == Verdict::Skipped));
    assert_eq!(rows[3].value, "skipped: no --emulator URL given");
    assert!(!any_failed(&rows));
}

#[test]
fn a_failed_benchmark_is_a_failed_row_and_fails_the_report() {
    let results = Results {
        replay: Outcome::Failed("replay-bench exited with exit status: 1".into()),
        ..full_run()
    };
    let rows = rows(&results);
    let replay: Vec<&Row> = rows.iter().filter(|r| r.part == "replay").collect();
    assert_eq!(replay.len(), 1);
    assert_eq!(
        replay[0].value,
        "failed: replay-bench exited with exit status: 1"
    );
    assert!(any_failed(&rows));
    assert!(render(&rows).contains("| **failed** |"));
}

#[test]
fn json_without_a_needed_figure_is_a_failure_of_that_benchmark() {
    let results = Results {
        cost: ran(r#"{"orders": 1000, "express_per_million": 62.5}"#),
        open_loop: ran(r#"{"orders": 10000, "clients": 64, "rate": 2000}"#),
        ..full_run()
    };
    let rows = rows(&results);
    let cost = row(&rows, "cost", "all");
    assert_eq!(cost.verdict, Verdict::Failed);
    assert!(cost.value.contains("`standard_per_million`"));
    let open = row(&rows, "local, open loop", "all");
    assert_eq!(open.verdict, Verdict::Failed);
    assert!(open.value.contains("`post_p50_ms`"));
}

#[test]
fn the_open_loop_shows_its_cpu_per_order_beside_the_judged_closed_loop() {
    let rows = rows(&full_run());
    let open = row(&rows, "local, open loop", "server CPU per order");
    assert_eq!(open.value, "190 µs");
    assert_eq!(open.verdict, Verdict::Info);
    // Only the closed loop's figure, at capacity, is judged against 150 µs.
    let closed = row(&rows, "local pipeline", "server CPU per order");
    assert_ne!(closed.verdict, Verdict::Info);

    // An open loop that did not measure its server (no figure) leaves the row out.
    let results = Results {
        open_loop: ran(
            r#"{"orders": 10000, "clients": 64, "rate": 2000, "post_p50_ms": 1.0,
                "post_p99_ms": 4.0, "orders_per_s": 1990}"#,
        ),
        ..full_run()
    };
    let rows = super::rows::rows(&results);
    assert!(
        !rows
            .iter()
            .any(|r| r.part == "local, open loop" && r.measure.starts_with("server CPU"))
    );
}

#[test]
fn a_pipeline_that_failed_takes_its_emulator_row_with_it() {
    let results = Results {
        pipeline: Outcome::Failed("orders did not start".into()),
        ..full_run()
    };
    let rows = rows(&results);
    assert_eq!(
        row(&rows, "emulator backend", "the same flow").verdict,
        Verdict::Failed
    );
}

#[test]
fn the_last_stdout_line_is_the_json_and_anything_else_is_a_failure() {
    let out = "a progress line\n{\"orders\": 3}\n\n";
    assert_eq!(parse_output("x", out), ran(r#"{"orders": 3}"#));
    assert!(matches!(
        parse_output("x", "| a table |\n"),
        Outcome::Failed(_)
    ));
    assert!(matches!(parse_output("x", "[1, 2]"), Outcome::Failed(_)));
    assert!(matches!(parse_output("x", ""), Outcome::Failed(_)));
}

/// With `RUST_BACKTRACE` set, a benchmark's last stderr lines are a backtrace: the failure
/// quotes its `Error: …` line instead, which is what tells an old pipeline-bench's refusal of
/// `--overload` apart from a crash.
#[test]
fn a_failure_quotes_the_error_line_rather_than_a_backtrace() {
    let step = super::options::Step {
        name: "pipeline-bench",
        program: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            "echo 'Error: unknown flag --overload (use --orders N)' >&2; \
             for i in 1 2 3 4; do echo \"  $i: frame\" >&2; done; exit 1"
                .into(),
        ],
    };
    let outcome = super::run::run(&step);
    let Outcome::Failed(what) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        what,
        "pipeline-bench exited with exit status: 1: Error: unknown flag --overload (use --orders N)"
    );
    let results = Results {
        overload: outcome,
        ..full_run()
    };
    assert_eq!(
        row(&rows(&results), "overload", "all").verdict,
        Verdict::Skipped
    );
    assert!(super::run::is_error_line(
        "thread 'main' panicked at tests/src/bin/pipeline-bench.rs:9:5:"
    ));
}

#[test]
fn sizes_pass_through_to_the_benchmark_they_size() {
    let plan = parse(&[
        "--orders",
        "1000",
        "--replay-events",
        "100000",
        "--repeats",
        "3",
        "--cost-orders",
        "200",
        "--emulator",
        "http://127.0.0.1:5599",
        "--emulator-orders",
        "20",
        "--emulator-clients",
        "4",
        "--server",
        "/s/orders",
        "--rate",
        "1500",
        "--overload-secs",
        "20",
    ])
    .plan();
    let pipeline = plan.pipeline.unwrap();
    assert_eq!(pipeline.program, Path::new("/bin-dir/pipeline-bench"));
    assert_eq!(
        pipeline.args,
        [
            "--json",
            "--orders",
            "1000",
            "--clients",
            "64",
            "--server",
            "/s/orders",
            "--emulator",
            "http://127.0.0.1:5599",
            "--emulator-orders",
            "20",
            "--emulator-clients",
            "4"
        ]
    );
    let open = plan.open_loop.unwrap();
    assert_eq!(open.program, Path::new("/bin-dir/pipeline-bench"));
    assert_eq!(
        open.args,
        [
            "--json",
            "--orders",
            "10000",
            "--clients",
            "64",
            "--rate",
            "1500",
            "--server",
            "/s/orders"
        ]
    );
    assert_eq!(
        plan.overload.unwrap().args,
        [
            "--json",
            "--overload",
            "20",
            "--overload-connections",
            "32",
            "--server",
            "/s/orders"
        ]
    );
    assert_eq!(plan.replay.unwrap().args, ["--json", "--events", "100000"]);
    assert_eq!(
        plan.cold_start.unwrap().args,
        [
            "--json",
            "--repeats",
            "3",
            "--endpoint",
            "http://127.0.0.1:5599"
        ]
    );
    assert_eq!(plan.cost.unwrap().args, ["--json", "--orders", "200"]);
    assert_eq!(plan.emulator_skipped, None);
}

#[test]
fn without_an_emulator_the_emulator_flow_and_the_cold_starts_are_skipped() {
    let plan = parse(&["--emulator-orders", "20"]).plan();
    assert_eq!(
        plan.pipeline.unwrap().args,
        ["--json", "--orders", "20000", "--clients", "64"]
    );
    assert_eq!(
        plan.open_loop.unwrap().args,
        [
            "--json",
            "--orders",
            "10000",
            "--clients",
            "64",
            "--rate",
            "2000"
        ]
    );
    assert_eq!(
        plan.overload.unwrap().args,
        ["--json", "--overload", "60", "--overload-connections", "32"]
    );
    assert!(plan.emulator_skipped.is_some());
    assert!(
        plan.cold_start
            .unwrap_err()
            .contains("--emulator URL or --cold-start-emulator URL")
    );
}

#[test]
fn skip_and_program_flags_are_honoured() {
    let o = parse(&[
        "--skip",
        "cold-start,emulator",
        "--emulator",
        "http://e",
        "--cost-model",
        "/fake/cost-model",
    ]);
    assert!(o.skip.contains(&Part::ColdStart) && o.skip.contains(&Part::Emulator));
    let plan = o.plan();
    assert_eq!(plan.cold_start.unwrap_err(), "--skip cold-start");
    assert_eq!(plan.emulator_skipped.as_deref(), Some("--skip emulator"));
    assert_eq!(
        plan.pipeline.unwrap().args,
        ["--json", "--orders", "20000", "--clients", "64"]
    );
    assert_eq!(plan.cost.unwrap().program, Path::new("/fake/cost-model"));
    let unknown = Options::parse(["--skip".to_owned(), "nope".to_owned()], Path::new("/"));
    assert!(unknown.is_err());
}

#[test]
fn skipping_the_pipeline_skips_all_three_of_its_runs_and_each_can_be_skipped_alone() {
    let plan = parse(&["--skip", "pipeline"]).plan();
    assert_eq!(plan.pipeline.unwrap_err(), "--skip pipeline");
    assert_eq!(plan.open_loop.unwrap_err(), "--skip pipeline");
    assert_eq!(plan.overload.unwrap_err(), "--skip pipeline");
    let plan = parse(&["--skip", "overload,open-loop"]).plan();
    assert!(plan.pipeline.is_ok());
    assert_eq!(plan.open_loop.unwrap_err(), "--skip open-loop");
    assert_eq!(plan.overload.unwrap_err(), "--skip overload");
}

#[test]
fn counts_are_grouped_by_thousands() {
    assert_eq!(grouped(1_225.4), "1,225");
    assert_eq!(grouped(999.6), "1,000");
    assert_eq!(grouped(12.0), "12");
    assert_eq!(grouped(1_234_567.0), "1,234,567");
}

#[test]
fn the_closed_loop_runs_three_times_by_default_and_only_the_first_runs_the_emulator_flow() {
    let plan = parse(&["--emulator", "http://e", "--server", "/s/orders"]).plan();
    let first = plan.pipeline.unwrap();
    assert!(first.args.iter().any(|a| a == "--emulator"));
    assert_eq!(plan.closed_repeats.len(), 2);
    for repeat in &plan.closed_repeats {
        assert_eq!(
            repeat.args,
            [
                "--json",
                "--orders",
                "20000",
                "--clients",
                "64",
                "--server",
                "/s/orders"
            ]
        );
    }
    assert!(
        parse(&["--closed-runs", "1"])
            .plan()
            .closed_repeats
            .is_empty()
    );
    assert_eq!(
        parse(&["--closed-runs", "5"]).plan().closed_repeats.len(),
        4
    );
    assert!(
        parse(&["--skip", "pipeline"])
            .plan()
            .closed_repeats
            .is_empty()
    );
    for bad in ["0", "three", "-1"] {
        let refused = Options::parse(["--closed-runs".to_owned(), bad.to_owned()], Path::new("/"));
        assert!(refused.is_err(), "--closed-runs {bad}");
    }
}

#[test]
fn several_closed_loops_show_their_medians_judge_the_median_ratio_and_list_each_run() {
    let run = |orders: f64, cpu: f64, events: f64| {
        let mut v = json(PIPELINE_JSON);
        v["orders_per_s"] = orders.into();
        v["cpu_us_per_order"] = cpu.into();
        v["events_per_s"] = events.into();
        Outcome::Ran(v)
    };
    // Raw 28,000 rows/s in each run: ratios 0.75, 0.85, 0.80.
    let merged = super::repeats::merge(vec![
        run(9_000.0, 172.0, 21_000.0),
        run(10_500.0, 140.0, 23_800.0),
        run(10_000.0, 160.0, 22_400.0),
    ]);
    let rows = rows(&Results {
        pipeline: merged,
        ..full_run()
    });
    let throughput = row(&rows, "local pipeline", "POST → terminal state");
    assert!(
        throughput
            .measure
            .ends_with("closed loop, median of 3 runs")
    );
    assert_eq!(throughput.value, "10,000 orders/s");
    let cpu = row(&rows, "local pipeline", "server CPU");
    assert_eq!(cpu.value, "160 µs");
    assert!(matches!(cpu.verdict, Verdict::Missed(_)));
    let per_raw = row(&rows, "local pipeline", "events/s ÷ raw 1-row");
    assert_eq!(per_raw.value, "0.80");
    assert_eq!(per_raw.verdict, Verdict::Met);
    let each = row(&rows, "local pipeline", "each closed-loop run");
    assert_eq!(
        each.value,
        "9,000 / 10,500 / 10,000 orders/s; 172 / 140 / 160 µs; events/s ÷ raw 0.75 / 0.85 / 0.80"
    );
    assert_eq!(each.verdict, Verdict::Info);
    assert!(!any_failed(&rows));
}

#[test]
fn the_cold_starts_can_have_an_emulator_of_their_own_over_tls() {
    let plan = parse(&[
        "--emulator",
        "http://127.0.0.1:5599",
        "--cold-start-emulator",
        "https://127.0.0.1:5611",
        "--ca-bundle",
        "/tls/ca.pem",
    ])
    .plan();
    assert_eq!(
        plan.cold_start.unwrap().args,
        [
            "--json",
            "--ca-bundle",
            "/tls/ca.pem",
            "--endpoint",
            "https://127.0.0.1:5611"
        ]
    );
    // The emulator flow keeps the plain one, and nothing but the cold starts gets the bundle.
    let pipeline = plan.pipeline.unwrap();
    assert!(
        pipeline
            .args
            .windows(2)
            .any(|w| w == ["--emulator", "http://127.0.0.1:5599"])
    );
    assert!(!pipeline.args.iter().any(|a| a.contains("ca.pem")));
    // Alone, it enables the cold starts (the emulator flow stays skipped).
    let alone = parse(&["--cold-start-emulator", "https://127.0.0.1:5611"]).plan();
    assert!(alone.emulator_skipped.is_some());
    assert_eq!(
        alone.cold_start.unwrap().args,
        ["--json", "--endpoint", "https://127.0.0.1:5611"]
    );
}

#[test]
fn cold_starts_measured_over_tls_say_so_in_every_row() {
    let plain = rows(&full_run());
    assert!(
        !plain
            .iter()
            .any(|r| r.part == "cold start" && r.measure.contains("TLS"))
    );
    let mut over_tls = json(COLD_START_JSON);
    over_tls["over_tls"] = true.into();
    let tls = rows(&Results {
        cold_start: Outcome::Ran(over_tls),
        ..full_run()
    });
    let cold: Vec<&Row> = tls.iter().filter(|r| r.part == "cold start").collect();
    let per_binary = cold
        .iter()
        .filter(|r| !r.measure.starts_with("all "))
        .collect::<Vec<_>>();
    assert!(!per_binary.is_empty());
    for r in per_binary {
        assert!(r.measure.ends_with("runs, over TLS)"), "{}", r.measure);
    }
    assert_eq!(
        row(&tls, "cold start", "hello-sdk (baseline").measure,
        "hello-sdk (baseline, 10 runs, over TLS)"
    );
}
