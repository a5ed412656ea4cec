//! `bench-report`: every benchmark of issue 6 in one markdown table, each row with its target
//! and whether this run met it.
//!
//! Runs `pipeline-bench`, `replay-bench`, `lambda-cold-start` and `cost-model` one after the
//! other, each in its own process with `--json` (the pipeline's load already comes from a
//! process other than the server's). A part that is skipped prints as a "skipped" row; a
//! benchmark that fails prints as a "failed" row, and the runner then exits non-zero.
//!
//! ```sh
//! bench-report --bin-dir /tmp/target-bench/release --emulator http://127.0.0.1:5577 \
//!   --orders 1000 --replay-events 100000 --repeats 3
//! ```

use std::process::ExitCode;

use anyhow::Context;
use order_bench::report::options::{Options, USAGE};
use order_bench::report::rows::rows;
use order_bench::report::run::run;
use order_bench::report::table::{any_failed, render};
use order_bench::report::{Outcome, Results};

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the executable's directory")?;
    let plan = Options::parse(args, dir)?.plan();
    let load_before = load_average();
    let outcome = |step: &Result<_, String>| match step {
        Ok(step) => run(step),
        Err(why) => Outcome::Skipped(why.clone()),
    };
    let results = Results {
        pipeline: outcome(&plan.pipeline),
        emulator_skipped: plan.emulator_skipped.clone(),
        replay: outcome(&plan.replay),
        cold_start: outcome(&plan.cold_start),
        cost: outcome(&plan.cost),
    };
    let rows = rows(&results);
    println!(
        "bench-report: {} cores, load average {load_before} before, {} after\n",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load_average()
    );
    print!("{}", render(&rows));
    Ok(if any_failed(&rows) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
