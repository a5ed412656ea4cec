//! `bench-report`: every benchmark of issue 6 in one table.
//!
//! Each benchmark runs as its own process (`pipeline-bench`, `replay-bench`,
//! `lambda-cold-start`, `cost-model`), asked for `--json`; this module turns their JSON objects
//! into the rows of one markdown table, each with its target and whether the run met it.
//!
//! # Layout
//! - [`options`]: the runner's flags, and the command line of each benchmark.
//! - [`run`]: one benchmark as a subprocess, its stdout's last line read as JSON.
//! - [`rows`]: a benchmark's JSON → rows, with targets and verdicts.
//! - [`table`]: a row, its verdict, and the markdown.

pub mod options;
pub mod rows;
pub mod run;
pub mod table;

#[cfg(test)]
mod tests;

use std::fmt;

/// The parts of the report, each of which can be skipped (`--skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The local pipeline and the raw SQLite baseline (`pipeline-bench`).
    Pipeline,
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
    pub const ALL: [Self; 5] = [
        Self::Pipeline,
        Self::Emulator,
        Self::Replay,
        Self::ColdStart,
        Self::Cost,
    ];

    /// The name `--skip` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pipeline => "pipeline",
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
    /// `pipeline-bench`, which also carries the emulator flow's figures.
    pub pipeline: Outcome,
    /// Why the emulator flow was not asked for; `None` when it was (its figures are then in
    /// the pipeline's JSON).
    pub emulator_skipped: Option<String>,
    pub replay: Outcome,
    pub cold_start: Outcome,
    pub cost: Outcome,
}
