//! The stack, running: every function of the deployed template on its release binary, and
//! every source that invokes functions on AWS played by one pump (see the crate's docs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::{self, ApiRequest, ApiResponse};
use crate::function::{Functions, RunningFunction};
use crate::mail::{Mail, Mailboxes};
use crate::pattern::PatternError;
use crate::recorded::{self, ATTEMPTS};
use crate::schedule::Schedule;
use crate::sqs::SqsPoller;
use crate::stack::{Stack, StackError};
use crate::streams::StreamPoller;
use crate::workflow::{Executions, Integrations};

/// Why the harness cannot run the stack.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("no release binary in {dir} for {missing:?} (cargo build --release --bins)")]
    MissingBinaries { dir: String, missing: Vec<String> },
    #[error("function {0}: its code's S3 key names no binary (`<CodeVersion>/<binary>.zip`)")]
    UnknownBinary(String),
    #[error("emulator: {0}")]
    Aws(String),
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("state machine definition: {0}")]
    Definition(String),
    #[error("{0}")]
    Timeout(String),
}

/// The running stack.
pub struct Harness {
    pub stack: Stack,
    pub functions: Arc<Functions>,
    endpoint: String,
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    http: reqwest::Client,
    queue_pollers: Vec<SqsPoller>,
    stream_pollers: tokio::sync::Mutex<Vec<StreamPoller>>,
    recorded_after: tokio::sync::Mutex<usize>,
    schedules: tokio::sync::Mutex<Vec<Schedule>>,
    pub executions: Executions,
    integrations: Arc<Integrations>,
    mailboxes: Mailboxes,
    /// Every message the topics delivered so far.
    pub mail: Mutex<Vec<Mail>>,
    /// Asynchronous invocations (rule targets, schedules, custom resources) that kept failing.
    pub async_failures: Mutex<Vec<String>>,
    /// The functions' stdout and stderr, `<binary>.log` each (their EMF metric lines included).
    pub logs: PathBuf,
}

impl Harness {
    /// Deploys the template of the workspace at `root` on the emulator (`AWS_ENDPOINT_URL`)
    /// and prepares each function to run its binary from `bin_dir`. Every function's binary
    /// must be there. `interval_scale` multiplies the state machine's Retry delays.
    pub async fn start(
        root: &Path,
        bin_dir: &Path,
        interval_scale: f64,
    ) -> Result<Self, HarnessError> {
        Self::start_with(root, bin_dir, interval_scale, None).await
    }

    /// As [`Harness::start`], the functions reaching AWS at `functions_endpoint` (e.g. a
    /// fault-injecting proxy in front of the emulator) instead of `AWS_ENDPOINT_URL`; the
    /// harness itself (deploying, polling, reading mail) still talks to the emulator directly.
    pub async fn start_with(
        root: &Path,
        bin_dir: &Path,
        interval_scale: f64,
        functions_endpoint: Option<&str>,
    ) -> Result<Self, HarnessError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .map_err(|_| HarnessError::Aws("AWS_ENDPOINT_URL is not set".into()))?;
        let stack = Stack::deploy(root).await?;
        let config = aws_config::load_from_env().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let sfn = aws_sdk_sfn::Client::new(&config);
        let streams = aws_sdk_dynamodbstreams::Client::new(&config);

        let logs = root.join("target/stack-logs").join(&stack.stack_name);
        std::fs::create_dir_all(&logs).map_err(|e| HarnessError::Aws(e.to_string()))?;
        let base_env = base_env(functions_endpoint.unwrap_or(&endpoint), &stack.region);
        let mut functions = Functions::default();
        let mut missing = Vec::new();
        for f in &stack.functions {
            if f.binary.is_empty() {
                return Err(HarnessError::UnknownBinary(f.logical_id.clone()));
            }
            let binary = bin_dir.join(&f.binary);
            if !binary.is_file() {
                missing.push(f.binary.clone());
            }
            let log = logs.join(format!("{}.log", f.binary));
            functions.insert(RunningFunction::new(
                f.clone(),
                binary,
                base_env.clone(),
                log,
            ));
        }
        if !missing.is_empty() {
            return Err(HarnessError::MissingBinaries {
                dir: bin_dir.display().to_string(),
                missing,
            });
        }
        let functions = Arc::new(functions);

        let mut queue_pollers = Vec::new();
        let mut stream_pollers = Vec::new();
        for m in stack.event_source_mappings.iter().filter(|m| m.enabled) {
            if m.event_source_arn.starts_with("arn:aws:sqs:") {
                queue_pollers.push(SqsPoller::new(&sqs, m.clone(), &stack.region).await?);
            } else if m.event_source_arn.contains("/stream/") {
                stream_pollers.push(StreamPoller::new(m.clone(), &stack.region)?);
            } else {
                return Err(HarnessError::Aws(format!(
                    "mapping {} reads {}, a source the harness does not poll",
                    m.uuid, m.event_source_arn
                )));
            }
        }
        let schedules = stack.rules.iter().filter_map(Schedule::of).collect();
        let executions = Executions::new(&stack.state_machines, interval_scale)?;
        let mailboxes = Mailboxes::subscribe(&sqs, &sns, &stack.stack_name, &stack.topics).await?;
        let integrations = Arc::new(Integrations {
            functions: Arc::clone(&functions),
            sns,
        });
        Ok(Self {
            stack,
            functions,
            endpoint,
            sqs,
            sfn,
            streams,
            http: reqwest::Client::new(),
            queue_pollers,
            stream_pollers: tokio::sync::Mutex::new(stream_pollers),
            recorded_after: tokio::sync::Mutex::new(0),
            schedules: tokio::sync::Mutex::new(schedules),
            executions,
            integrations,
            mailboxes,
            mail: Mutex::new(Vec::new()),
            async_failures: Mutex::new(Vec::new()),
            logs,
        })
    }

    /// Sends `request` through the API: its route's function gets the proxy event. A guarded
    /// route without claims is API Gateway's own 401, an unknown route its 403.
    pub async fn api(&self, request: &ApiRequest) -> ApiResponse {
        let Some((route, params)) =
            api::match_route(&self.stack.routes, &request.method, &request.path)
        else {
            return api::gateway_error(403, "Missing Authentication Token");
        };
        if route.authorization_type != "NONE" && request.claims.is_none() {
            return api::gateway_error(401, "Unauthorized");
        }
        let Some(function) = route
            .function_arn
            .as_deref()
            .and_then(|a| self.functions.get(a))
        else {
            return api::gateway_error(500, "Internal server error");
        };
        let event = api::proxy_event(route, &params, &self.stack.api_stage(), request);
        match function.invoke(&event).await {
            Ok(answer) => api::http_response(&answer),
            Err(e) => {
                eprintln!(
                    "order-stack: {} failed an API request: {e}",
                    function.config.name
                );
                api::gateway_error(502, "Internal server error")
            }
        }
    }

    /// One round of every source: recorded invocations, due schedules, queue and stream
    /// mappings, new executions; then the topics' deliveries. The number of things handed to
    /// functions (0: nothing happened).
    pub async fn pump(&self) -> Result<usize, HarnessError> {
        let mut n = self.deliver_recorded().await?;
        n += self.fire_schedules(false).await;
        for poller in &self.queue_pollers {
            if let Some(f) = self.functions.get(&poller.mapping.function_arn) {
                n += poller.poll(&self.sqs, f).await?;
            }
        }
        for poller in self.stream_pollers.lock().await.iter_mut() {
            if let Some(f) = self.functions.get(&poller.mapping.function_arn) {
                n += poller.poll(&self.streams, f).await?;
            }
        }
        n += self.executions.poll(&self.sfn, &self.integrations).await?;
        let mail = self.mailboxes.drain(&self.sqs).await?;
        if let Ok(mut m) = self.mail.lock() {
            m.extend(mail);
        }
        Ok(n)
    }

    /// Pumps until nothing moves (two quiet rounds, no execution running) or `timeout`.
    pub async fn settle(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let mut quiet = 0;
        while quiet < 2 {
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout(format!(
                    "the stack did not settle in {timeout:?} ({} executions running)",
                    self.executions.running()
                )));
            }
            let moved = self.pump().await?;
            quiet = if moved == 0 && self.executions.running() == 0 {
                quiet + 1
            } else {
                0
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Fires the schedule rules that are due (all of them if `now`); the number of targets
    /// invoked.
    pub async fn fire_schedules(&self, now: bool) -> usize {
        let mut schedules = self.schedules.lock().await;
        let at = Instant::now();
        let mut n = 0;
        for s in schedules.iter_mut() {
            if !s.due(at) && !now {
                continue;
            }
            for t in &s.rule.targets {
                let event = s.event(t.input.as_deref(), &self.stack.region);
                n += self.invoke_async(&t.arn, &event, &s.rule.name).await;
            }
        }
        n
    }

    async fn deliver_recorded(&self) -> Result<usize, HarnessError> {
        let mut after = self.recorded_after.lock().await;
        let records = recorded::fetch(&self.http, &self.endpoint, *after).await?;
        let mut n = 0;
        for r in records {
            *after = (*after).max(r.seq);
            let what = r.rule.clone().unwrap_or_else(|| r.source.clone());
            n += self
                .invoke_async(&r.function_arn, &r.payload(), &what)
                .await;
        }
        Ok(n)
    }

    /// Delivers every rule event recorded so far `copies` more times, as EventBridge may
    /// (it delivers at least once); the number of invocations.
    pub async fn redeliver_rule_events(&self, copies: usize) -> Result<usize, HarnessError> {
        let records = recorded::fetch(&self.http, &self.endpoint, 0).await?;
        let mut n = 0;
        for r in records.iter().filter(|r| r.rule.is_some()) {
            for _ in 0..copies {
                n += self
                    .invoke_async(&r.function_arn, &r.payload(), "a redelivered rule event")
                    .await;
            }
        }
        Ok(n)
    }

    /// An asynchronous invocation (retried); 0 if the function is not this stack's.
    async fn invoke_async(&self, arn: &str, event: &serde_json::Value, what: &str) -> usize {
        let Some(function) = self.functions.get(arn) else {
            return 0;
        };
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                let delay =
                    crate::recorded::RETRY_DELAYS[usize::try_from(attempt - 1).unwrap_or(0).min(4)];
                tokio::time::sleep(delay).await;
            }
            match function.invoke(event).await {
                Ok(_) => return 1,
                Err(e) => last = Some(e),
            }
        }
        if let (Some(e), Ok(mut failures)) = (last, self.async_failures.lock()) {
            failures.push(format!("{} ({what}): {e}", function.config.name));
        }
        1
    }

    /// The messages delivered to topic `logical` (e.g. `OrderAlertsTopic`) that mention `text`.
    pub fn mail_to(&self, logical: &str, text: &str) -> Vec<Mail> {
        self.mail.lock().map_or_else(
            |_| Vec::new(),
            |m| {
                m.iter()
                    .filter(|m| {
                        m.topic == logical && (m.message.contains(text) || m.subject.contains(text))
                    })
                    .cloned()
                    .collect()
            },
        )
    }
}

/// What every function's process gets besides its own variables: the region and credentials
/// Lambda provides, and the emulator's endpoint.
fn base_env(endpoint: &str, region: &str) -> Vec<(String, String)> {
    let from_env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    vec![
        ("AWS_ENDPOINT_URL".into(), endpoint.to_owned()),
        ("AWS_REGION".into(), region.to_owned()),
        ("AWS_DEFAULT_REGION".into(), region.to_owned()),
        (
            "AWS_ACCESS_KEY_ID".into(),
            from_env("AWS_ACCESS_KEY_ID", "test"),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            from_env("AWS_SECRET_ACCESS_KEY", "test"),
        ),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("RUST_LOG".into(), from_env("ORDER_STACK_RUST_LOG", "info")),
    ]
}

/// The workspace root (this crate is `tests/stack`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
