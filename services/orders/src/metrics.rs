//! `GET /metrics`: the business metrics of `order_app::metrics` in Prometheus text format.
//!
//! The local server installs the `metrics-exporter-prometheus` recorder once per process and
//! renders it from its own axum router: no second listener, no second port. The queue gauges
//! are read from the queue port at each scrape, so an idle pipeline costs nothing.
//!
//! Why unauthenticated: Prometheus scrapers send no bearer token by default, and the page holds
//! no order, customer or personal data (only counts, labelled by failure reason, topic and
//! sweeper action). It is bound like the rest of the API (`--addr`, 127.0.0.1 by default), so
//! who can reach the API can read the counts; put the server behind the same network policy as
//! its scraper. Like `/health`, it is never shed or rate limited.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use order_app::metrics::{LATENCY_BUCKETS, ORDER_LATENCY, queue_depth};
use order_domain::ports::PolledQueue;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use. `None` when another recorder was
/// installed first (an embedding program's own): the metrics then go there, and `/metrics`
/// answers 404.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(ORDER_LATENCY.to_owned()), &LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    order_app::metrics::describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no Prometheus recorder: GET /metrics is off");
                    None
                }
            }
        })
        .clone()
}

struct Scrape<Q> {
    handle: PrometheusHandle,
    queue: Q,
}

/// The `/metrics` route over `queue` (whose depth becomes the queue gauges), or an empty router
/// when there is no recorder.
pub fn router<Q: PolledQueue>(queue: Q) -> Router {
    let Some(handle) = handle() else {
        return Router::new();
    };
    Router::new()
        .route("/metrics", get(render::<Q>))
        .with_state(Arc::new(Scrape { handle, queue }))
}

async fn render<Q: PolledQueue>(State(scrape): State<Arc<Scrape<Q>>>) -> Response {
    match scrape.queue.depth().await {
        Ok(depth) => queue_depth(depth),
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("reading the queue's depth failed: {e}\n"),
            )
                .into_response();
        }
    }
    order_app::metrics::orders_open();
    // Histograms are kept in atomic buckets until an upkeep drains them; a scrape is a
    // natural time for it (the exporter's own listener, which we do not run, does it too).
    scrape.handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        scrape.handle.render(),
    )
        .into_response()
}
