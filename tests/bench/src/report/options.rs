//! The runner's flags, and the command line each benchmark is run with.
//!
//! Sizes pass through to the benchmark they size; a benchmark given none uses its own
//! defaults (and its JSON says what they were).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Part;

pub const USAGE: &str = "\
bench-report [--bin-dir DIR] [--emulator URL] [--cold-start-emulator URL [--ca-bundle PEM]]
             [--skip pipeline,open-loop,overload,emulator,replay,cold-start,cost]
  closed loop: --orders N (20000) --clients N (64) --raw-rows N --closed-runs N (3; each
               closed-loop figure is the median of the runs, and a row lists each run's)
  open loop:   --rate ORDERS_PER_S (2000) --open-orders N (10000), the closed loop's clients
  overload:    --overload-secs S (60) --overload-connections N (32)
  emulator:    --emulator-orders N --emulator-clients N
  others:      --replay-events N --replay-runs N --repeats N --settle-ms MS --only a,b
               --cost-orders N --cost-clients N
  binaries:    --pipeline-bench PATH --replay-bench PATH --lambda-cold-start PATH
               --cost-model PATH --server PATH (orders) --functions-dir DIR --jitter-dir DIR
Runs each benchmark in its own process with --json (pipeline-bench three times: closed loop,
open loop, overload) and prints one markdown table with the load average around each run.
Binaries default to DIR/<name>, DIR being --bin-dir or this executable's directory.
--emulator URL (e.g. moto on loopback) adds the emulator flow and enables the cold starts.
--cold-start-emulator URL gives the cold starts an emulator of their own (e.g. moto over
HTTPS, with --ca-bundle naming the authority that signed its certificate, so each function's
first answer includes its first TLS handshake, as on AWS); without it they use --emulator.";

/// The sizes of the three `pipeline-bench` runs, which the targets fix (so they are
/// passed even when not given): the runner's flag and its default. The closed loop's 20,000
/// orders last about two seconds at capacity: its CPU per order and events/s are the steady
/// state's, where a 5,000-order loop's half second counted the server's start, the clients'
/// ramp and the last orders' drain into them (about 6 % of its CPU per order, BENCHMARKS.md's
/// twenty-third part).
const SIZES: [(&str, &str); 6] = [
    ("--orders", "20000"),
    ("--clients", "64"),
    ("--rate", "2000"),
    ("--open-orders", "10000"),
    ("--overload-secs", "60"),
    ("--overload-connections", "32"),
];

/// Flags passed through: the runner's flag, the benchmark it goes to, and that one's flag.
/// `--server` goes to every `pipeline-bench` run; the emulator's flags only with `--emulator`
/// (a `pipeline-bench` without `--emulator-clients` then still runs).
const PASSED: [(&str, Part, &str); 14] = [
    ("--raw-rows", Part::Pipeline, "--raw-rows"),
    ("--server", Part::Pipeline, "--server"),
    ("--emulator-orders", Part::Emulator, "--emulator-orders"),
    ("--emulator-clients", Part::Emulator, "--emulator-clients"),
    ("--replay-events", Part::Replay, "--events"),
    ("--replay-runs", Part::Replay, "--runs"),
    ("--repeats", Part::ColdStart, "--repeats"),
    ("--settle-ms", Part::ColdStart, "--settle-ms"),
    ("--functions-dir", Part::ColdStart, "--bin-dir"),
    ("--jitter-dir", Part::ColdStart, "--jitter-dir"),
    ("--ca-bundle", Part::ColdStart, "--ca-bundle"),
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
    /// The cold starts' own emulator (`--cold-start-emulator`), else [`Self::emulator`].
    pub cold_start_emulator: Option<String>,
    pub skip: BTreeSet<Part>,
    /// `(part, the benchmark's flag, value)`.
    pub passed: Vec<(Part, &'static str, String)>,
    /// The pipeline runs' sizes: `(the runner's flag, value)`, defaults first.
    pub sizes: Vec<(&'static str, String)>,
    /// How many times the closed loop runs (`--closed-runs`); the report shows the medians.
    pub closed_runs: usize,
}

/// The closed loop's runs when `--closed-runs` is not given: an odd count, so the median is
/// one run's figure, and few enough to add only a minute or so to the report.
pub const CLOSED_RUNS: usize = 3;

impl Options {
    /// Parses the flags (without the program name); `bin_dir` is the default directory.
    pub fn parse(args: impl IntoIterator<Item = String>, bin_dir: &Path) -> anyhow::Result<Self> {
        let mut o = Self {
            bin_dir: bin_dir.to_path_buf(),
            programs: Vec::new(),
            emulator: None,
            cold_start_emulator: None,
            skip: BTreeSet::new(),
            passed: Vec::new(),
            sizes: SIZES.iter().map(|(f, v)| (*f, (*v).to_owned())).collect(),
            closed_runs: CLOSED_RUNS,
        };
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--bin-dir" => o.bin_dir = value()?.into(),
                "--emulator" => o.emulator = Some(value()?),
                "--cold-start-emulator" => o.cold_start_emulator = Some(value()?),
                "--skip" => {
                    for name in value()?.split(',').filter(|n| !n.is_empty()) {
                        let part = Part::parse(name).with_context(|| {
                            format!(
                                "--skip {name}: not one of {}",
                                Part::ALL.map(Part::name).join(", ")
                            )
                        })?;
                        o.skip.insert(part);
                    }
                }
                "--closed-runs" => {
                    let text = value()?;
                    o.closed_runs =
                        text.parse().ok().filter(|n| *n >= 1).with_context(|| {
                            format!("--closed-runs {text}: a count of 1 or more")
                        })?;
                }
                "-h" | "--help" => bail!("{USAGE}"),
                f => {
                    if let Some((flag, _)) = SIZES.iter().find(|s| s.0 == f) {
                        o.sizes.push((flag, value()?));
                    } else if let Some((_, part, _)) = PROGRAMS.iter().find(|p| p.0 == f) {
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

    /// The value of a size flag: the last one given, else its default.
    fn size(&self, flag: &str) -> String {
        self.sizes
            .iter()
            .rev()
            .find(|(f, _)| *f == flag)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// `pipeline-bench` with `--json`, `sizes` (`(its flag, the runner's flag)`), and
    /// `--server` when given.
    fn pipeline_step(&self, sizes: &[(&str, &str)]) -> Step {
        let mut args = vec!["--json".to_owned()];
        for (to, from) in sizes {
            args.extend([(*to).to_owned(), self.size(from)]);
        }
        let server = self
            .passed
            .iter()
            .rev()
            .find(|(p, f, _)| *p == Part::Pipeline && *f == "--server");
        if let Some((_, flag, value)) = server {
            args.extend([(*flag).to_owned(), value.clone()]);
        }
        Step {
            name: "pipeline-bench",
            program: self.program(Part::Pipeline),
            args,
        }
    }

    fn skipped(&self, parts: &[Part]) -> Result<(), String> {
        match parts.iter().find(|p| self.skip.contains(p)) {
            Some(part) => Err(format!("--skip {part}")),
            None => Ok(()),
        }
    }

    /// The closed loop: its sizes, every flag passed to the pipeline, and the emulator flow's
    /// flags when it runs.
    fn closed_loop(&self, emulator: bool) -> Step {
        let mut step = self.step(Part::Pipeline, "pipeline-bench");
        let sizes = ["--orders", "--clients"].map(|f| [f.to_owned(), self.size(f)]);
        step.args.splice(1..1, sizes.into_iter().flatten());
        if let (true, Some(url)) = (emulator, &self.emulator) {
            step.args.extend(["--emulator".to_owned(), url.clone()]);
            let emulator = self.step(Part::Emulator, "pipeline-bench");
            step.args.extend(emulator.args.into_iter().skip(1));
        }
        step
    }

    /// What to run: a step per benchmark, or why it is skipped.
    pub fn plan(&self) -> Plan {
        let emulator_skipped = match (&self.emulator, self.skipped(&[Part::Emulator])) {
            (_, Err(why)) => Some(why),
            (None, _) => Some("no --emulator URL given".to_owned()),
            (Some(_), _) if self.skip.contains(&Part::Pipeline) => Some(
                "it runs inside pipeline-bench, which was skipped (--skip pipeline)".to_owned(),
            ),
            (Some(_), Ok(())) => None,
        };
        let pipeline = self
            .skipped(&[Part::Pipeline])
            .map(|()| self.closed_loop(emulator_skipped.is_none()));
        // The runs after the first: the closed loop alone (the emulator flow runs once).
        let closed_repeats = match pipeline {
            Ok(_) => vec![self.closed_loop(false); self.closed_runs - 1],
            Err(_) => Vec::new(),
        };
        let open_loop = self.skipped(&[Part::Pipeline, Part::OpenLoop]).map(|()| {
            self.pipeline_step(&[
                ("--orders", "--open-orders"),
                ("--clients", "--clients"),
                ("--rate", "--rate"),
            ])
        });
        let overload = self.skipped(&[Part::Pipeline, Part::Overload]).map(|()| {
            self.pipeline_step(&[
                ("--overload", "--overload-secs"),
                ("--overload-connections", "--overload-connections"),
            ])
        });
        let cold_start = self.skipped(&[Part::ColdStart]).and_then(|()| {
            let url = self
                .cold_start_emulator
                .as_ref()
                .or(self.emulator.as_ref())
                .ok_or_else(|| {
                    "needs --emulator URL or --cold-start-emulator URL (the functions' AWS \
                     calls go to it)"
                        .to_owned()
                })?;
            let mut step = self.step(Part::ColdStart, "lambda-cold-start");
            step.args.extend(["--endpoint".to_owned(), url.clone()]);
            Ok(step)
        });
        Plan {
            pipeline,
            closed_repeats,
            open_loop,
            overload,
            emulator_skipped,
            replay: self
                .skipped(&[Part::Replay])
                .map(|()| self.step(Part::Replay, "replay-bench")),
            cold_start,
            cost: self
                .skipped(&[Part::Cost])
                .map(|()| self.step(Part::Cost, "cost-model")),
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
    /// The closed loop's first run (with the emulator flow when it runs).
    pub pipeline: Result<Step, String>,
    /// The closed loop's further runs (`--closed-runs` − 1), each the closed loop alone.
    pub closed_repeats: Vec<Step>,
    pub open_loop: Result<Step, String>,
    pub overload: Result<Step, String>,
    pub emulator_skipped: Option<String>,
    pub replay: Result<Step, String>,
    pub cold_start: Result<Step, String>,
    pub cost: Result<Step, String>,
}
