//! One cold start, timed: exec a function binary against a fresh [`StubRuntime`], and measure
//! the time to its first poll (init) and to the answer of its first invocation.
//!
//! The process gets the environment Lambda gives a `provided.al2023` function (and nothing
//! else from ours), plus the function's own variables from `docs/aws-contract.md`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::runtime_api::{Invocation, Report, StubRuntime};

/// How a binary is started.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    pub program: PathBuf,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (the template's `MemorySize`).
    pub memory_mb: u32,
    /// The function's own variables (resource names) and `AWS_ENDPOINT_URL`.
    pub env: Vec<(String, String)>,
}

/// How the first invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `…/response`.
    Response,
    /// `…/error` with this `errorType` (a task's typed outcome, or a real failure).
    Error(String),
}

/// One timed run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Exec → first `GET …/next`.
    pub init: Duration,
    /// Exec → the first invocation's response (or error).
    pub first_response: Duration,
    pub outcome: Outcome,
    /// The first answer's body (for checking what the function did).
    pub body: Vec<u8>,
}

/// What Lambda sets for every `provided.al2023` function, for `name`.
pub fn lambda_environment(name: &str, memory_mb: u32, program: &Path) -> Vec<(String, String)> {
    let task_root = program
        .parent()
        .map_or_else(|| ".".to_owned(), |p| p.display().to_string());
    [
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test".to_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        // Killed whatever happened: a held poll keeps a healthy function alive forever.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `launch` against `stub` (whose queue already holds the first invocation), with its
/// output appended to `log`, and times it. Every other report is ignored.
pub async fn measure(
    launch: &Launch,
    stub: &mut StubRuntime,
    invocation: &Invocation,
    log: &Path,
    timeout: Duration,
) -> anyhow::Result<Sample> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(&launch.program);
    cmd.env_clear()
        .envs(lambda_environment(
            &launch.name,
            launch.memory_mb,
            &launch.program,
        ))
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", stub.runtime_api())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let started = Instant::now();
    let mut child = Running(
        cmd.spawn()
            .with_context(|| format!("starting {}", launch.program.display()))?,
    );
    let deadline = started + timeout;
    let mut init = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("{}: no answer within {timeout:?}", launch.name);
        }
        let Some(report) = stub.next_report(left.min(Duration::from_millis(50))).await else {
            if let Some(status) = child.0.try_wait()? {
                bail!(
                    "{} exited with {status} before answering (see {})",
                    launch.name,
                    log.display()
                );
            }
            continue;
        };
        match report {
            Report::Polled { at, n: 1 } => init = Some(at - started),
            Report::Responded {
                at,
                request_id,
                body,
            } if request_id == invocation.request_id => {
                return Ok(Sample {
                    init: init.context("answered before polling")?,
                    first_response: at - started,
                    outcome: Outcome::Response,
                    body,
                });
            }
            Report::Errored {
                at,
                request_id,
                error_type,
                body,
            } if request_id == invocation.request_id => {
                return Ok(Sample {
                    init: init.context("answered before polling")?,
                    first_response: at - started,
                    outcome: Outcome::Error(error_type),
                    body,
                });
            }
            Report::InitFailed { body, .. } => bail!(
                "{} failed to initialise: {}",
                launch.name,
                String::from_utf8_lossy(&body)
            ),
            _ => {}
        }
    }
}
