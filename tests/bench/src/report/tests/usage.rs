//! The server's CPU by thread and its I/O (`server_usage`), shown beside the CPU it splits.

use serde_json::{Value, json};

use super::{OPEN_LOOP_JSON, PIPELINE_JSON, full_run, json, row};
use crate::report::Outcome;
use crate::report::rows::rows;
use crate::report::table::{Row, Verdict};

const PIPELINE: &str = "local pipeline";

fn usage() -> Value {
    json!({
        "user_us_per_order": 152.4, "system_us_per_order": 60.0,
        "threads": [
            {"kind": "tokio threads", "user_us_per_order": 93.2, "system_us_per_order": 20.4},
            {"kind": "SQLite writer", "user_us_per_order": 56.0, "system_us_per_order": 22.6},
            {"kind": "checkpointer", "user_us_per_order": 2.0, "system_us_per_order": 17.1},
            {"kind": "other", "user_us_per_order": 1.2, "system_us_per_order": 0.0},
        ],
        "io": {
            "read_calls_per_order": 3.06, "read_kib_per_order": 12.24,
            "write_calls_per_order": 15.28, "written_kib_per_order": 31.15,
            "disk_written_kib_per_order": 27.97,
        },
    })
}

fn with(fixture: &str, edit: impl FnOnce(&mut Value), open: bool) -> Vec<Row> {
    let mut v = json(fixture);
    edit(&mut v);
    let mut results = full_run();
    if open {
        results.open_loop = Outcome::Ran(v);
    } else {
        results.pipeline = Outcome::Ran(v);
    }
    rows(&results)
}

#[test]
fn the_closed_loops_cpu_is_split_by_thread_with_the_kernels_share_and_its_io() {
    let rows = with(PIPELINE_JSON, |v| v["server_usage"] = usage(), false);
    let threads = row(&rows, PIPELINE, "server CPU per order by thread");
    assert_eq!(
        threads.value,
        "tokio threads 93 + 20, SQLite writer 56 + 23, checkpointer 2 + 17, other 1 + 0; \
         the kernel's 60 of 212 µs (28 %)"
    );
    assert_eq!(threads.verdict, Verdict::Info);
    assert!(
        threads.measure.ends_with("(at capacity)"),
        "{}",
        threads.measure
    );
    let io = row(&rows, PIPELINE, "server read and write system calls");
    assert_eq!(
        io.value,
        "writes 15.3 calls, 31.1 KiB (28.0 KiB reached the disk); reads 3.1 calls, 12.2 KiB"
    );
    // They follow the CPU row they split, which is still the one judged.
    let at = |prefix: &str| rows.iter().position(|r| r.measure.starts_with(prefix));
    assert!(at("server CPU per order (user + system)") < at("server CPU per order by thread"));
    assert_eq!(row(&rows, PIPELINE, "server CPU").value, "212 µs");
}

#[test]
fn several_runs_say_the_split_is_the_median_runs_and_no_io_gives_no_io_row() {
    let rows = with(
        PIPELINE_JSON,
        |v| {
            v["server_usage"] = usage();
            v["server_usage"]["io"] = Value::Null;
            v["closed_runs"] = json!([
                {"orders_per_s": 4000.0, "cpu_us_per_order": 220.0, "events_per_raw_single": 0.8},
                {"orders_per_s": 4210.5, "cpu_us_per_order": 212.4, "events_per_raw_single": 0.9},
            ]);
        },
        false,
    );
    let threads = row(&rows, PIPELINE, "server CPU per order by thread");
    assert!(threads.measure.ends_with("(at capacity, the median run)"));
    assert!(
        rows.iter()
            .all(|r| !r.measure.starts_with("server read and write"))
    );
}

#[test]
fn no_split_without_its_figures_nor_for_the_open_loop() {
    // A pipeline-bench from before the split.
    let rows = with(PIPELINE_JSON, |_| {}, false);
    assert!(rows.iter().all(|r| !r.measure.contains("by thread")));
    // Below capacity the split would describe a different load: the open loop shows none.
    let rows = with(OPEN_LOOP_JSON, |v| v["server_usage"] = usage(), true);
    assert!(rows.iter().all(|r| !r.measure.contains("by thread")));
    // A malformed split is a failed row, not a panic.
    let rows = with(
        PIPELINE_JSON,
        |v| v["server_usage"] = json!({"user_us_per_order": 1.0}),
        false,
    );
    assert!(rows.iter().any(|r| r.verdict == Verdict::Failed));
}
