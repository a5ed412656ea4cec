//! The Lambdas' logging, and the order's trace sent to X-Ray where the template turns active
//! tracing on.
//!
//! With active tracing (`TracingConfig: Active`), Lambda runs the X-Ray daemon's endpoint and
//! sets `AWS_XRAY_DAEMON_ADDRESS`; the steps' spans (see `order_app::trace`) are then exported
//! as X-Ray segments over its UDP port by `opentelemetry-aws`'s daemon client, one datagram per
//! span as it ends (a simple processor: nothing is left in a buffer when the invocation ends
//! and Lambda freezes the process). New trace ids are X-Ray's (epoch seconds first). Without
//! that variable (locally, in tests, tracing off) only the log lines are written and no span is
//! made.

use std::net::SocketAddr;
use std::str::FromStr;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::xray_exporter::XrayExporter;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The runtime's own crates, whose TRACE lines print every raw invocation event: an API
/// request's `Authorization` header, an order's email and payment token. Capped at DEBUG
/// whatever level the function's logging is set to.
const RAW_EVENT_TARGETS: [&str; 3] = ["lambda_runtime", "lambda_runtime_api_client", "lambda_http"];

/// The variable Lambda sets when the function's active tracing is on.
pub const DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// Initialises logging (as `lambda_runtime`'s default subscriber does: `AWS_LAMBDA_LOG_LEVEL`
/// or `RUST_LOG`, JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`) and, with active tracing, the
/// export of the steps' spans to the X-Ray daemon.
pub fn init() {
    let daemon = std::env::var(DAEMON_ADDRESS)
        .ok()
        .and_then(|a| a.parse::<SocketAddr>().ok());
    init_with(daemon);
}

/// [`init`] with the daemon's address given (`None`: logging only).
pub fn init_with(daemon: Option<SocketAddr>) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| LevelFilter::from_str(&l).ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = log_lines(level, json, std::io::stdout);
    let Some(provider) = daemon.and_then(xray_provider) else {
        let _ = tracing_subscriber::registry().with(fmt).try_init();
        return;
    };
    let spans = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("order-pipeline"))
        // A step span needs its name, times and parent only: no code location, thread or
        // busy/idle attributes, and no OpenTelemetry context switched on each poll.
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        .with_filter(Targets::new().with_target(order_app::trace::TARGET, LevelFilter::INFO));
    if tracing_subscriber::registry()
        .with(fmt)
        .with(spans)
        .try_init()
        .is_ok()
    {
        order_app::trace::set_exporting(true);
    }
    // The provider is kept for the life of the process (a Lambda's execution environment).
    std::mem::forget(provider);
}

/// The log lines, as `lambda_runtime`'s default subscriber writes them (no time, no target;
/// JSON when asked), at `level` (or `RUST_LOG`'s directives), without the runtime's raw events
/// ([`RAW_EVENT_TARGETS`]).
fn log_lines<S, W>(level: LevelFilter, json: bool, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let asked = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let cap = RAW_EVENT_TARGETS.into_iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(target, LevelFilter::DEBUG),
    );
    let filter = asked.and(cap);
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    if json {
        fmt.json().with_filter(filter).boxed()
    } else {
        fmt.with_filter(filter).boxed()
    }
}

/// Spans → X-Ray segments → the daemon's UDP address (`AWS_XRAY_DAEMON_ADDRESS`, an
/// `ip:port`; Lambda's value).
fn xray_provider(daemon: SocketAddr) -> Option<SdkTracerProvider> {
    let client = XrayDaemonClient::new(daemon)
        .inspect_err(|e| eprintln!("no X-Ray export ({e}): the trace stays in the events"))
        .ok()?;
    Some(
        SdkTracerProvider::builder()
            .with_simple_exporter(XrayExporter::new(client))
            .with_id_generator(XrayIdGenerator::default())
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn at_trace_the_runtime_s_raw_events_are_not_logged_and_ours_are() {
        for json in [false, true] {
            let out = Captured::default();
            let writer = out.clone();
            let layer = log_lines(LevelFilter::TRACE, json, move || writer.clone());
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                tracing::trace!(
                    target: "lambda_runtime::layers::api_response",
                    body = "{\"headers\":{\"Authorization\":\"eyJsecret\"}}",
                    "raw JSON event received from Lambda"
                );
                tracing::debug!(target: "lambda_runtime::runtime", "runtime debug line");
                tracing::trace!(target: "order_app::place", "our trace line");
            });
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            assert!(!text.contains("eyJsecret"), "{text}");
            assert!(!text.contains("raw JSON event"), "{text}");
            assert!(text.contains("runtime debug line"), "{text}");
            assert!(text.contains("our trace line"), "{text}");
        }
    }
}
