//! The bytes of EMF metric lines each Lambda function writes per invocation, measured from the
//! Lambdas' own recorder (`order_lambda::emf`): CloudWatch Logs ingests them with the function's
//! log, so they are priced as log bytes.
//!
//! Every function flushes the recorder once per invocation (`order_lambda::emf::run`), and a
//! flush writes one EMF document per label set recorded since the last one. So an invocation's
//! bytes depend on which metric calls its code path made: the calls below are the ones the
//! shared use cases make on each function's path (`order_app::metrics`: `placed` in the intake,
//! `appended` after a task's append, `email_published` in the notifier, `projected` after a
//! projected batch), through the real recorder and its renaming, drained as a flush drains it.
//! A function whose outcomes differ (a payment captured or declined) is the mix of its paths in
//! the counted outcomes.

use std::collections::BTreeMap;

use order_app::metrics::{self as m, Before};
use order_domain::events::{
    FailureReason, OrderCompleted, OrderFailed, OutOfStock, PaymentDeclined,
};
use order_domain::ports::{Published, Topic};
use order_domain::values::{Money, OrderId, ProductId};
use order_domain::{EventMeta, GENESIS_HASH, OrderEvent, RecordedEvent, Timestamp};

use super::model::Observed;

/// Bytes CloudWatch Logs ingests for one flush after `calls` (each line and its newline).
fn flushed(calls: impl FnOnce()) -> f64 {
    calls();
    let bytes: usize = order_lambda::emf::drain().iter().map(|l| l.len() + 1).sum();
    #[allow(clippy::cast_precision_loss)] // a flush is a few KB
    let bytes = bytes as f64;
    bytes
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (part / whole).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// An order's history before a task's append: its OrderPlaced, which times the order's end.
fn before() -> Before {
    let id = OrderId::generate();
    let meta = EventMeta {
        correlation_id: id.into(),
        causation_id: id.into(),
        occurred_at: Timestamp::now(),
        trace_parent: None,
    };
    let placed = RecordedEvent::seal(
        id.stream(),
        0,
        GENESIS_HASH,
        ("OrderPlaced", 1, "{}".to_owned()),
        &meta,
    );
    Before::of(&[placed])
}

fn failed(reason: FailureReason) -> OrderEvent {
    OrderEvent::OrderFailed(OrderFailed {
        reason,
        message: String::new(),
    })
}

/// One flush's bytes after each code path's metric calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathBytes {
    nothing: f64,
    placed: f64,
    appended: f64,
    declined: f64,
    stock_out: f64,
    completed: f64,
    rejected_failed: f64,
    declined_failed: f64,
    stock_out_failed: f64,
    projected: f64,
    alert_email: f64,
    error_email: f64,
}

impl PathBytes {
    /// Installs the EMF recorder as the process's recorder (call it before anything installs
    /// another: the local server's Prometheus one then stands aside) and measures each path.
    pub fn measure() -> anyhow::Result<Self> {
        order_lambda::emf::install().ok_or_else(|| {
            anyhow::anyhow!("another metrics recorder was installed first: EMF cannot be measured")
        })?;
        // Whatever was recorded before is not an invocation's.
        let _ = order_lambda::emf::drain();
        let b = before();
        let now = Timestamp::now;
        let appended = |events: &[OrderEvent]| flushed(|| m::appended(events, b, now()));
        let email = |topic| flushed(|| m::email_published(topic, Published::Sent));
        Ok(Self {
            nothing: flushed(|| {}),
            placed: flushed(m::placed),
            // OrderValidated, OrderRejected, PaymentCaptured: no counter of their own.
            appended: appended(&[]),
            declined: appended(&[OrderEvent::PaymentDeclined(PaymentDeclined {
                code: String::new(),
                message: String::new(),
            })]),
            stock_out: appended(&[OrderEvent::OutOfStock(OutOfStock {
                product_id: ProductId::parse("p")?,
                requested: 1,
                available: 0,
            })]),
            completed: appended(&[OrderEvent::OrderCompleted(OrderCompleted {
                total: Money::from_minor(1_800),
            })]),
            rejected_failed: appended(&[failed(FailureReason::Rejected)]),
            declined_failed: appended(&[failed(FailureReason::PaymentDeclined)]),
            stock_out_failed: appended(&[failed(FailureReason::OutOfStock)]),
            projected: flushed(|| m::projected([now()], now())),
            alert_email: email(Topic::OrderAlerts),
            error_email: email(Topic::OrderErrors),
        })
    }

    /// Each function's bytes per invocation, keyed by the names of
    /// [`super::model::functions`]: the mix of its paths in the counted outcomes of `o`.
    pub fn per_function(&self, o: &Observed) -> BTreeMap<&'static str, f64> {
        let (rejected, declined) = (o.executions - o.validated, o.validated - o.captured);
        let out_of_stock = o.captured - o.completed;
        let mix = |p: f64, a: f64, b: f64| p * a + (1.0 - p) * b;
        let failed = share(rejected, o.failed) * self.rejected_failed
            + share(declined, o.failed) * self.declined_failed
            + share(out_of_stock, o.failed) * self.stock_out_failed;
        BTreeMap::from([
            ("order-placement (POST)", self.placed),
            ("order-placement (GET)", self.nothing),
            ("start-order-processing", self.nothing),
            ("validate-order", self.appended),
            (
                "process-payment",
                mix(share(declined, o.validated), self.declined, self.appended),
            ),
            (
                "update-inventory",
                mix(
                    share(out_of_stock, o.captured),
                    self.stock_out,
                    self.completed,
                ),
            ),
            ("order-failed", failed),
            ("event-projector", self.projected),
            ("order-success-handler", self.alert_email),
            ("order-failure-handler", self.error_email),
            ("order-update-handler", self.alert_email),
            // An idle run: nothing redriven or closed.
            ("order-sweeper", self.nothing),
        ])
    }
}
