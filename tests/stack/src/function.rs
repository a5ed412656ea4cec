//! One function: its release binary run natively, pointed at its own stub Runtime API
//! (`AWS_LAMBDA_RUNTIME_API`), with the environment the stack gave it plus what Lambda sets.
//! Invocations are handed over one at a time, as one Lambda instance takes them; a process
//! that dies is started again on the next invocation, as Lambda replaces an instance.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use order_testkit::runtime_api::{Invocation, Report, StubRuntime};
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::stack;

/// Why an invocation has no answer from the handler.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The handler returned an error: Lambda's `errorType` and the error document.
    #[error("{error_type}: {body}")]
    Function { error_type: String, body: String },
    /// The process could not start, failed its init, died, or outlived the function's timeout.
    #[error("{kind}: {message}")]
    Runtime { kind: &'static str, message: String },
}

impl InvokeError {
    /// The error's name as Step Functions and Lambda report it.
    pub fn error_type(&self) -> &str {
        match self {
            Self::Function { error_type, .. } => error_type,
            Self::Runtime { kind, .. } => kind,
        }
    }

    fn runtime(kind: &'static str, message: impl Into<String>) -> Self {
        Self::Runtime {
            kind,
            message: message.into(),
        }
    }
}

struct Instance {
    stub: StubRuntime,
    child: Child,
}

/// A function of the stack and its running binary.
pub struct RunningFunction {
    pub config: stack::Function,
    binary: PathBuf,
    base_env: Vec<(String, String)>,
    log: PathBuf,
    instance: Mutex<Option<Instance>>,
}

impl RunningFunction {
    /// Prepares `config` to run `binary` (started on first use). `base_env` is what every
    /// function gets besides its own variables (the emulator's endpoint and credentials);
    /// the process's output is appended to `log`.
    pub fn new(
        config: stack::Function,
        binary: PathBuf,
        base_env: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        Self {
            config,
            binary,
            base_env,
            log,
            instance: Mutex::new(None),
        }
    }

    /// The binary this function runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    fn lambda_env(&self) -> Vec<(String, String)> {
        let name = &self.config.name;
        vec![
            ("AWS_LAMBDA_FUNCTION_NAME".into(), name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
                self.config.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME".into(),
                format!("/aws/lambda/{name}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME".into(),
                format!("stack/{}", ulid::Ulid::generate()),
            ),
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
            ("LAMBDA_TASK_ROOT".into(), "/var/task".into()),
        ]
    }

    async fn start(&self) -> Result<Instance, InvokeError> {
        let stub = StubRuntime::start(&self.config.name)
            .await
            .map_err(|e| InvokeError::runtime("Runtime.StubFailed", e.to_string()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| InvokeError::runtime("Runtime.LogFailed", e.to_string()))?;
        let err_log = log
            .try_clone()
            .map_err(|e| InvokeError::runtime("Runtime.LogFailed", e.to_string()))?;
        let child = Command::new(&self.binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.lambda_env())
            .envs(self.base_env.iter().cloned())
            .envs(self.config.environment.iter())
            .env("AWS_LAMBDA_RUNTIME_API", stub.runtime_api())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                InvokeError::runtime(
                    "Runtime.ExitError",
                    format!("starting {}: {e}", self.binary.display()),
                )
            })?;
        Ok(Instance { stub, child })
    }

    /// Invokes the function with `event` and waits for its answer (at most its timeout).
    pub async fn invoke(&self, event: &Value) -> Result<Value, InvokeError> {
        let mut slot = self.instance.lock().await;
        let alive = match slot.as_mut() {
            Some(i) => matches!(i.child.try_wait(), Ok(None)),
            None => false,
        };
        if !alive {
            *slot = Some(self.start().await?);
        }
        let Some(instance) = slot.as_mut() else {
            return Err(InvokeError::runtime("Runtime.ExitError", "no instance"));
        };
        let invocation = Invocation::new(event.to_string().into_bytes());
        let id = invocation.request_id.clone();
        instance.stub.push(invocation);
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.config.timeout_seconds);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let report = tokio::select! {
                r = instance.stub.next_report(left) => r,
                status = instance.child.wait() => {
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    *slot = None;
                    return Err(InvokeError::runtime("Runtime.ExitError", format!("{} exited: {status}", self.config.name)));
                }
            };
            match report {
                None => {
                    // Lambda stops an instance that outlives its timeout.
                    *slot = None;
                    return Err(InvokeError::runtime(
                        "Sandbox.Timedout",
                        format!(
                            "{} timed out after {} s",
                            self.config.name, self.config.timeout_seconds
                        ),
                    ));
                }
                Some(Report::Responded {
                    request_id, body, ..
                }) if request_id == id => {
                    return Ok(serde_json::from_slice(&body).unwrap_or(Value::Null));
                }
                Some(Report::Errored {
                    request_id,
                    error_type,
                    body,
                    ..
                }) if request_id == id => {
                    return Err(InvokeError::Function {
                        error_type,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
                Some(Report::InitFailed { body, .. }) => {
                    *slot = None;
                    return Err(InvokeError::runtime(
                        "Runtime.InitError",
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                }
                Some(_) => {}
            }
        }
    }
}

/// The stack's functions, by ARN (a task's `FunctionName`, a rule's target) or name.
#[derive(Default)]
pub struct Functions(std::collections::BTreeMap<String, std::sync::Arc<RunningFunction>>);

impl Functions {
    /// Adds a function under its ARN.
    pub fn insert(&mut self, f: RunningFunction) {
        self.0.insert(f.config.arn.clone(), std::sync::Arc::new(f));
    }

    /// The function with this ARN, name, or qualified ARN (`…:function:name:$LATEST`).
    pub fn get(&self, arn_or_name: &str) -> Option<&std::sync::Arc<RunningFunction>> {
        self.0.get(arn_or_name).or_else(|| {
            self.0.values().find(|f| {
                f.config.name == arn_or_name
                    || arn_or_name
                        .strip_prefix(f.config.arn.as_str())
                        .is_some_and(|rest| rest.starts_with(':'))
            })
        })
    }

    /// Every function.
    pub fn all(&self) -> impl Iterator<Item = &std::sync::Arc<RunningFunction>> {
        self.0.values()
    }
}
