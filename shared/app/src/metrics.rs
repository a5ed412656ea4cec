//! The pipeline's business metrics, named once and emitted from the use cases, so both hosts
//! count alike. They go through the `metrics` facade: a host that installs a recorder (the
//! local server's Prometheus one) sees them; without one every call is a no-op, and with one it
//! is a few atomic operations, so the hot path stays cheap.
//!
//! # Counted once per fact
//! The pipeline's tasks, handlers and loops are retried and redelivered, so a counter bumped
//! wherever code *runs* would count a redelivered task twice. Every order counter is instead
//! bumped by the call that **appended** the event stating the fact ([`appended`]), after the
//! append succeeded: a retried task finds the decision already in the stream, decides no new
//! events and counts nothing, and of two racing writers only the one whose conditional append
//! won counts. Placement is counted where the intake recorded a new order ([`placed`]).
//!
//! End-to-end latency (placed → terminal) is observed at the same place: by the append of the
//! order's first terminal event (OrderCompleted, OrderFailed or OrderCancelled), measured from
//! the OrderPlaced event's `occurred_at` to the moment the terminal event's append succeeded
//! (within a millisecond of its own `occurred_at`). Not where the terminal event
//! is forwarded: forwarding retries whole batches, so it may see an event twice.
//!
//! Emails are counted by what the notifier answered ([`email_published`]): a message it sent
//! counts as published, one it dropped as a redelivery of a sent one as deduplicated, so
//! published emails are emails that went out, once each.
//!
//! All names share the [`PREFIX`]; labels are few and bounded (a failure reason, a topic, a
//! sweeper action), never an order or customer id.

use order_domain::ports::{Published, Topic};
use order_domain::{FailureReason, OrderEvent, RecordedEvent, Timestamp};

/// The namespace of every metric of the pipeline.
pub const PREFIX: &str = "order_pipeline_";

/// Orders placed (new orders the intake recorded; a replayed `Idempotency-Key` is not one).
pub const ORDERS_PLACED: &str = "order_pipeline_orders_placed_total";
/// Orders completed (OrderCompleted appended).
pub const ORDERS_COMPLETED: &str = "order_pipeline_orders_completed_total";
/// Orders failed, by [`REASON`] (OrderFailed appended).
pub const ORDERS_FAILED: &str = "order_pipeline_orders_failed_total";
/// Charges the gateway declined (PaymentDeclined appended).
pub const PAYMENT_DECLINES: &str = "order_pipeline_payment_declines_total";
/// Reservations refused for lack of stock (OutOfStock appended).
pub const STOCK_OUTS: &str = "order_pipeline_stock_outs_total";
/// Orders cancelled (OrderCancelled appended).
pub const ORDERS_CANCELLED: &str = "order_pipeline_orders_cancelled_total";
/// Orders shipped (OrderShipped appended).
pub const SHIPMENTS: &str = "order_pipeline_shipments_total";
/// Refunds requested (RefundRequested appended, a cancellation's refund included).
pub const REFUNDS_REQUESTED: &str = "order_pipeline_refunds_requested_total";
/// Refunds issued (RefundIssued appended).
pub const REFUNDS_ISSUED: &str = "order_pipeline_refunds_issued_total";
/// Refunds that could not be made (RefundFailed appended).
pub const REFUNDS_FAILED: &str = "order_pipeline_refunds_failed_total";
/// Emails the notifier sent, by [`TOPIC`] (a redelivery it dropped is not one).
pub const EMAILS_PUBLISHED: &str = "order_pipeline_emails_published_total";
/// Emails the notifier dropped as a redelivery of one it already sent, by [`TOPIC`].
pub const EMAILS_DEDUPLICATED: &str = "order_pipeline_emails_deduplicated_total";
/// Seconds from an event's append to its projection into the read models (gauge: the oldest
/// event of the latest projected batch).
pub const PROJECTION_LAG: &str = "order_pipeline_projection_lag_seconds";
/// Orders the sweeper acted on, by [`ACTION`] ([`REDRIVEN`] or [`CLOSED`]).
pub const SWEEPER_ACTIONS: &str = "order_pipeline_sweeper_actions_total";
/// Seconds from OrderPlaced to the order's first terminal event (histogram).
pub const ORDER_LATENCY: &str = "order_pipeline_order_latency_seconds";
/// Messages waiting on OrdersQueue (gauge, set by the host when it is scraped).
pub const QUEUE_VISIBLE: &str = "order_pipeline_queue_visible_messages";
/// Messages in OrdersQueue's dead-letter queue (gauge, set by the host when it is scraped).
pub const QUEUE_DEAD_LETTERS: &str = "order_pipeline_queue_dead_letter_messages";
/// `POST /orders` refused because the backlog was at its bound (503 `BACKLOG_FULL`, nothing
/// appended; see [`crate::backlog`]).
pub const ORDERS_SHED: &str = "order_pipeline_orders_shed_total";
/// Orders admitted and not yet ended, the backlog admission is checked against (gauge, set by
/// the host when it is scraped).
pub const ORDERS_OPEN: &str = "order_pipeline_orders_open";
/// Gauge: how many workflow executions a local host's runner runs at once (fixed on the
/// embedded host; on `serve --backend aws`, where its adaptive limit stands).
pub const EXECUTION_LIMIT: &str = "order_pipeline_workflow_execution_limit";

/// The label of [`ORDERS_FAILED`]: a `FailureReason` (REJECTED, PAYMENT_DECLINED, ...).
pub const REASON: &str = "reason";
/// The label of [`EMAILS_PUBLISHED`] and [`EMAILS_DEDUPLICATED`]: the topic's logical name.
pub const TOPIC: &str = "topic";
/// The label of [`SWEEPER_ACTIONS`].
pub const ACTION: &str = "action";
/// A sweeper action: an order left PLACED re-enqueued.
pub const REDRIVEN: &str = "redriven";
/// A sweeper action: a stuck order closed as FAILED.
pub const CLOSED: &str = "closed";

/// The histogram buckets of [`ORDER_LATENCY`], in seconds: a local order ends in milliseconds,
/// a retried step in seconds, a swept one in minutes.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

const TERMINAL: [&str; 3] = ["OrderCompleted", "OrderFailed", "OrderCancelled"];

/// What an order's stream held before an append: enough to time its end once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Before {
    placed_at: Option<Timestamp>,
    ended: bool,
}

impl Before {
    /// Reads it from the order's history (the stream the decision was taken on).
    pub fn of(history: &[RecordedEvent]) -> Self {
        Self {
            placed_at: history.first().map(|e| e.occurred_at),
            ended: history
                .iter()
                .any(|e| TERMINAL.contains(&e.event_type.as_str())),
        }
    }
}

/// Counts the facts of `events`, which the caller has just appended to an order's stream that
/// held `before`. Call only after the append succeeded, never for a decision already in the
/// stream: that is what makes each fact count once.
pub fn appended(events: &[OrderEvent], before: Before, at: Timestamp) {
    let mut ended = before.ended;
    for event in events {
        match event {
            OrderEvent::OrderCompleted(_) => metrics::counter!(ORDERS_COMPLETED).increment(1),
            OrderEvent::OrderFailed(f) => {
                metrics::counter!(ORDERS_FAILED, REASON => f.reason.as_str()).increment(1);
            }
            OrderEvent::PaymentDeclined(_) => metrics::counter!(PAYMENT_DECLINES).increment(1),
            OrderEvent::OutOfStock(_) => metrics::counter!(STOCK_OUTS).increment(1),
            OrderEvent::OrderCancelled(_) => metrics::counter!(ORDERS_CANCELLED).increment(1),
            OrderEvent::OrderShipped(_) => metrics::counter!(SHIPMENTS).increment(1),
            OrderEvent::RefundRequested(_) => metrics::counter!(REFUNDS_REQUESTED).increment(1),
            OrderEvent::RefundIssued(_) => metrics::counter!(REFUNDS_ISSUED).increment(1),
            OrderEvent::RefundFailed(_) => metrics::counter!(REFUNDS_FAILED).increment(1),
            _ => {}
        }
        // Only the first terminal event times the order: a completed order cancelled later
        // has already been timed.
        if event.is_terminal() && !ended {
            ended = true;
            crate::backlog::PROCESS.ended();
            if let Some(placed) = before.placed_at {
                let ms = at.as_millis().saturating_sub(placed.as_millis());
                #[allow(clippy::cast_precision_loss)] // milliseconds fit an f64 exactly
                metrics::histogram!(ORDER_LATENCY).record(ms as f64 / 1000.0);
            }
        }
    }
}

/// Describes every metric to the installed recorder (a scrape's `# HELP` lines) and registers
/// every counter series at 0, so a scrape shows them before their first fact (a `rate()`
/// then starts from the first increment, not from the second). A host calls it once, after
/// installing its recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        ORDERS_PLACED,
        "Orders placed (new orders the intake recorded)"
    );
    describe_counter!(ORDERS_COMPLETED, "Orders completed");
    describe_counter!(ORDERS_FAILED, "Orders failed, by reason");
    describe_counter!(PAYMENT_DECLINES, "Charges the gateway declined");
    describe_counter!(STOCK_OUTS, "Reservations refused for lack of stock");
    describe_counter!(ORDERS_CANCELLED, "Orders cancelled");
    describe_counter!(SHIPMENTS, "Orders shipped");
    describe_counter!(REFUNDS_REQUESTED, "Refunds requested");
    describe_counter!(REFUNDS_ISSUED, "Refunds issued");
    describe_counter!(REFUNDS_FAILED, "Refunds that could not be made");
    describe_counter!(EMAILS_PUBLISHED, "Emails the notifier sent, by topic");
    describe_counter!(
        EMAILS_DEDUPLICATED,
        "Emails the notifier dropped as a redelivery, by topic"
    );
    describe_counter!(SWEEPER_ACTIONS, "Orders the sweeper redrove or closed");
    describe_counter!(
        ORDERS_SHED,
        "Orders refused with 503 because the backlog was at its bound"
    );
    describe_gauge!(
        ORDERS_OPEN,
        "Orders admitted and not yet ended (the backlog)"
    );
    describe_gauge!(
        EXECUTION_LIMIT,
        "Workflow executions the local runner runs at once (adaptive on a remote backend)"
    );
    describe_histogram!(
        ORDER_LATENCY,
        Unit::Seconds,
        "From OrderPlaced to the order's first terminal event"
    );
    describe_gauge!(
        PROJECTION_LAG,
        Unit::Seconds,
        "From an event's append to its projection (oldest event of the latest batch)"
    );
    describe_gauge!(QUEUE_VISIBLE, "Messages waiting on OrdersQueue");
    describe_gauge!(
        QUEUE_DEAD_LETTERS,
        "Messages in OrdersQueue's dead-letter queue"
    );
    for name in [
        ORDERS_PLACED,
        ORDERS_COMPLETED,
        PAYMENT_DECLINES,
        STOCK_OUTS,
        ORDERS_CANCELLED,
        SHIPMENTS,
        REFUNDS_REQUESTED,
        REFUNDS_ISSUED,
        REFUNDS_FAILED,
        ORDERS_SHED,
    ] {
        metrics::counter!(name).increment(0);
    }
    for reason in [
        FailureReason::Rejected,
        FailureReason::PaymentDeclined,
        FailureReason::OutOfStock,
        FailureReason::ProcessingError,
    ] {
        metrics::counter!(ORDERS_FAILED, REASON => reason.as_str()).increment(0);
    }
    for topic in Topic::all() {
        metrics::counter!(EMAILS_PUBLISHED, TOPIC => topic.name()).increment(0);
        metrics::counter!(EMAILS_DEDUPLICATED, TOPIC => topic.name()).increment(0);
    }
    for action in [REDRIVEN, CLOSED] {
        metrics::counter!(SWEEPER_ACTIONS, ACTION => action).increment(0);
    }
}

/// Counts a new order (the intake recorded its OrderPlaced).
pub fn placed() {
    metrics::counter!(ORDERS_PLACED).increment(1);
}

/// Counts an email the notifier sent on `topic`, or dropped as a redelivery.
pub fn email_published(topic: Topic, published: Published) {
    let name = match published {
        Published::Sent => EMAILS_PUBLISHED,
        Published::Duplicate => EMAILS_DEDUPLICATED,
    };
    metrics::counter!(name, TOPIC => topic.name()).increment(1);
}

/// Sets [`PROJECTION_LAG`] from a batch just projected: seconds from the append of its oldest
/// event (`occurred_at`, stamped at the append) to `now`. An empty batch sets nothing.
pub fn projected(occurred: impl IntoIterator<Item = Timestamp>, now: Timestamp) {
    if let Some(oldest) = occurred.into_iter().min() {
        let ms = now.as_millis().saturating_sub(oldest.as_millis());
        #[allow(clippy::cast_precision_loss)] // milliseconds fit an f64 exactly
        metrics::gauge!(PROJECTION_LAG).set(ms as f64 / 1000.0);
    }
}

/// Counts `n` orders the sweeper acted on with `action` ([`REDRIVEN`] or [`CLOSED`]).
pub fn swept(action: &'static str, n: usize) {
    if n > 0 {
        metrics::counter!(SWEEPER_ACTIONS, ACTION => action).increment(n as u64);
    }
}

/// Counts a `POST /orders` shed because the backlog was at its bound.
pub fn shed() {
    metrics::counter!(ORDERS_SHED).increment(1);
}

/// Sets [`ORDERS_OPEN`] from the process's backlog.
#[allow(clippy::cast_precision_loss)] // a backlog is far below 2^52
pub fn orders_open() {
    metrics::gauge!(ORDERS_OPEN).set(crate::backlog::PROCESS.open() as f64);
}

/// Sets [`EXECUTION_LIMIT`].
#[allow(clippy::cast_precision_loss)] // a limit is far below 2^52
pub fn execution_limit(n: usize) {
    metrics::gauge!(EXECUTION_LIMIT).set(n as f64);
}

/// Sets the queue's gauges from the queue port's `(visible, dead-letter)` depth.
#[allow(clippy::cast_precision_loss)] // queue depths are far below 2^52
pub fn queue_depth((visible, dead): (u64, u64)) {
    metrics::gauge!(QUEUE_VISIBLE).set(visible as f64);
    metrics::gauge!(QUEUE_DEAD_LETTERS).set(dead as f64);
}

pub mod cloudwatch;

#[cfg(test)]
mod tests;
