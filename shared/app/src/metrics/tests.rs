//! What [`appended`] counts, read back through a Prometheus recorder local to the test.

#![allow(clippy::float_cmp)] // the values compared are small counts and sums, exact in an f64

use metrics_exporter_prometheus::PrometheusBuilder;
use order_domain::events::{OrderCompleted, OrderFailed, PaymentDeclined};
use order_domain::values::Money;
use order_domain::{EventMeta, FailureReason, OrderId, RecordedEvent, Timestamp};

use super::*;

/// Runs `f` with a fresh recorder of this thread only, and answers the rendered page.
fn rendered(f: impl FnOnce()) -> String {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(ORDER_LATENCY.to_owned()),
            &LATENCY_BUCKETS,
        )
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, f);
    handle.render()
}

/// The value of the sample line that starts with `series ` (0 when absent).
fn value(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn recorded(event: &OrderEvent, at_ms: u64) -> RecordedEvent {
    let id = OrderId::generate();
    let meta = EventMeta {
        correlation_id: id.into(),
        causation_id: id.into(),
        occurred_at: Timestamp::from_millis(at_ms),
        trace_parent: None,
    };
    RecordedEvent::seal(
        id.stream(),
        0,
        order_domain::GENESIS_HASH,
        event.encode(),
        &meta,
    )
}

fn declined() -> OrderEvent {
    OrderEvent::PaymentDeclined(PaymentDeclined {
        code: "card_declined".into(),
        message: String::new(),
    })
}

fn failed(reason: FailureReason) -> OrderEvent {
    OrderEvent::OrderFailed(OrderFailed {
        reason,
        message: String::new(),
    })
}

#[test]
fn each_appended_fact_is_counted_with_its_reason_and_the_end_is_timed_once() {
    let history = [recorded(&declined(), 1_000)];
    let page = rendered(|| {
        appended(
            &[declined(), failed(FailureReason::PaymentDeclined)],
            Before::of(&history),
            Timestamp::from_millis(1_250),
        );
    });
    assert_eq!(value(&page, PAYMENT_DECLINES), 1.0, "{page}");
    assert_eq!(
        value(
            &page,
            &format!("{ORDERS_FAILED}{{{REASON}=\"PAYMENT_DECLINED\"}}")
        ),
        1.0,
        "{page}"
    );
    assert_eq!(value(&page, &format!("{ORDER_LATENCY}_count")), 1.0);
    assert_eq!(value(&page, &format!("{ORDER_LATENCY}_sum")), 0.25);
    assert_eq!(
        value(&page, &format!("{ORDER_LATENCY}_bucket{{le=\"0.25\"}}")),
        1.0,
        "{page}"
    );
}

/// An order that already ended (completed, then cancelled) is not timed a second time.
#[test]
fn an_order_that_already_ended_is_not_timed_again() {
    let completed = OrderEvent::OrderCompleted(OrderCompleted {
        total: Money::from_minor(100),
    });
    let history = [recorded(&declined(), 1_000), recorded(&completed, 1_100)];
    let page = rendered(|| {
        appended(
            &[failed(FailureReason::ProcessingError)],
            Before::of(&history),
            Timestamp::from_millis(9_000),
        );
    });
    assert_eq!(
        value(&page, &format!("{ORDER_LATENCY}_count")),
        0.0,
        "{page}"
    );
}

/// A decision already in the stream appends nothing, and so counts nothing: what a
/// redelivered task amounts to.
#[test]
fn nothing_appended_counts_nothing() {
    let page = rendered(|| appended(&[], Before::default(), Timestamp::from_millis(1)));
    assert!(!page.contains(PREFIX), "{page}");
}

#[test]
fn every_name_has_the_namespace() {
    for name in [
        ORDERS_PLACED,
        ORDERS_COMPLETED,
        ORDERS_FAILED,
        PAYMENT_DECLINES,
        STOCK_OUTS,
        ORDERS_CANCELLED,
        SHIPMENTS,
        REFUNDS_REQUESTED,
        REFUNDS_ISSUED,
        REFUNDS_FAILED,
        EMAILS_PUBLISHED,
        EMAILS_DEDUPLICATED,
        PROJECTION_LAG,
        SWEEPER_ACTIONS,
        ORDER_LATENCY,
        QUEUE_VISIBLE,
        QUEUE_DEAD_LETTERS,
        ORDERS_SHED,
        ORDERS_OPEN,
        EXECUTION_LIMIT,
    ] {
        assert!(name.starts_with(PREFIX), "{name}");
        assert!(
            cloudwatch::metric_name(name).is_some(),
            "{name} has a CloudWatch name"
        );
    }
}
