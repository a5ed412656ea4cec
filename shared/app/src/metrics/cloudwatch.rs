//! The business metrics' names on CloudWatch: one table from the facade's Prometheus-style names
//! (`order_pipeline_*_total`, the local `/metrics`) to the CloudWatch metric names the Lambda
//! functions emit as Embedded Metric Format, and the labels to their dimension names. The
//! template's dashboard and alarms, and the tests that hold the EMF lines to them, use these.

use super::{
    ACTION, EMAILS_DEDUPLICATED, EMAILS_PUBLISHED, EXECUTION_LIMIT, ORDER_LATENCY,
    ORDERS_CANCELLED, ORDERS_COMPLETED, ORDERS_FAILED, ORDERS_OPEN, ORDERS_PLACED, ORDERS_SHED,
    PAYMENT_DECLINES, PROJECTION_LAG, QUEUE_DEAD_LETTERS, QUEUE_VISIBLE, REASON, REFUNDS_FAILED,
    REFUNDS_ISSUED, REFUNDS_REQUESTED, SHIPMENTS, STOCK_OUTS, SWEEPER_ACTIONS, TOPIC,
};

/// The one CloudWatch namespace of the pipeline's business metrics.
pub const NAMESPACE: &str = "OrderPipeline";

/// Facade name → CloudWatch metric name. Units come from the facade's descriptions
/// ([`super::describe`]): counters are counts, [`ORDER_LATENCY`] and [`PROJECTION_LAG`] seconds.
pub const NAMES: [(&str, &str); 20] = [
    (ORDERS_PLACED, "OrdersPlaced"),
    (ORDERS_COMPLETED, "OrdersCompleted"),
    (ORDERS_FAILED, "OrdersFailed"),
    (PAYMENT_DECLINES, "PaymentDeclines"),
    (STOCK_OUTS, "StockOuts"),
    (ORDERS_CANCELLED, "OrdersCancelled"),
    (SHIPMENTS, "Shipments"),
    (REFUNDS_REQUESTED, "RefundsRequested"),
    (REFUNDS_ISSUED, "RefundsIssued"),
    (REFUNDS_FAILED, "RefundsFailed"),
    (EMAILS_PUBLISHED, "EmailsSent"),
    (EMAILS_DEDUPLICATED, "EmailsDeduplicated"),
    (SWEEPER_ACTIONS, "SweeperActions"),
    (ORDER_LATENCY, "OrderLatency"),
    (PROJECTION_LAG, "ProjectionLag"),
    (QUEUE_VISIBLE, "QueueVisibleMessages"),
    (QUEUE_DEAD_LETTERS, "QueueDeadLetterMessages"),
    (ORDERS_SHED, "OrdersShed"),
    (ORDERS_OPEN, "OrdersOpen"),
    (EXECUTION_LIMIT, "WorkflowExecutionLimit"),
];

/// Label → dimension name. Every label is low-cardinality (a failure reason, a topic, a sweeper
/// action); no metric carries an order or customer id.
pub const DIMENSIONS: [(&str, &str); 3] =
    [(REASON, "Reason"), (TOPIC, "Topic"), (ACTION, "Action")];

/// The CloudWatch name of the facade metric `name`, if it is one of the pipeline's.
pub fn metric_name(name: &str) -> Option<&'static str> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, cw)| *cw)
}

/// The dimension name of the label `label`, if it is one of the pipeline's.
pub fn dimension_name(label: &str) -> Option<&'static str> {
    DIMENSIONS
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_maps_to_a_distinct_cloudwatch_name() {
        let mut names: Vec<&str> = NAMES.iter().map(|(_, cw)| *cw).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        assert_eq!(metric_name(ORDERS_COMPLETED), Some("OrdersCompleted"));
        assert_eq!(metric_name(ORDER_LATENCY), Some("OrderLatency"));
        assert_eq!(dimension_name(REASON), Some("Reason"));
        assert_eq!(metric_name("order_pipeline_unknown"), None);
    }
}
