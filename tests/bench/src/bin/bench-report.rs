//! `bench-report`: every target of issue 16 in one markdown table, each row with its target,
//! whether this run met it, and the load average around the run it comes from.
//!
//! Runs `pipeline-bench` for a closed loop of 20,000 orders from 64 clients (three times by
//! default, `--closed-runs`: the table shows the medians and each run's figures), an open loop
//! at 2,000 orders/s and a 60 s overload from 32 connections, then `replay-bench`,
//! `lambda-cold-start` and `cost-model`, one after the other, each in its own process with
//! `--json` (the pipeline's load already comes from a process other than the server's). A part
//! that is skipped prints as a "skipped" row; a benchmark that fails prints as a "failed" row,
//! and the runner then exits non-zero.
//!
//! The cold starts run against `--emulator` unless `--cold-start-emulator` names one of their
//! own: moto over HTTPS, with `--ca-bundle`, puts each function's first TLS handshake in its
//! first answer, as on AWS, and the rows say "over TLS".
//!
//! ```sh
//! bench-report --bin-dir /tmp/target-bench/release --emulator http://127.0.0.1:5577 \
//!   --cold-start-emulator https://127.0.0.1:5611 --ca-bundle ca.pem \
//!   --replay-events 100000 --repeats 3 --overload-secs 20
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use order_bench::report::options::{Options, USAGE};
use order_bench::report::repeats;
use order_bench::report::rows::rows;
use order_bench::report::run::run;
use order_bench::report::table::{any_failed, render};
use order_bench::report::{Outcome, Part, Results};

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
    let mut load = BTreeMap::new();
    // The closed loop's runs one after the other; the load average spans them all.
    let pipeline = match &plan.pipeline {
        Ok(first) => {
            let before = load_average();
            let runs = std::iter::once(first)
                .chain(&plan.closed_repeats)
                .map(run)
                .collect();
            load.insert(Part::Pipeline, format!("{before} → {}", load_average()));
            repeats::merge(runs)
        }
        Err(why) => Outcome::Skipped(why.clone()),
    };
    let mut outcome = |part: Part, step: &Result<_, String>| match step {
        Ok(step) => {
            let before = load_average();
            let outcome = run(step);
            load.insert(part, format!("{before} → {}", load_average()));
            outcome
        }
        Err(why) => Outcome::Skipped(why.clone()),
    };
    let open_loop = outcome(Part::OpenLoop, &plan.open_loop);
    let overload = outcome(Part::Overload, &plan.overload);
    let replay = outcome(Part::Replay, &plan.replay);
    let cold_start = outcome(Part::ColdStart, &plan.cold_start);
    let cost = outcome(Part::Cost, &plan.cost);
    let results = Results {
        pipeline,
        open_loop,
        overload,
        emulator_skipped: plan.emulator_skipped.clone(),
        replay,
        cold_start,
        cost,
        load,
    };
    let rows = rows(&results);
    println!(
        "bench-report: {} cores, load average (1, 5, 15 min) {load_before} before, {} after\n",
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
