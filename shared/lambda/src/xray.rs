//! The Lambdas' logging, and the order's trace sent to X-Ray where the template turns active
//! tracing on.
//!
//! With active tracing (`TracingConfig: Active`), Lambda runs the X-Ray daemon's endpoint and
//! sets `AWS_XRAY_DAEMON_ADDRESS`; the steps' spans (see `order_app::trace`) are then exported
//! as X-Ray segments over its UDP port by `opentelemetry-aws`'s daemon client, one datagram per
//! span as it ends (a simple processor: nothing is left in a buffer when the invocation ends
//! and Lambda freezes the process). New trace ids are X-Ray's (epoch seconds first). Without
//! that variable (locally, in tests, tracing off) the subscriber is Lambda's default one and no
//! span is made.

use std::net::SocketAddr;
use std::str::FromStr;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::xray_exporter::XrayExporter;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

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
    let Some(provider) = daemon.and_then(xray_provider) else {
        lambda_runtime::tracing::init_default_subscriber();
        return;
    };
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| LevelFilter::from_str(&l).ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = if json {
        fmt.json().with_filter(filter).boxed()
    } else {
        fmt.with_filter(filter).boxed()
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
