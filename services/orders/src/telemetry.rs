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
        // A step span needs its name, times and parent only: no code location, thread or
        // busy/idle attributes, and no OpenTelemetry context switched on each poll.
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
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
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        eprintln!("OTLP exporter not started (no Tokio runtime): traces stay in the events only");
        return None;
    };
    match SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()
    {
        Ok(exporter) => Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(on_runtime::OnRuntime::new(exporter, handle))
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

/// The OTLP exporter run on the server's Tokio runtime: the batch processor exports from a
/// thread of its own, where the exporter's hyper client would find no runtime.
#[cfg(feature = "otlp")]
mod on_runtime {
    use std::sync::Arc;
    use std::time::Duration;

    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
    use opentelemetry_sdk::trace::{SpanData, SpanExporter};

    #[derive(Debug)]
    pub(super) struct OnRuntime<E> {
        inner: Arc<E>,
        handle: tokio::runtime::Handle,
    }

    impl<E> OnRuntime<E> {
        pub(super) fn new(inner: E, handle: tokio::runtime::Handle) -> Self {
            Self {
                inner: Arc::new(inner),
                handle,
            }
        }
    }

    impl<E: SpanExporter + Send + Sync + 'static> SpanExporter for OnRuntime<E> {
        fn export(
            &self,
            batch: Vec<SpanData>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            let inner = Arc::clone(&self.inner);
            let task = self.handle.spawn(async move { inner.export(batch).await });
            async move {
                task.await
                    .unwrap_or_else(|e| Err(OTelSdkError::InternalFailure(e.to_string())))
            }
        }

        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }

        fn set_resource(&mut self, resource: &Resource) {
            // Called once, while the provider is built: the only reference.
            if let Some(inner) = Arc::get_mut(&mut self.inner) {
                inner.set_resource(resource);
            }
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
