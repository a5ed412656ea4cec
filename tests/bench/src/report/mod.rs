//! `bench-report`: every target of issue 16 (and the replay target of issue 6) in one table.
//!
//! Each benchmark runs as its own process (`pipeline-bench` three times: closed loop, open loop,
//! overload; `replay-bench`, `lambda-cold-start`, `cost-model`), asked for `--json`; this module
//! turns their JSON objects into the rows of one markdown table, each with its target, whether
//! the run met it, and the load average around the run it comes from.
//!
//! # Layout
//! - [`options`]: the runner's flags, and the command line of each benchmark.
//! - [`run`]: one benchmark as a subprocess, its stdout's last line read as JSON.
//! - [`repeats`]: the closed loop's runs as one outcome, its figures their medians.
//! - [`rows`]: a benchmark's JSON → rows, with targets and verdicts.
//! - [`table`]: a row, its verdict, and the markdown.

pub mod options;
pub mod repeats;
pub mod rows;
pub mod run;
pub mod table;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

/// The parts of the report, each of which can be skipped (`--skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The local pipeline in a closed loop and the raw SQLite baseline (`pipeline-bench`);
    /// skipping it skips every `pipeline-bench` run.
    Pipeline,
    /// The local pipeline in an open loop (`pipeline-bench --rate`), for the POST p99.
    OpenLoop,
    /// Sustained overload (`pipeline-bench --overload SECS`).
    Overload,
    /// The same flow on the emulator backend (inside `pipeline-bench`, with `--emulator`).
    Emulator,
    /// Audit replay against raw read + decode (`replay-bench`).
    Replay,
    /// Lambda cold starts against the two baselines (`lambda-cold-start`).
    ColdStart,
    /// Express and Standard per million orders (`cost-model`).
    Cost,
}

impl Part {
    pub const ALL: [Self; 7] = [
        Self::Pipeline,
        Self::OpenLoop,
        Self::Overload,
        Self::Emulator,
        Self::Replay,
        Self::ColdStart,
        Self::Cost,
    ];

    /// The name `--skip` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pipeline => "pipeline",
            Self::OpenLoop => "open-loop",
            Self::Overload => "overload",
            Self::Emulator => "emulator",
            Self::Replay => "replay",
            Self::ColdStart => "cold-start",
            Self::Cost => "cost",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What became of one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not run, and why (`--skip`, or something it needs was not given).
    Skipped(String),
    /// It could not start, exited non-zero, or printed no JSON object: what went wrong.
    Failed(String),
    /// Its JSON object.
    Ran(serde_json::Value),
}

/// Every benchmark's outcome, in the order of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// `pipeline-bench` in a closed loop, which also carries the emulator flow's figures.
    pub pipeline: Outcome,
    /// `pipeline-bench --rate`.
    pub open_loop: Outcome,
    /// `pipeline-bench --overload`.
    pub overload: Outcome,
    /// Why the emulator flow was not asked for; `None` when it was (its figures are then in
    /// the pipeline's JSON).
    pub emulator_skipped: Option<String>,
    pub replay: Outcome,
    pub cold_start: Outcome,
    pub cost: Outcome,
    /// The load average before → after each run that ran (the emulator's rows quote the
    /// closed loop's, which carries them).
    pub load: BTreeMap<Part, String>,
}
