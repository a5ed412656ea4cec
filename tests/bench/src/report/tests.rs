//! The report assembled from fixture JSON (what the benchmarks print with `--json`); no
//! timing is asserted, only what the table says about the figures it is given.

use std::path::Path;

use serde_json::Value;

use super::options::Options;
use super::rows::rows;
use super::run::parse_output;
use super::table::{Row, Verdict, any_failed, grouped, render};
use super::{Outcome, Part, Results};

const PIPELINE: &str = include_str!("fixtures/pipeline.json");
const REPLAY: &str = include_str!("fixtures/replay.json");
const COLD_START: &str = include_str!("fixtures/cold-start.json");
const COST: &str = include_str!("fixtures/cost.json");

fn ran(json: &str) -> Outcome {
    Outcome::Ran(serde_json::from_str(json).expect("fixture is JSON"))
}

fn full_run() -> Results {
    Results {
        pipeline: ran(PIPELINE),
        emulator_skipped: None,
        replay: ran(REPLAY),
        cold_start: ran(COLD_START),
        cost: ran(COST),
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
        "emulator backend",
        "replay",
        "cold start",
        "cost",
    ] {
        assert!(parts.contains(&part), "{part} missing");
    }
    assert!(!any_failed(&rows));
    let table = render(&rows);
    assert!(table.starts_with("| part | measure | value | target | result |\n"));
    assert_eq!(table.lines().count(), rows.len() + 2);
}

#[test]
fn the_pipeline_rows_judge_throughput_latency_and_cpu_against_the_issue() {
    let rows = rows(&full_run());
    let throughput = row(&rows, "local pipeline", "POST → terminal state");
    assert_eq!(throughput.value, "1,354 orders/s");
    assert_eq!(throughput.verdict, Verdict::Met);
    // A closed loop runs at capacity, where POSTs queue by design: its p99 is shown, not judged.
    let latency = row(&rows, "local pipeline", "POST latency");
    assert_eq!(latency.value, "16.8 / 63.9 ms");
    assert_eq!(latency.verdict, Verdict::Info);
    assert!(matches!(
        row(&rows, "local pipeline", "server CPU").verdict,
        Verdict::Missed(_)
    ));
    let raw = row(&rows, "local pipeline", "raw SQLite, 1 row");
    assert_eq!(
        (raw.value.as_str(), &raw.verdict),
        ("25,000 rows/s", &Verdict::Baseline)
    );
    assert_eq!(
        row(&rows, "local pipeline", "events/s ÷ raw 1-row").value,
        "0.33"
    );
    assert_eq!(
        row(&rows, "emulator backend", "emulator ÷ embedded").value,
        "0.001"
    );
}

/// At an offered 1,000 orders/s the p99 is judged; the throughput (the offered rate, less the
/// drain of the last orders) is not, since capacity is the closed loop's figure.
#[test]
fn an_open_loop_at_the_target_rate_judges_the_p99_and_not_the_throughput() {
    let mut v: Value = serde_json::from_str(PIPELINE).unwrap();
    v["rate"] = 1000.0.into();
    let results = Results {
        pipeline: Outcome::Ran(v),
        ..full_run()
    };
    let rows = rows(&results);
    let latency = row(&rows, "local pipeline", "POST latency");
    assert!(matches!(latency.verdict, Verdict::Missed(by) if (by - 63.9 / 20.0).abs() < 1e-9));
    let throughput = row(&rows, "local pipeline", "POST → terminal state");
    assert_eq!(throughput.verdict, Verdict::Info);
}

#[test]
fn an_open_loop_below_the_target_rate_does_not_judge_throughput() {
    let mut v: Value = serde_json::from_str(PIPELINE).unwrap();
    v["rate"] = 500.0.into();
    let results = Results {
        pipeline: Outcome::Ran(v),
        ..full_run()
    };
    let rows = rows(&results);
    let throughput = row(&rows, "local pipeline", "POST → terminal state");
    assert!(throughput.measure.contains("open loop at 500 orders/s"));
    assert_eq!(throughput.verdict, Verdict::Info);
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
        row(&rows, "cold start", "order-placement").verdict,
        Verdict::Met
    );
    let seed = row(&rows, "cold start", "seed-inventory");
    assert!(matches!(seed.verdict, Verdict::Missed(_)));
    assert!(seed.value.contains("init 11.50 ms (1.26 × hello-sdk)"));
    assert!(seed.value.contains("zip 6.5 MiB"));
    let all = row(&rows, "cold start", "all 2 functions");
    assert_eq!(all.value, "1.26 × hello-sdk (seed-inventory)");
    assert!(matches!(all.verdict, Verdict::Missed(_)));
    assert_eq!(
        row(&rows, "cold start", "hello-sdk").verdict,
        Verdict::Baseline
    );
}

#[test]
fn a_function_with_failed_runs_is_a_failure() {
    let mut v: Value = serde_json::from_str(COLD_START).unwrap();
    v["functions"][0]["failed_runs"] = 2.into();
    let results = Results {
        cold_start: Outcome::Ran(v),
        ..full_run()
    };
    let rows = rows(&results);
    let placement = row(&rows, "cold start", "order-placement");
    assert_eq!(placement.verdict, Verdict::Failed);
    assert!(placement.value.contains("2 failed runs"));
    assert!(any_failed(&rows));
}

#[test]
fn the_cost_ratio_is_express_over_standard_and_misses_above_a_fifth() {
    let rows = rows(&full_run());
    assert_eq!(
        row(&rows, "cost", "Standard").value,
        "$173.60 per million orders"
    );
    assert_eq!(
        row(&rows, "cost", "deployed design").value,
        "$62.51 per million orders"
    );
    let ratio = row(&rows, "cost", "Express ÷ Standard");
    assert_eq!(ratio.value, "0.36 (1/2.8)");
    assert!(matches!(ratio.verdict, Verdict::Missed(by) if by > 1.7 && by < 1.9));
    assert!(render(&rows).contains("| ≤ 0.20 (a fifth) | **missed** (by 1.80×) |"));
}

#[test]
fn skipped_parts_print_as_skipped_rows() {
    let results = Results {
        pipeline: Outcome::Skipped("--skip pipeline".into()),
        emulator_skipped: Some("no --emulator URL given".into()),
        replay: Outcome::Skipped("--skip replay".into()),
        cold_start: Outcome::Skipped("needs --emulator URL".into()),
        cost: Outcome::Skipped("--skip cost".into()),
    };
    let rows = rows(&results);
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.verdict == Verdict::Skipped));
    assert_eq!(rows[1].value, "skipped: no --emulator URL given");
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
        ..full_run()
    };
    let rows = rows(&results);
    let cost = row(&rows, "cost", "all");
    assert_eq!(cost.verdict, Verdict::Failed);
    assert!(cost.value.contains("`standard_per_million`"));
}

#[test]
fn a_pipeline_that_failed_takes_its_emulator_row_with_it() {
    let results = Results {
        pipeline: Outcome::Failed("orders did not start".into()),
        ..full_run()
    };
    let rows = rows(&results);
    assert_eq!(
        row(&rows, "emulator backend", "same flow").verdict,
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
            "--emulator",
            "http://127.0.0.1:5599",
            "--emulator-orders",
            "20"
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
    assert_eq!(plan.pipeline.unwrap().args, ["--json"]);
    assert!(plan.emulator_skipped.is_some());
    assert!(plan.cold_start.unwrap_err().contains("--emulator"));
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
    assert_eq!(plan.pipeline.unwrap().args, ["--json"]);
    assert_eq!(plan.cost.unwrap().program, Path::new("/fake/cost-model"));
    let unknown = Options::parse(["--skip".to_owned(), "nope".to_owned()], Path::new("/"));
    assert!(unknown.is_err());
}

#[test]
fn counts_are_grouped_by_thousands() {
    assert_eq!(grouped(1_225.4), "1,225");
    assert_eq!(grouped(999.6), "1,000");
    assert_eq!(grouped(12.0), "12");
    assert_eq!(grouped(1_234_567.0), "1,234,567");
}
