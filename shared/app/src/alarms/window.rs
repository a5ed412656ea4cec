//! From the host's samples to an alarm's datapoints: one per alarm period, the period's
//! samples reduced by the alarm's statistic (the maximum of a gauge, the ratio of the sums of
//! counters, a percentile of the merged latency buckets), `None` when the period has no
//! sample that says anything.

use order_domain::Timestamp;

use super::{AlarmDefinition, Metric};
use crate::metrics::LATENCY_BUCKETS;

/// What the host saw in one sampling period: counters as deltas within it, gauges as read at
/// its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The end of the period.
    pub at: Timestamp,
    pub placed: u64,
    pub completed: u64,
    pub failed: u64,
    /// Orders that ended within the period, per latency bucket (not cumulative): one count per
    /// bound of [`LATENCY_BUCKETS`], then the overflow.
    pub latency: Vec<u64>,
    pub queue_visible: Option<u64>,
    pub dead_letters: Option<u64>,
    pub projection_lag: Option<f64>,
}

impl Sample {
    /// The `q` quantile (0..=1) of the latencies within the period; `None` when no order ended.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        quantile(q, &self.latency)
    }
}

/// The `q` quantile of per-bucket counts, interpolated within its bucket as Prometheus's
/// `histogram_quantile` does (the overflow bucket answers the highest bound).
pub fn quantile(q: f64, counts: &[u64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0_u64;
    for (i, &count) in counts.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let upto = (below + count) as f64;
        if count > 0 && upto >= rank {
            let Some(&upper) = LATENCY_BUCKETS.get(i) else {
                return LATENCY_BUCKETS.last().copied();
            };
            let lower = if i == 0 { 0.0 } else { LATENCY_BUCKETS[i - 1] };
            #[allow(clippy::cast_precision_loss)]
            let into = (rank - below as f64) / count as f64;
            return Some(lower + (upper - lower) * into);
        }
        below += count;
    }
    LATENCY_BUCKETS.last().copied()
}

/// `def`'s datapoints for its last `evaluation_periods` periods ending at `now`, oldest first.
pub fn datapoints(def: &AlarmDefinition, samples: &[Sample], now: Timestamp) -> Vec<Option<f64>> {
    let period = u64::try_from(def.period.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let end = now.as_millis();
    (0..def.evaluation_periods.max(1) as u64)
        .rev()
        .map(|i| {
            let hi = end.saturating_sub(i * period);
            let lo = hi.saturating_sub(period);
            let within: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.at.as_millis() > lo && s.at.as_millis() <= hi)
                .collect();
            reduce(def.metric, &within)
        })
        .collect()
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn reduce(metric: Metric, within: &[&Sample]) -> Option<f64> {
    let max = |f: fn(&Sample) -> Option<f64>| {
        within
            .iter()
            .filter_map(|s| f(s))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    match metric {
        Metric::QueueVisible => max(|s| s.queue_visible.map(|v| v as f64)),
        Metric::DeadLetters => max(|s| s.dead_letters.map(|v| v as f64)),
        Metric::ProjectionLagSeconds => max(|s| s.projection_lag),
        Metric::FailureRatePercent => {
            let failed: u64 = within.iter().map(|s| s.failed).sum();
            let ended = failed + within.iter().map(|s| s.completed).sum::<u64>();
            (ended > 0).then(|| 100.0 * failed as f64 / ended as f64)
        }
        Metric::OrderLatencySeconds => {
            let mut merged = vec![0_u64; LATENCY_BUCKETS.len() + 1];
            for s in within {
                for (m, c) in merged.iter_mut().zip(&s.latency) {
                    *m += c;
                }
            }
            quantile(0.99, &merged)
        }
    }
}
