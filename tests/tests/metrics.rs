//! The business metrics, end to end: orders of a known mix placed over HTTP, then `GET /metrics`
//! parsed with a Prometheus text-format parser, whose counters must equal what was placed; and
//! the workflow's tasks run twice (a redelivery), which must count each fact once.
//!
//! Its own test binary (its own process): the Prometheus recorder is global to a process, so
//! the counters here are this file's orders only. The redelivery test counts through a
//! recorder local to its thread, so it does not add to the HTTP test's.

#![allow(clippy::too_many_lines)] // scenario tests read top to bottom
#![allow(clippy::float_cmp)] // the values compared are small counts, exact in an f64

use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use order_app::gateway::SimulatedGateway;
use order_app::metrics as m;
use order_app::notify::{BUS_SOURCE, FailureNotice, ORDER_FAILED, notify_failure};
use order_app::seed::seed_inventory;
use order_app::tasks::{self, TaskError, TaskInput};
use order_app::vault::NoKeys;
use order_domain::ports::{BusEvent, Topic};
use order_domain::{Email, OrderId};
use order_embedded::db::{Db, Durability};
use order_embedded::outbox::OutboxNotifier;
use order_embedded::store::SqliteEventStore;
use order_testkit::events::seed_product;
use order_testkit::server::order_body;
use order_tests::{TestApp, default_seed, spawn_pipeline};
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;
use serde_json::json;

/// The value of `name` (the sum over its series whose labels include `labels`); a histogram
/// answers its count. 0 when absent.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

async fn scrape(app: &TestApp) -> Scrape {
    // Unauthenticated, as a scraper asks.
    let answer = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = answer.text().await.unwrap();
    assert!(
        text.contains(&format!("# HELP {} ", m::ORDERS_PLACED)),
        "described: {text}"
    );
    parse(&text)
}

/// Scrapes until `done` holds (the emails and the refund workflow end after the order's view
/// says so), 30 s at most.
async fn scrape_until(app: &TestApp, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = scrape(app).await;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "no {what} in /metrics");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn place(app: &TestApp, items: &[(&str, i64)], token: &str) -> String {
    let placed = app.post_order(&order_body(items, token)).await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{}", placed.body);
    placed.body["orderId"].as_str().unwrap().to_owned()
}

/// Completed, declined, rejected and scarce orders (a scarce one completes, is rejected at
/// validation or runs out of stock at reservation, whichever the race gives: the test counts
/// what the views say), one completed order cancelled and one partly refunded.
#[tokio::test]
async fn metrics_count_what_was_placed() {
    let app = spawn_pipeline(default_seed()).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(place(&app, &[("MUG", 2)], "tok_visa").await);
    }
    for _ in 0..2 {
        ids.push(place(&app, &[("MUG", 1)], "tok_decline").await);
    }
    ids.push(place(&app, &[("SCARCE", 4)], "tok_visa").await);
    for _ in 0..3 {
        ids.push(place(&app, &[("SCARCE", 2)], "tok_visa").await);
    }
    let mut completed = Vec::new();
    let mut failed = std::collections::BTreeMap::<String, f64>::new();
    for id in &ids {
        let done = app.wait_terminal(id).await;
        if done["status"] == "COMPLETED" {
            completed.push(id.clone());
        } else {
            *failed
                .entry(done["reason"].as_str().unwrap().to_owned())
                .or_default() += 1.0;
        }
    }
    assert_eq!(failed.get("PAYMENT_DECLINED"), Some(&2.0), "{failed:?}");
    assert!(failed.contains_key("REJECTED"), "{failed:?}");

    // The first completed order is cancelled (refunded in full), the second partly refunded.
    let cancel = app
        .post_as(
            &app.client,
            &format!("/orders/{}/cancel", completed[0]),
            Some(&json!({ "reason": "changed my mind" })),
            &[],
        )
        .await;
    assert_eq!(cancel.status, StatusCode::ACCEPTED, "{}", cancel.body);
    let operator = app.client_as("ops-1", true);
    let refund = app
        .post_as(
            &operator,
            &format!("/orders/{}/refunds", completed[1]),
            Some(&json!({
                "items": [{ "productId": "MUG", "quantity": 1 }],
                "restock": true,
                "reason": "returned",
            })),
            &[("idempotency-key", "r1")],
        )
        .await;
    assert_eq!(refund.status, StatusCode::ACCEPTED, "{}", refund.body);
    app.wait_status(&completed[0], "CANCELLED").await;

    let n = f64::from(u32::try_from(ids.len()).unwrap());
    let failures: f64 = failed.values().sum();
    let s = scrape_until(&app, "two issued refunds and every failure notice", |s| {
        value(s, m::REFUNDS_ISSUED, &[]) >= 2.0
            && value(
                s,
                m::EMAILS_PUBLISHED,
                &[(m::TOPIC, "OrderErrorNotificationTopic")],
            ) >= failures
    })
    .await;
    assert_eq!(value(&s, m::ORDERS_PLACED, &[]), n);
    assert_eq!(
        value(&s, m::ORDERS_COMPLETED, &[]),
        f64::from(u32::try_from(completed.len()).unwrap())
    );
    for (reason, count) in &failed {
        assert_eq!(
            value(&s, m::ORDERS_FAILED, &[(m::REASON, reason)]),
            *count,
            "{reason}"
        );
    }
    assert_eq!(value(&s, m::ORDERS_FAILED, &[]), failures);
    assert_eq!(value(&s, m::PAYMENT_DECLINES, &[]), 2.0);
    assert_eq!(
        value(&s, m::STOCK_OUTS, &[]),
        failed.get("OUT_OF_STOCK").copied().unwrap_or_default()
    );
    assert_eq!(value(&s, m::ORDERS_CANCELLED, &[]), 1.0);
    assert_eq!(value(&s, m::REFUNDS_REQUESTED, &[]), 2.0);
    assert_eq!(value(&s, m::REFUNDS_ISSUED, &[]), 2.0);
    assert_eq!(value(&s, m::REFUNDS_FAILED, &[]), 0.0);
    assert_eq!(value(&s, m::SHIPMENTS, &[]), 0.0);
    assert_eq!(
        value(
            &s,
            m::EMAILS_PUBLISHED,
            &[(m::TOPIC, "OrderErrorNotificationTopic")]
        ),
        failures
    );
    // Every order timed once, at its first end (the cancelled one had completed already).
    assert_eq!(value(&s, m::ORDER_LATENCY, &[]), n);
    assert_eq!(value(&s, m::QUEUE_DEAD_LETTERS, &[]), 0.0);
    // The embedded runner's number of executions at once is fixed (`Config`'s).
    assert_eq!(value(&s, m::EXECUTION_LIMIT, &[]), 512.0);
    assert!(
        s.samples.iter().any(|x| x.metric == m::QUEUE_VISIBLE),
        "the queue gauge is there"
    );
    // The projections ran: their lag is a gauge of a few milliseconds to seconds, never negative.
    let lag = s.samples.iter().find(|x| x.metric == m::PROJECTION_LAG);
    assert!(
        matches!(lag.map(|x| &x.value), Some(Value::Gauge(v)) if (0.0..60.0).contains(v)),
        "{lag:?}"
    );
    app.shutdown().await;
}

fn input(id: OrderId) -> TaskInput {
    TaskError::parse_input(json!({ "orderId": id })).unwrap()
}

/// Every task of two orders run twice (a redelivered invocation), one of them running out of
/// stock, and the failure notice's email task run twice: each fact is counted once, and the
/// second email counts as deduplicated, not sent.
#[test]
fn a_redelivered_task_is_counted_once() {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(m::ORDER_LATENCY.to_owned()),
            &m::LATENCY_BUCKETS,
        )
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
            let store = SqliteEventStore::new(db.clone());
            seed_inventory(&store, &[seed_product("P", 500, 1)])
                .await
                .unwrap();
            let g = SimulatedGateway;
            let a = order_testkit::events::place(&store, &[("P", 1)], "tok_visa").await;
            let b = order_testkit::events::place(&store, &[("P", 1)], "tok_visa").await;
            for _ in 0..2 {
                for id in [a, b] {
                    tasks::validate_order(&store, input(id)).await.unwrap();
                    tasks::process_payment(&store, &g, &NoKeys, input(id))
                        .await
                        .unwrap();
                }
                tasks::update_inventory(&store, input(a)).await.unwrap();
                let err = tasks::update_inventory(&store, input(b)).await.unwrap_err();
                let caught = json!({
                    "orderId": b,
                    "error": { "Error": "OutOfStock", "Cause": err.message() },
                });
                tasks::order_failed(&store, &g, TaskError::parse_input(caught).unwrap())
                    .await
                    .unwrap();
            }
            let outbox = OutboxNotifier::new(
                &dir.path().join("outbox"),
                &Email::parse("ops@example.com").unwrap(),
            )
            .unwrap();
            let failed = BusEvent {
                id: "failure-of-b".into(),
                source: BUS_SOURCE.into(),
                detail_type: ORDER_FAILED.into(),
                detail: json!({ "orderId": b }),
            };
            for _ in 0..2 {
                let sent = notify_failure(&store, &outbox, &failed).await.unwrap();
                assert_eq!(sent, FailureNotice::Sent);
            }
            assert_eq!(outbox.messages(Topic::OrderErrors).len(), 1);
            db.close();
        });
    });
    let s = parse(&handle.render());
    assert_eq!(value(&s, m::ORDERS_COMPLETED, &[]), 1.0);
    assert_eq!(value(&s, m::STOCK_OUTS, &[]), 1.0);
    assert_eq!(
        value(&s, m::ORDERS_FAILED, &[(m::REASON, "OUT_OF_STOCK")]),
        1.0
    );
    assert_eq!(value(&s, m::ORDERS_FAILED, &[]), 1.0);
    assert_eq!(value(&s, m::ORDER_LATENCY, &[]), 2.0);
    let errors = [(m::TOPIC, Topic::OrderErrors.name())];
    assert_eq!(value(&s, m::EMAILS_PUBLISHED, &errors), 1.0);
    assert_eq!(value(&s, m::EMAILS_DEDUPLICATED, &errors), 1.0);
}
