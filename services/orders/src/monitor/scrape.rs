//! The process's business metrics as the monitor reads them: the Prometheus recorder's own
//! rendering, parsed back (one source of truth with `GET /metrics`, no second recorder).

use metrics_exporter_prometheus::PrometheusHandle;
use order_app::metrics::{
    LATENCY_BUCKETS, ORDER_LATENCY, ORDERS_COMPLETED, ORDERS_FAILED, ORDERS_PLACED, PROJECTION_LAG,
};
use prometheus_parse::{Scrape, Value};

/// The counters' totals and the gauges at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub placed: f64,
    pub completed: f64,
    /// Summed over the failure reasons.
    pub failed: f64,
    /// Cumulative latency counts: one per bound of `LATENCY_BUCKETS`, then `+Inf`.
    pub latency: Vec<f64>,
    /// `None` while nothing has set the gauge.
    pub projection_lag: Option<f64>,
}

/// What `handle` holds now (all zero without a recorder).
pub fn read(handle: Option<&PrometheusHandle>) -> Reading {
    let Some(handle) = handle else {
        return Reading::empty();
    };
    handle.run_upkeep();
    parse(&handle.render())
}

impl Reading {
    fn empty() -> Self {
        Self {
            latency: vec![0.0; LATENCY_BUCKETS.len() + 1],
            ..Self::default()
        }
    }

    /// `self - before` for the counters, as whole counts (a counter never goes down; a reset
    /// counts from zero), per-bucket (not cumulative) for the latency.
    pub fn since(&self, before: &Self) -> Deltas {
        let delta = |now: f64, then: f64| count(if now >= then { now - then } else { now });
        let cumulative: Vec<u64> = self
            .latency
            .iter()
            .zip(&before.latency)
            .map(|(n, b)| delta(*n, *b))
            .collect();
        let mut latency = Vec::with_capacity(cumulative.len());
        let mut below = 0;
        for c in cumulative {
            latency.push(c.saturating_sub(below));
            below = below.max(c);
        }
        Deltas {
            placed: delta(self.placed, before.placed),
            completed: delta(self.completed, before.completed),
            failed: delta(self.failed, before.failed),
            latency,
        }
    }
}

/// Counts within one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deltas {
    pub placed: u64,
    pub completed: u64,
    pub failed: u64,
    pub latency: Vec<u64>,
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rounded, non-negative
fn count(v: f64) -> u64 {
    v.max(0.0).round() as u64
}

/// Parses a Prometheus text rendering.
pub fn parse(text: &str) -> Reading {
    let mut reading = Reading::empty();
    let Ok(scrape) = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))) else {
        return reading;
    };
    for sample in scrape.samples {
        let name = sample.metric.as_str();
        match (name, sample.value) {
            (ORDERS_PLACED, Value::Counter(v) | Value::Untyped(v)) => reading.placed += v,
            (ORDERS_COMPLETED, Value::Counter(v) | Value::Untyped(v)) => reading.completed += v,
            (ORDERS_FAILED, Value::Counter(v) | Value::Untyped(v)) => reading.failed += v,
            (PROJECTION_LAG, Value::Gauge(v) | Value::Untyped(v)) => {
                reading.projection_lag = Some(reading.projection_lag.map_or(v, |l| l.max(v)));
            }
            (n, Value::Histogram(buckets)) if n.starts_with(ORDER_LATENCY) => {
                for b in buckets {
                    let at = LATENCY_BUCKETS
                        .iter()
                        .position(|bound| (bound - b.less_than).abs() < 1e-9)
                        .unwrap_or(LATENCY_BUCKETS.len());
                    if b.less_than.is_infinite() || at < LATENCY_BUCKETS.len() {
                        reading.latency[at] += b.count;
                    }
                }
            }
            _ => {}
        }
    }
    reading
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rendering as `GET /metrics` serves it: failed summed over reasons, the histogram's
    /// cumulative buckets turned into per-bucket deltas.
    #[test]
    fn a_rendering_becomes_counts_within_the_period() {
        let before = parse("");
        let text = "\
# TYPE order_pipeline_orders_placed_total counter
order_pipeline_orders_placed_total 5
# TYPE order_pipeline_orders_completed_total counter
order_pipeline_orders_completed_total 3
# TYPE order_pipeline_orders_failed_total counter
order_pipeline_orders_failed_total{reason=\"REJECTED\"} 1
order_pipeline_orders_failed_total{reason=\"OUT_OF_STOCK\"} 1
# TYPE order_pipeline_projection_lag_seconds gauge
order_pipeline_projection_lag_seconds 0.25
# TYPE order_pipeline_order_latency_seconds histogram
order_pipeline_order_latency_seconds_bucket{le=\"0.005\"} 0
order_pipeline_order_latency_seconds_bucket{le=\"0.01\"} 2
order_pipeline_order_latency_seconds_bucket{le=\"0.025\"} 4
order_pipeline_order_latency_seconds_bucket{le=\"+Inf\"} 5
order_pipeline_order_latency_seconds_sum 1
order_pipeline_order_latency_seconds_count 5
";
        let now = parse(text);
        assert_eq!(now.projection_lag, Some(0.25));
        let d = now.since(&before);
        assert_eq!((d.placed, d.completed, d.failed), (5, 3, 2));
        assert_eq!(&d.latency[..3], &[0, 2, 2]);
        assert_eq!(d.latency.iter().sum::<u64>(), 5);
        assert_eq!(d.latency[LATENCY_BUCKETS.len()], 1, "the overflow");
        assert_eq!(before.projection_lag, None);
    }
}
