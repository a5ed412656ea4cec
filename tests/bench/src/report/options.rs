//! The runner's flags, and the command line each benchmark is run with.
//!
//! Sizes pass through to the benchmark they size; a benchmark given none uses its own
//! defaults (and its JSON says what they were).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Part;

pub const USAGE: &str = "\
bench-report [--bin-dir DIR] [--emulator URL] [--skip pipeline,emulator,replay,cold-start,cost]
  sizes:     --orders N --clients N --rate ORDERS_PER_S --raw-rows N --emulator-orders N
             --replay-events N --replay-runs N --repeats N --settle-ms MS
             --cost-orders N --cost-clients N
  binaries:  --pipeline-bench PATH --replay-bench PATH --lambda-cold-start PATH
             --cost-model PATH --server PATH (orders) --functions-dir DIR --no-jitter-dir DIR
Runs each benchmark in its own process with --json and prints one markdown table.
Binaries default to DIR/<name>, DIR being --bin-dir or this executable's directory.
--emulator URL (e.g. moto on loopback) adds the emulator flow and enables the cold starts.";

/// Flags passed through: the runner's flag, the benchmark it goes to, and that one's flag.
const PASSED: [(&str, Part, &str); 15] = [
    ("--orders", Part::Pipeline, "--orders"),
    ("--clients", Part::Pipeline, "--clients"),
    ("--rate", Part::Pipeline, "--rate"),
    ("--raw-rows", Part::Pipeline, "--raw-rows"),
    ("--server", Part::Pipeline, "--server"),
    ("--emulator-orders", Part::Emulator, "--emulator-orders"),
    ("--replay-events", Part::Replay, "--events"),
    ("--replay-runs", Part::Replay, "--runs"),
    ("--repeats", Part::ColdStart, "--repeats"),
    ("--settle-ms", Part::ColdStart, "--settle-ms"),
    ("--functions-dir", Part::ColdStart, "--bin-dir"),
    ("--no-jitter-dir", Part::ColdStart, "--no-jitter-dir"),
    ("--cost-orders", Part::Cost, "--orders"),
    ("--cost-clients", Part::Cost, "--clients"),
    ("--only", Part::ColdStart, "--only"),
];

/// The benchmarks' executables, by the flag that overrides each.
const PROGRAMS: [(&str, Part, &str); 4] = [
    ("--pipeline-bench", Part::Pipeline, "pipeline-bench"),
    ("--replay-bench", Part::Replay, "replay-bench"),
    ("--lambda-cold-start", Part::ColdStart, "lambda-cold-start"),
    ("--cost-model", Part::Cost, "cost-model"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub bin_dir: PathBuf,
    /// Executables given by flag, by part.
    pub programs: Vec<(Part, PathBuf)>,
    pub emulator: Option<String>,
    pub skip: BTreeSet<Part>,
    /// `(part, the benchmark's flag, value)`.
    pub passed: Vec<(Part, &'static str, String)>,
}

impl Options {
    /// Parses the flags (without the program name); `bin_dir` is the default directory.
    pub fn parse(args: impl IntoIterator<Item = String>, bin_dir: &Path) -> anyhow::Result<Self> {
        let mut o = Self {
            bin_dir: bin_dir.to_path_buf(),
            programs: Vec::new(),
            emulator: None,
            skip: BTreeSet::new(),
            passed: Vec::new(),
        };
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--bin-dir" => o.bin_dir = value()?.into(),
                "--emulator" => o.emulator = Some(value()?),
                "--skip" => {
                    for name in value()?.split(',').filter(|n| !n.is_empty()) {
                        let part = Part::parse(name).with_context(|| {
                            format!("--skip {name}: not one of pipeline, emulator, replay, cold-start, cost")
                        })?;
                        o.skip.insert(part);
                    }
                }
                "-h" | "--help" => bail!("{USAGE}"),
                f => {
                    if let Some((_, part, _)) = PROGRAMS.iter().find(|p| p.0 == f) {
                        o.programs.push((*part, value()?.into()));
                    } else if let Some((_, part, to)) = PASSED.iter().find(|p| p.0 == f) {
                        o.passed.push((*part, to, value()?));
                    } else {
                        bail!("unknown flag {f}\n{USAGE}");
                    }
                }
            }
        }
        Ok(o)
    }

    fn program(&self, part: Part) -> PathBuf {
        let given = self.programs.iter().rev().find(|(p, _)| *p == part);
        given.map_or_else(
            || {
                let name = PROGRAMS.iter().find(|p| p.1 == part).map_or("", |p| p.2);
                self.bin_dir.join(name)
            },
            |(_, path)| path.clone(),
        )
    }

    /// The benchmark `part` as a command with `--json` and its passed flags.
    fn step(&self, part: Part, name: &'static str) -> Step {
        let mut args = vec!["--json".to_owned()];
        for (_, flag, value) in self.passed.iter().filter(|(p, _, _)| *p == part) {
            args.extend([(*flag).to_owned(), value.clone()]);
        }
        Step {
            name,
            program: self.program(part),
            args,
        }
    }

    /// What to run: a step per benchmark, or why it is skipped.
    pub fn plan(&self) -> Plan {
        let skipped = |part: Part| {
            if self.skip.contains(&part) {
                Err(format!("--skip {part}"))
            } else {
                Ok(())
            }
        };
        let emulator_skipped = match (&self.emulator, skipped(Part::Emulator)) {
            (_, Err(why)) => Some(why),
            (None, _) => Some("no --emulator URL given".to_owned()),
            (Some(_), _) if self.skip.contains(&Part::Pipeline) => Some(
                "it runs inside pipeline-bench, which was skipped (--skip pipeline)".to_owned(),
            ),
            (Some(_), Ok(())) => None,
        };
        let pipeline = skipped(Part::Pipeline).map(|()| {
            let mut step = self.step(Part::Pipeline, "pipeline-bench");
            if let (None, Some(url)) = (&emulator_skipped, &self.emulator) {
                step.args.extend(["--emulator".to_owned(), url.clone()]);
                let emulator = self.step(Part::Emulator, "pipeline-bench");
                step.args.extend(emulator.args.into_iter().skip(1));
            }
            step
        });
        let cold_start = skipped(Part::ColdStart).and_then(|()| {
            let url = self.emulator.as_ref().ok_or_else(|| {
                "needs --emulator URL (the functions' AWS calls go to it)".to_owned()
            })?;
            let mut step = self.step(Part::ColdStart, "lambda-cold-start");
            step.args.extend(["--endpoint".to_owned(), url.clone()]);
            Ok(step)
        });
        Plan {
            pipeline,
            emulator_skipped,
            replay: skipped(Part::Replay).map(|()| self.step(Part::Replay, "replay-bench")),
            cold_start,
            cost: skipped(Part::Cost).map(|()| self.step(Part::Cost, "cost-model")),
        }
    }
}

/// One benchmark's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Step {
    /// The command as one would type it.
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Every benchmark's step, or (`Err`) why it is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub pipeline: Result<Step, String>,
    pub emulator_skipped: Option<String>,
    pub replay: Result<Step, String>,
    pub cold_start: Result<Step, String>,
    pub cost: Result<Step, String>,
}
