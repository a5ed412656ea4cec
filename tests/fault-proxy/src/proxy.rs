//! The proxy: accepts HTTP/1.1 on loopback, draws a fault per request, and forwards the rest to
//! the emulator.
//!
//! A dropped connection is the service returning an error to hyper, which then closes the
//! connection without writing an answer: the client's SDK sees `IncompleteMessage` (or a reset),
//! exactly as when a load balancer or the network loses an answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, FaultConfig, FaultKind};
use crate::counts::{Counters, FaultCounts};
use crate::protocol::Call;

/// Why the proxy could not start, or why it cut a connection.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the upstream {0:?} is not an http://host:port address")]
    Upstream(String),
    #[error("binding the proxy's listener: {0}")]
    Bind(std::io::Error),
    /// Not an error of the proxy: how a connection is dropped on purpose.
    #[error("connection dropped by the fault proxy ({0})")]
    Dropped(FaultKind),
    #[error("reading the request body: {0}")]
    Body(hyper::Error),
}

/// Hop-by-hop headers, never forwarded either way.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What every connection shares.
struct Shared {
    upstream: Uri,
    config: FaultConfig,
    rng: Mutex<fastrand::Rng>,
    armed: AtomicBool,
    /// Faults injected so far, against `config.max_faults`.
    injected: AtomicU64,
    counters: Counters,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A running proxy: its address, its counters, and a switch for the faults. Dropping it stops
/// accepting connections (those open finish their request).
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1` (a free port) in front of `upstream` (`http://127.0.0.1:PORT`),
    /// injecting `config`'s faults from the first request on. Runs on the current Tokio runtime.
    pub async fn start(
        upstream: &str,
        config: FaultConfig,
    ) -> Result<(SocketAddr, Self), ProxyError> {
        Self::bind(upstream, config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// As [`FaultProxy::start`], on `listen`.
    pub async fn bind(
        upstream: &str,
        config: FaultConfig,
        listen: SocketAddr,
    ) -> Result<(SocketAddr, Self), ProxyError> {
        config.validate()?;
        let upstream_uri: Uri = upstream
            .trim_end_matches('/')
            .parse()
            .map_err(|_| ProxyError::Upstream(upstream.to_owned()))?;
        if upstream_uri.scheme_str() != Some("http") || upstream_uri.authority().is_none() {
            return Err(ProxyError::Upstream(upstream.to_owned()));
        }
        let listener = TcpListener::bind(listen).await.map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let shared = Arc::new(Shared {
            upstream: upstream_uri,
            rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
            config,
            armed: AtomicBool::new(true),
            injected: AtomicU64::new(0),
            counters: Counters::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok((
            addr,
            Self {
                addr,
                shared,
                accept,
            },
        ))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Injects faults (`true`, the initial state) or passes every request through untouched
    /// (`false`), e.g. while a test provisions and seeds.
    pub fn set_armed(&self, armed: bool) {
        self.shared.armed.store(armed, Ordering::SeqCst);
    }

    /// What was injected so far.
    pub fn counts(&self) -> FaultCounts {
        self.shared.counters.snapshot()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

/// One request: the fault drawn for it, then the answer.
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ProxyError> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(ProxyError::Body)?.to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let call = Call::classify(&parts.method, path, &parts.headers, &body);
    let (fault, pick, delay) = {
        let mut rng = shared
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let draw = rng.f64();
        let pick = rng.usize(0..1024);
        let (min, max) = (shared.config.slow_min, shared.config.slow_max);
        let delay = min + max.saturating_sub(min).mul_f64(rng.f64());
        let fault = if shared.armed.load(Ordering::SeqCst) {
            shared.config.pick(draw)
        } else {
            None
        };
        (fault, pick, delay)
    };
    let label = call.label();
    let fault = fault.filter(|_| {
        shared
            .config
            .only_call
            .as_ref()
            .is_none_or(|only| *only == label)
            && shared.config.max_faults.is_none_or(|max| {
                shared
                    .injected
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n < max).then_some(n + 1)
                    })
                    .is_ok()
            })
    });
    shared.counters.record(&label, fault);
    if let Some(kind) = fault {
        tracing::debug!(call = %label, fault = %kind, "injecting");
    }
    match fault {
        Some(FaultKind::Throttle) => {
            let codes = call.throttle_codes();
            let (status, code) = codes[pick % codes.len()];
            return Ok(call.error_response(status, code, "Rate exceeded (fault proxy)"));
        }
        Some(FaultKind::ServerError) => {
            let codes = call.server_error_codes();
            let (status, code) = codes[pick % codes.len()];
            return Ok(call.error_response(status, code, "Internal failure (fault proxy)"));
        }
        Some(FaultKind::DropBefore) => return Err(ProxyError::Dropped(FaultKind::DropBefore)),
        _ => {}
    }
    let answer = forward(&shared, parts.method, path, parts.headers, body).await;
    match fault {
        Some(FaultKind::DropAfter) => Err(ProxyError::Dropped(FaultKind::DropAfter)),
        Some(FaultKind::Slow) => {
            tokio::time::sleep(delay).await;
            Ok(answer)
        }
        _ => Ok(answer),
    }
}

/// The emulator's answer to the request, or 502 if it could not be reached.
async fn forward(
    shared: &Shared,
    method: hyper::Method,
    path: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let bad_gateway = |why: String| {
        tracing::warn!(error = %why, "upstream unreachable");
        let mut r = Response::new(Full::new(Bytes::from(why)));
        *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        r
    };
    let uri = format!(
        "{}://{}{path}",
        shared.upstream.scheme_str().unwrap_or("http"),
        shared.upstream.authority().map_or("", |a| a.as_str())
    );
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    let req = match builder.body(Full::new(body)) {
        Ok(req) => req,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let resp = match shared.client.request(req).await {
        Ok(resp) => resp,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let (mut parts, body) = resp.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad_gateway(e.to_string()),
    };
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    Response::from_parts(parts, Full::new(body))
}
