//! One benchmark as a subprocess: its stderr passed through (prefixed with its name), its
//! stdout's last non-empty line read as its JSON object.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::thread;

use serde_json::Value;

use super::Outcome;
use super::options::Step;

/// How many of its last stderr lines a failure quotes when it printed no error line.
const TAIL: usize = 3;

/// Runs `step` to its end. A start that fails, a non-zero exit, or a stdout whose last line
/// is not a JSON object makes [`Outcome::Failed`].
pub fn run(step: &Step) -> Outcome {
    eprintln!("bench-report: {}", step.command_line());
    let mut child = match Command::new(&step.program)
        .args(&step.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Outcome::Failed(format!("cannot start {}: {e}", step.program.display()));
        }
    };
    let name = step.name;
    let stderr = child.stderr.take().map(|err| {
        thread::spawn(move || {
            let mut tail = VecDeque::with_capacity(TAIL);
            let mut error = None;
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[{name}] {line}");
                if error.is_none() && is_error_line(&line) {
                    error = Some(line.clone());
                }
                if tail.len() == TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            error.unwrap_or_else(|| tail.into_iter().collect::<Vec<_>>().join(" / "))
        })
    });
    let mut stdout = String::new();
    let read = child
        .stdout
        .take()
        .map(|mut out| out.read_to_string(&mut stdout));
    let status = child.wait();
    let tail = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match (status, read) {
        (Err(e), _) => Outcome::Failed(format!("waiting for {name}: {e}")),
        (_, Some(Err(e))) => Outcome::Failed(format!("reading {name}'s output: {e}")),
        (Ok(status), _) if !status.success() => {
            Outcome::Failed(format!("{name} exited with {status}: {tail}"))
        }
        (Ok(_), _) => parse_output(name, &stdout),
    }
}

/// Whether a stderr line says why the benchmark stopped: `main`'s `Error: …` (anyhow) or a
/// panic's first line. With `RUST_BACKTRACE` set, the last lines are a backtrace, which says
/// nothing a reader of the table can use.
pub fn is_error_line(line: &str) -> bool {
    line.starts_with("Error: ") || (line.starts_with("thread '") && line.contains("panicked at"))
}

/// The JSON object on the last non-empty line of a benchmark's stdout.
pub fn parse_output(name: &str, stdout: &str) -> Outcome {
    let Some(last) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Outcome::Failed(format!("{name} printed nothing on stdout"));
    };
    match serde_json::from_str::<Value>(last) {
        Ok(v) if v.is_object() => Outcome::Ran(v),
        _ => Outcome::Failed(format!(
            "{name}'s last line is not a JSON object (does it take --json?)"
        )),
    }
}
