//! Logging and tracing set-up for the binary: human-readable logs by default, JSON lines when
//! asked; OpenTelemetry spans of each order's steps only when an exporter is asked for.
//!
//! The order's trace context travels in its events whatever is set here (see
//! docs/architecture.md, "Trace context"); this only decides whether the steps' spans
//! (`place`, `validate`, `payment`, `inventory`, `fail`, `project`, `notify`, target
//! [`order_app::trace::TARGET`]) are exported. OTLP over HTTP is built in with the `otlp` cargo
//! feature and turned on by `--otlp URL` or `OTEL_EXPORTER_OTLP_ENDPOINT`; off by default.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The service name spans are exported under.
pub const SERVICE_NAME: &str = "order-pipeline";

/// What [`init`] installed; flushes the exporter when dropped (at the end of `main`).
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            order_app::trace::set_exporting(false);
            let _ = p.shutdown();
        }
    }
}

/// The layer that turns the steps' spans into OpenTelemetry spans on `provider`: filtered to
/// the step spans, so the logging spans around them do not become traces of their own.
pub fn trace_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE_NAME))
        .with_filter(Targets::new().with_target(order_app::trace::TARGET, LevelFilter::INFO))
}

/// Initialises the global subscriber. `RUST_LOG` overrides the log level (`info`); it does not
/// filter the exported step spans. `otlp`: the OTLP/HTTP endpoint to export spans to (else
/// `OTEL_EXPORTER_OTLP_ENDPOINT`; neither: no spans are made).
pub fn init(json: bool, otlp: Option<&str>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter)
            .boxed()
    } else {
        fmt.compact().with_filter(filter).boxed()
    };
    let endpoint = otlp
        .map(str::to_owned)
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
        .filter(|e| !e.trim().is_empty());
    let provider = endpoint.as_deref().and_then(otlp_provider);
    let traces = provider.as_ref().map(trace_layer);
    if tracing_subscriber::registry()
        .with(fmt)
        .with(traces)
        .try_init()
        .is_err()
    {
        return Telemetry::default();
    }
    if let (Some(_), Some(endpoint)) = (&provider, &endpoint) {
        order_app::trace::set_exporting(true);
        tracing::info!(%endpoint, "exporting the orders' traces over OTLP/HTTP");
    }
    Telemetry { provider }
}

/// A provider exporting over OTLP/HTTP (protobuf) to `endpoint` in batches.
#[cfg(feature = "otlp")]
fn otlp_provider(endpoint: &str) -> Option<SdkTracerProvider> {
    use opentelemetry_otlp::{SpanExporter, WithExportConfig};
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    match SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()
    {
        Ok(exporter) => Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(SERVICE_NAME)
                        .build(),
                )
                .build(),
        ),
        Err(e) => {
            eprintln!("OTLP exporter not started ({e}): traces stay in the events only");
            None
        }
    }
}

/// Without the `otlp` feature there is no exporter to start: said once, at start-up.
#[cfg(not(feature = "otlp"))]
fn otlp_provider(endpoint: &str) -> Option<SdkTracerProvider> {
    eprintln!(
        "OTLP endpoint {endpoint} ignored: this binary was built without the `otlp` feature \
         (cargo build -p orders --features otlp); traces stay in the events only"
    );
    None
}
