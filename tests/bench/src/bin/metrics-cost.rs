//! What the business metrics cost per order, on each host's recorder, against no recorder in
//! the same run.
//!
//! One order's metric calls are the ones the shared use cases make for a completed order: the
//! intake's `placed`, the tasks' `appended` (the completing one counts and times the order), two
//! emails sent (received, confirmed) and a projected batch. They are made through the real
//! `order_app::metrics` functions:
//! - with no recorder installed (the facade's no-op: the baseline);
//! - into the local server's Prometheus recorder, plus one render of the whole page per 1,000
//!   orders (a scrape every 5 s at 200 orders/s);
//! - into the Lambdas' EMF recorder, flushed as each function flushes it: once per invocation
//!   (five invocations an order: placement, three tasks, the email handler), counting the bytes
//!   CloudWatch Logs ingests.
//!
//! `cargo run --release -p order-bench --bin metrics-cost [-- --orders N]`

use std::hint::black_box;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusBuilder;
use order_app::metrics::{self as m, Before, LATENCY_BUCKETS, ORDER_LATENCY};
use order_domain::events::OrderCompleted;
use order_domain::ports::{Published, Topic};
use order_domain::values::{Money, OrderId};
use order_domain::{EventMeta, GENESIS_HASH, OrderEvent, RecordedEvent, Timestamp};

/// Invocations an order's metrics are flushed over on Lambda.
const INVOCATIONS: usize = 5;

fn main() {
    let orders: usize = std::env::args()
        .skip_while(|a| a != "--orders")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let order = Order::new();

    let none = per_order(orders, || order.calls(|| {}));
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(ORDER_LATENCY.to_owned()),
            &LATENCY_BUCKETS,
        )
        .expect("buckets")
        .build_recorder();
    let handle = prometheus.handle();
    let mut n = 0usize;
    let local = metrics::with_local_recorder(&prometheus, || {
        m::describe();
        per_order(orders, || {
            order.calls(|| {});
            n += 1;
            if n.is_multiple_of(1_000) {
                handle.run_upkeep();
                black_box(handle.render());
            }
        })
    });

    // A process has one global recorder: the EMF one is installed last, as a Lambda does.
    order_lambda::emf::install().expect("no recorder installed yet");
    let mut bytes = 0usize;
    let emf = per_order(orders, || {
        order.calls(|| {
            bytes += order_lambda::emf::drain()
                .iter()
                .map(|l| l.len() + 1)
                .sum::<usize>();
        });
    });
    #[allow(clippy::cast_precision_loss)]
    let bytes_per_order = bytes as f64 / orders as f64;

    println!("| recorder | ns per order | over none | EMF bytes per order |");
    println!("|---|---:|---:|---:|");
    println!("| none (the facade's no-op) | {none:.0} | | |");
    println!(
        "| Prometheus (`orders serve`), a render per 1,000 orders | {local:.0} | +{:.0} | |",
        local - none
    );
    println!(
        "| EMF (Lambda), flushed per invocation ({INVOCATIONS} an order) | {emf:.0} | +{:.0} | {bytes_per_order:.0} |",
        emf - none
    );
    // CloudWatch Logs ingestion, us-east-1: $0.50 per GB.
    println!(
        "\nEMF log ingestion: ${:.2} per million orders ($0.50/GB)",
        bytes_per_order * 1e6 / 1e9 * 0.50
    );
}

/// Nanoseconds per call of `order`, over `n` calls after a warm-up.
fn per_order(n: usize, mut order: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        order();
    }
    let start = Instant::now();
    for _ in 0..n {
        order();
    }
    #[allow(clippy::cast_precision_loss)]
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    ns
}

/// A completed order's history, enough for its metric calls.
struct Order {
    before: Before,
    completed: [OrderEvent; 1],
}

impl Order {
    fn new() -> Self {
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
        Self {
            before: Before::of(&[placed]),
            completed: [OrderEvent::OrderCompleted(OrderCompleted {
                total: Money::from_minor(1_800),
            })],
        }
    }

    /// The order's metric calls, `invocation` after each function's share of them.
    fn calls(&self, mut invocation: impl FnMut()) {
        m::placed();
        invocation();
        m::appended(&[], self.before, Timestamp::now());
        invocation();
        m::appended(&[], self.before, Timestamp::now());
        invocation();
        m::appended(&self.completed, self.before, Timestamp::now());
        invocation();
        m::email_published(Topic::OrderAlerts, Published::Sent);
        m::email_published(Topic::OrderAlerts, Published::Sent);
        m::projected([Timestamp::now()], Timestamp::now());
        invocation();
    }
}
