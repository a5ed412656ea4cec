//! A stub of the Lambda Runtime API on loopback: what a function binary talks to when it runs
//! outside Lambda with `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`.
//!
//! It serves the four routes a runtime uses (`GET …/invocation/next`, `POST …/{id}/response`,
//! `POST …/{id}/error`, `POST …/init/error`) and reports each call with the instant it
//! arrived, so a benchmark can time a process from exec to its first poll and to its first
//! answer, and a harness (tests/stack) can hand a function its events one at a time. Queued
//! invocations are handed out one per poll; once the queue is empty a poll is held open, as
//! Lambda does between invocations, until the next invocation is pushed. It also accepts `PUT /cfn-response/…`, the
//! stand-in for a custom resource's pre-signed response URL (no internet here).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tokio::sync::mpsc;

/// The Runtime API's version prefix.
pub const API_PREFIX: &str = "/2018-06-01/runtime";

/// One event to hand to the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub event: Vec<u8>,
}

impl Invocation {
    /// An invocation of `event` with a fresh request id.
    pub fn new(event: Vec<u8>) -> Self {
        Self {
            request_id: ulid::Ulid::generate().to_string().to_lowercase(),
            event,
        }
    }
}

/// What the function did, and when the stub saw it.
#[derive(Debug, Clone)]
pub enum Report {
    /// The `n`th `GET …/invocation/next` (1-based).
    Polled { at: Instant, n: usize },
    /// `POST …/invocation/{id}/response`.
    Responded {
        at: Instant,
        request_id: String,
        body: Vec<u8>,
    },
    /// `POST …/invocation/{id}/error`: the handler returned an error (a typed outcome for
    /// Step Functions tasks, so not necessarily a failure of the benchmark).
    Errored {
        at: Instant,
        request_id: String,
        error_type: String,
        body: Vec<u8>,
    },
    /// `POST …/init/error`: the function could not start.
    InitFailed { at: Instant, body: Vec<u8> },
    /// `PUT /cfn-response/…`: a custom resource's answer.
    CustomResourceAnswered { at: Instant, body: Vec<u8> },
}

struct Shared {
    queue: Mutex<VecDeque<Invocation>>,
    /// Wakes a held poll when an invocation is pushed.
    pushed: tokio::sync::Notify,
    polls: Mutex<usize>,
    function_name: String,
    reports: mpsc::UnboundedSender<Report>,
}

impl Shared {
    fn report(&self, r: Report) {
        // The receiver is gone only when the benchmark stopped listening: nothing to tell.
        let _ = self.reports.send(r);
    }
}

/// A running stub. Dropping it stops the server (held polls included).
pub struct StubRuntime {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    reports: mpsc::UnboundedReceiver<Report>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StubRuntime {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StubRuntime {
    /// Starts a stub on `127.0.0.1:0` for a function named `function_name`.
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            pushed: tokio::sync::Notify::new(),
            polls: Mutex::new(0),
            function_name: function_name.to_owned(),
            reports: tx,
        });
        let app = Router::new()
            .route(&format!("{API_PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{API_PREFIX}/invocation/{{id}}/response"),
                post(respond),
            )
            .route(
                &format!("{API_PREFIX}/invocation/{{id}}/error"),
                post(error),
            )
            .route(&format!("{API_PREFIX}/init/error"), post(init_error))
            .route("/cfn-response/{key}", put(cfn_response))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("stub runtime API stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            shared,
            reports: rx,
            task,
        })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` for a function using this stub.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// A URL the stub answers `PUT` on, for a custom resource's `ResponseURL`.
    pub fn response_url(&self) -> String {
        format!(
            "http://{}/cfn-response/{}",
            self.addr,
            ulid::Ulid::generate().to_string().to_lowercase()
        )
    }

    /// Queues an invocation for the next poll.
    pub fn push(&self, invocation: Invocation) {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.push_back(invocation);
        }
        self.shared.pushed.notify_one();
    }

    /// The next report, or `None` after `timeout`.
    pub async fn next_report(&mut self, timeout: Duration) -> Option<Report> {
        tokio::time::timeout(timeout, self.reports.recv())
            .await
            .ok()
            .flatten()
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid")),
    )
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    let at = Instant::now();
    let n = match s.polls.lock() {
        Ok(mut p) => {
            *p += 1;
            *p
        }
        Err(_) => 0,
    };
    s.report(Report::Polled { at, n });
    // Lambda holds the poll until there is work; so do we (until the stub is dropped). One
    // process polls at a time, so a stored wake-up (`notify_one` before the wait) is its own.
    let inv = loop {
        if let Some(inv) = s.queue.lock().ok().and_then(|mut q| q.pop_front()) {
            break inv;
        }
        s.pushed.notified().await;
    };
    let headers = [
        header("lambda-runtime-aws-request-id", &inv.request_id),
        header(
            "lambda-runtime-deadline-ms",
            &(epoch_ms() + 30_000).to_string(),
        ),
        header(
            "lambda-runtime-invoked-function-arn",
            &format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                s.function_name
            ),
        ),
        header(
            "lambda-runtime-trace-id",
            "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=0",
        ),
        header("content-type", "application/json"),
    ];
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(k, v);
    }
    (StatusCode::OK, map, inv.event).into_response()
}

async fn respond(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    s.report(Report::Responded {
        at: Instant::now(),
        request_id: id,
        body: body.to_vec(),
    });
    StatusCode::ACCEPTED
}

async fn error(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    // The error's type is the body's `errorType`: what Step Functions matches a task's Retry
    // and Catch on. The header is only a fallback: the Rust runtime sends `unhandled` there for
    // every handler error, whatever its type.
    let error_type = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["errorType"].as_str().map(str::to_owned))
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    s.report(Report::Errored {
        at,
        request_id: id,
        error_type,
        body: body.to_vec(),
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    s.report(Report::InitFailed {
        at: Instant::now(),
        body: body.to_vec(),
    });
    StatusCode::ACCEPTED
}

async fn cfn_response(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    s.report(Report::CustomResourceAnswered {
        at: Instant::now(),
        body: body.to_vec(),
    });
    StatusCode::OK
}
