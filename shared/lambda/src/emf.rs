//! The business metrics of `order_app::metrics` on Lambda: CloudWatch Embedded Metric Format
//! (EMF) lines on stdout, which CloudWatch Logs turns into metrics of the
//! [`NAMESPACE`] namespace. No `cloudwatch:PutMetricData` call, permission or latency: the
//! function's log group is the transport.
//!
//! `metrics_cloudwatch_embedded` is the recorder behind the `metrics` facade (the shared use
//! cases emit through the facade on both hosts): it aggregates counters, keeps a gauge's last
//! value and a histogram's values between flushes, and writes one EMF document per label set.
//! [`run`] installs it and flushes it once per invocation, after the handler answered.
//!
//! The crate names a CloudWatch metric and dimension by the facade's key and label as they are
//! (`order_pipeline_orders_completed_total`, `reason`), and its recorder type is private, so it
//! cannot be wrapped by a renaming recorder. Each flushed document is therefore renamed by
//! [`rename`] through the one table of [`order_app::metrics::cloudwatch`] (`OrdersCompleted`,
//! `Reason`), and a document with dimensions also gets the empty dimension set, so each metric
//! exists as a total too (an alarm's `OrdersFailed` whatever the reason).

use std::io::Write as _;
use std::sync::OnceLock;

use lambda_runtime::{
    Diagnostic, Error, IntoFunctionResponse, LambdaEvent, Runtime, layers::TracingLayer,
};
use metrics_cloudwatch_embedded::{Builder, Collector};
use order_app::metrics::cloudwatch::{NAMESPACE, dimension_name, metric_name};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::Service;

/// The recorder, once [`install`]ed (a process has one global recorder).
static COLLECTOR: OnceLock<Option<&'static Collector>> = OnceLock::new();

/// Installs the EMF recorder as the process's `metrics` recorder (once; later calls answer the
/// same) and describes the pipeline's metrics to it (their units). `None` when another recorder
/// was installed first: the metrics then go there, and nothing is flushed here.
pub fn install() -> Option<&'static Collector> {
    *COLLECTOR.get_or_init(
        || match Builder::new().cloudwatch_namespace(NAMESPACE).init() {
            Ok(collector) => {
                order_app::metrics::describe();
                Some(collector)
            }
            Err(e) => {
                tracing::warn!(error = %e, "EMF metrics off: a recorder was already installed");
                None
            }
        },
    )
}

/// What the recorder holds since the last flush, as EMF lines with CloudWatch names, and resets
/// its counters and histograms. Empty when nothing was recorded (or no recorder is installed).
pub fn drain() -> Vec<String> {
    let Some(collector) = install() else {
        return Vec::new();
    };
    let mut raw = Vec::new();
    if let Err(e) = collector.flush(&mut raw) {
        tracing::warn!(error = %e, "EMF flush failed");
        return Vec::new();
    }
    String::from_utf8_lossy(&raw)
        .lines()
        .filter_map(|line| {
            let mut doc: Value = serde_json::from_str(line).ok()?;
            rename(&mut doc);
            serde_json::to_string(&doc).ok()
        })
        .collect()
}

/// Writes [`drain`]'s lines to stdout, the function's log, in one write.
pub fn flush() {
    let lines = drain();
    if lines.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let text = lines.join("\n") + "\n";
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        tracing::warn!(error = %e, "EMF metrics not written");
    }
}

/// Renames one EMF document's metrics and dimensions to their CloudWatch names (a name outside
/// the table stays as it is), and adds the empty dimension set beside a non-empty one.
pub fn rename(doc: &mut Value) {
    let Some(map) = doc.as_object_mut() else {
        return;
    };
    let renamed = |key: &str| {
        metric_name(key)
            .or_else(|| dimension_name(key))
            .map_or_else(|| key.to_owned(), str::to_owned)
    };
    let fields: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    for (key, value) in fields {
        let key = if key == "_aws" { key } else { renamed(&key) };
        map.insert(key, value);
    }
    let directives = map
        .get_mut("_aws")
        .and_then(|aws| aws.get_mut("CloudWatchMetrics"))
        .and_then(Value::as_array_mut);
    for directive in directives.into_iter().flatten() {
        if let Some(metrics) = directive.get_mut("Metrics").and_then(Value::as_array_mut) {
            for metric in metrics {
                if let Some(name) = metric.get("Name").and_then(Value::as_str) {
                    let name = renamed(name);
                    metric["Name"] = Value::String(name);
                }
            }
        }
        if let Some(sets) = directive
            .get_mut("Dimensions")
            .and_then(Value::as_array_mut)
        {
            for set in sets.iter_mut().filter_map(Value::as_array_mut) {
                for dim in set.iter_mut() {
                    if let Some(name) = dim.as_str() {
                        *dim = Value::String(renamed(name));
                    }
                }
            }
            let has_empty = sets.iter().any(|s| s.as_array().is_some_and(Vec::is_empty));
            if !sets.is_empty() && !has_empty {
                sets.push(Value::Array(Vec::new()));
            }
        }
    }
}

/// `lambda_runtime::run` with the EMF recorder: installs it, then runs `handler` under the
/// runtime's tracing layer with a flush of the metrics after each invocation (after the
/// response was posted, before the next event is asked for, so a frozen or recycled
/// environment has written them).
pub async fn run<A, F, R, B, S, D, E>(handler: F) -> Result<(), Error>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Future: Future<Output = Result<R, F::Error>>,
    F::Error: Into<Diagnostic> + std::fmt::Debug,
    A: for<'de> Deserialize<'de>,
    R: IntoFunctionResponse<B, S>,
    B: Serialize,
    S: futures_core::Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<bytes::Bytes> + Send,
    E: Into<Error> + Send + std::fmt::Debug,
{
    install();
    Runtime::new(handler)
        .layer(TracingLayer::new())
        .layer(tower::util::MapResultLayer::new(flushed))
        .run()
        .await
}

/// The invocation's result, after its metrics were flushed.
fn flushed<T>(result: T) -> T {
    flush();
    result
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_document_gets_cloudwatch_names_and_a_total() {
        let mut doc = json!({
            "_aws": { "Timestamp": 1, "CloudWatchMetrics": [{
                "Namespace": "OrderPipeline",
                "Dimensions": [["reason"]],
                "Metrics": [{ "Name": "order_pipeline_orders_failed_total" }],
            }]},
            "reason": "OUT_OF_STOCK",
            "order_pipeline_orders_failed_total": 2,
        });
        rename(&mut doc);
        assert_eq!(
            doc,
            json!({
                "_aws": { "Timestamp": 1, "CloudWatchMetrics": [{
                    "Namespace": "OrderPipeline",
                    "Dimensions": [["Reason"], []],
                    "Metrics": [{ "Name": "OrdersFailed" }],
                }]},
                "Reason": "OUT_OF_STOCK",
                "OrdersFailed": 2,
            })
        );
        let mut plain = json!({
            "_aws": { "CloudWatchMetrics": [{ "Dimensions": [[]], "Metrics": [{ "Name": "x" }] }] },
            "x": 1,
        });
        rename(&mut plain);
        assert_eq!(
            plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(plain["x"], 1, "a name outside the table stays");
    }
}
