//! TEMPORARY stand-in for the monitor's `GET /admin/series`, in its exact shape, so the console
//! can be built and tested before the monitor lands: delete this file (and its `merge` in
//! `console::router`) when the monitor's route is merged.
//!
//! Samples are taken when the console asks, at most one per period, from this process's
//! Prometheus recorder (the counters' and the latency histogram's increase since the previous
//! sample) and the queue's depth.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use order_app::metrics::{ORDER_LATENCY, ORDERS_COMPLETED, ORDERS_FAILED, ORDERS_PLACED};
use order_domain::Timestamp;
use order_domain::ports::PolledQueue;
use serde_json::{Value, json};

use super::Admin;

const PERIOD: Duration = Duration::from_secs(5);
const KEPT: usize = 120;

/// Counter totals and the latency histogram's cumulative buckets (`le` → count).
#[derive(Default, Clone)]
struct Totals {
    placed: u64,
    completed: u64,
    failed: u64,
    buckets: Vec<(f64, u64)>,
}

#[derive(Default)]
struct Sampler {
    last: Option<(Instant, Totals)>,
    samples: VecDeque<Value>,
}

struct Stub<Q> {
    queue: Q,
    sampler: Mutex<Sampler>,
}

pub fn router<Q: PolledQueue>(queue: Q) -> Router {
    Router::new()
        .route("/admin/series", get(series::<Q>))
        .with_state(Arc::new(Stub {
            queue,
            sampler: Mutex::default(),
        }))
}

fn totals(text: &str) -> Totals {
    let mut t = Totals::default();
    let bucket = format!("{ORDER_LATENCY}_bucket");
    let mut buckets: HashMap<String, u64> = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or_default();
        match name {
            n if n == ORDERS_PLACED => t.placed += value,
            n if n == ORDERS_COMPLETED => t.completed += value,
            n if n == ORDERS_FAILED => t.failed += value,
            n if n == bucket => {
                if let Some(le) = series
                    .split("le=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                {
                    *buckets.entry(le.to_owned()).or_default() += value;
                }
            }
            _ => {}
        }
    }
    t.buckets = buckets
        .into_iter()
        .filter_map(|(le, n)| Some((le.parse::<f64>().ok()?, n)))
        .collect();
    t.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    t
}

/// The `q` quantile of the observations between two histograms: the bound of the first bucket
/// holding it (the largest finite bound past the last one).
fn quantile(now: &Totals, before: &Totals, q: f64) -> Option<f64> {
    let was = |le: f64| {
        before
            .buckets
            .iter()
            .find(|b| b.0.total_cmp(&le).is_eq())
            .map_or(0, |b| b.1)
    };
    let deltas: Vec<(f64, u64)> = now
        .buckets
        .iter()
        .map(|&(le, n)| (le, n.saturating_sub(was(le))))
        .collect();
    let total = deltas.last()?.1;
    if total == 0 {
        return None;
    }
    let count = |n: u64| f64::from(u32::try_from(n).unwrap_or(u32::MAX));
    let finite = deltas.iter().rev().find(|b| b.0.is_finite()).map(|b| b.0);
    deltas
        .iter()
        .find(|b| count(b.1) >= q * count(total))
        .map(|b| if b.0.is_finite() { Some(b.0) } else { finite })?
}

async fn series<Q: PolledQueue>(State(stub): State<Arc<Stub<Q>>>, _: Admin) -> Response {
    let due = {
        let sampler = stub.sampler.lock().unwrap_or_else(PoisonError::into_inner);
        sampler
            .last
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= PERIOD)
    };
    if due {
        let depth = stub.queue.depth().await.unwrap_or_default();
        let now = crate::metrics::handle().map_or_else(Totals::default, |h| {
            h.run_upkeep();
            totals(&h.render())
        });
        let mut sampler = stub.sampler.lock().unwrap_or_else(PoisonError::into_inner);
        let before = sampler.last.take().map(|(_, t)| t).unwrap_or_default();
        let sample = json!({
            "at": Timestamp::now(),
            "placed": now.placed.saturating_sub(before.placed),
            "completed": now.completed.saturating_sub(before.completed),
            "failed": now.failed.saturating_sub(before.failed),
            "latencyP50Seconds": quantile(&now, &before, 0.5),
            "latencyP99Seconds": quantile(&now, &before, 0.99),
            "queueDepth": depth.0,
            "deadLetters": depth.1,
            "projectionLagSeconds": null,
        });
        if sampler.samples.len() == KEPT {
            sampler.samples.pop_front();
        }
        sampler.samples.push_back(sample);
        sampler.last = Some((Instant::now(), now));
    }
    let kept = stub.sampler.lock().unwrap_or_else(PoisonError::into_inner);
    let samples: Vec<&Value> = kept.samples.iter().collect();
    Json(json!({ "periodSeconds": PERIOD.as_secs(), "samples": samples })).into_response()
}
