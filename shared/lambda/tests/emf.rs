//! The business metrics as the Lambda functions write them: the EMF recorder of
//! `order_lambda::emf` installed (its own test binary: a process has one recorder), real
//! handler paths run (the order tasks, the confirmation and failure-notice handlers, each
//! email delivered twice), and the flushed lines checked as CloudWatch Embedded Metric Format:
//! one namespace, every metric value a top-level key, every dimension low-cardinality and
//! every `(metric, dimensions)` series one that template.yaml's dashboard plots.

#![allow(clippy::float_cmp)] // the values compared are small counts, exact in an f64

use std::collections::BTreeMap;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::gateway::SimulatedGateway;
use order_app::seed::{SeedProduct, seed_inventory};
use order_app::vault::NoKeys;
use order_domain::{Email, OrderId, Timestamp};
use order_embedded::db::{Db, Durability};
use order_embedded::outbox::OutboxNotifier;
use order_embedded::store::SqliteEventStore;
use order_lambda::task::{TaskFunction, run_task};
use serde_json::{Value, json};

const ORDER: &str = "01JDQ5Z8M7X3K9V2N4B6C8D0EF";

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// An EventBridge fixture for `order` with the log event id `event_id`.
fn bus_event(fixture: &str, order: OrderId, event_id: &str) -> EventBridgeEvent<Value> {
    let mut event: EventBridgeEvent<Value> = serde_json::from_str(&repo_file(fixture)).unwrap();
    event.detail["orderId"] = json!(order.to_string());
    event.detail["eventId"] = json!(event_id);
    event
}

/// One order completed through the task functions, one declined, each email delivered twice,
/// and a projected batch 1.5 s behind: the recorder's flushed lines.
async fn run_the_handlers() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let ops = Email::parse("ops@example.com").unwrap();
    let notifier = OutboxNotifier::new(&dir.path().join("outbox"), &ops).unwrap();
    let mug: SeedProduct = serde_json::from_value(
        json!({ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }),
    )
    .unwrap();
    seed_inventory(&store, &[mug]).await.unwrap();

    let completed = OrderId::parse(ORDER).unwrap();
    order_testkit::events::place_as(&store, completed, &[("MUG", 2)], "tok_visa").await;
    for f in [
        TaskFunction::ValidateOrder,
        TaskFunction::ProcessPayment,
        TaskFunction::UpdateInventory,
    ] {
        let payload = json!({ "orderId": ORDER });
        run_task(f, &store, &SimulatedGateway, &NoKeys, payload)
            .await
            .unwrap();
    }
    let declined = OrderId::generate();
    order_testkit::events::place_as(&store, declined, &[("MUG", 1)], "tok_decline").await;
    order_testkit::tasks::drive(&store, declined).await;

    // Each email delivered twice: the second is a duplicate the notifier drops.
    let confirmation = bus_event(
        "services/order-success-handler/fixtures/order-completed.json",
        completed,
        "01JDQ5Z9AAAAAAAAAAAAAAAAAA",
    );
    let failure = bus_event(
        "services/order-failure-handler/fixtures/order-failed.json",
        declined,
        "01JDQ5Z9BBBBBBBBBBBBBBBBBB",
    );
    for _ in 0..2 {
        order_lambda::confirm::handle_event(&store, &notifier, &NoKeys, confirmation.clone())
            .await
            .unwrap();
        order_lambda::confirm::handle_failure_event(&store, &notifier, failure.clone())
            .await
            .unwrap();
    }
    // The projector's gauge, as EventProjector sets it after a batch: a batch whose newer
    // record (1.5 s old) failed after its older one (30 s old) was projected shows the failed
    // record's age, the one not projected yet.
    let record = |seq: &str, age_ms: u64| {
        let meta = order_domain::EventMeta {
            correlation_id: "c".into(),
            causation_id: "c".into(),
            occurred_at: Timestamp::from_millis(Timestamp::now().as_millis() - age_ms),
            trace_parent: None,
        };
        let placed = order_domain::RecordedEvent::seal(
            declined.stream(),
            0,
            order_domain::envelope::GENESIS_HASH,
            ("OrderPlaced", 2, "{}".to_owned()),
            &meta,
        );
        order_aws::ChangeRecord {
            shard_id: None,
            sequence_number: seq.to_owned(),
            event: Ok(placed),
        }
    };
    let batch = [record("1", 30_000), record("2", 1_500)];
    order_aws::projector::report_lag(&batch, &["2".to_owned()]);
    db.close();
    order_lambda::emf::drain()
}

#[tokio::test]
async fn the_lambda_handlers_metrics_are_emf_the_dashboard_plots() {
    let _ = order_lambda::emf::install().expect("the EMF recorder installs");
    let lines = run_the_handlers().await;
    eprintln!("{}", lines.join("\n")); // shown when an assertion fails
    assert!(!lines.is_empty());
    let plotted = order_testkit::emf::dashboard_series(&repo_file("template.yaml"));
    let mut seen = BTreeMap::new();
    for line in &lines {
        for (series, value) in order_testkit::emf::parse(line) {
            assert!(
                plotted.contains(&series),
                "{series:?} is not on the dashboard; it plots {plotted:#?}"
            );
            seen.insert(series, value);
        }
    }
    let total = |name: &str| seen[&(name.to_owned(), BTreeMap::new())].clone();
    let with = |name: &str, dim: &str, value: &str| {
        let dims = BTreeMap::from([(dim.to_owned(), value.to_owned())]);
        seen[&(name.to_owned(), dims)].clone()
    };
    assert_eq!(total("OrdersCompleted"), 1);
    assert_eq!(total("OrdersFailed"), 1);
    assert_eq!(with("OrdersFailed", "Reason", "PAYMENT_DECLINED"), 1);
    assert_eq!(total("PaymentDeclines"), 1);
    assert_eq!(total("OrderLatency").as_array().map(Vec::len), Some(2));
    assert_eq!(with("EmailsSent", "Topic", "OrderAlertsTopic"), 1);
    assert_eq!(with("EmailsDeduplicated", "Topic", "OrderAlertsTopic"), 1);
    assert_eq!(
        with("EmailsSent", "Topic", "OrderErrorNotificationTopic"),
        1
    );
    assert_eq!(
        with("EmailsDeduplicated", "Topic", "OrderErrorNotificationTopic"),
        1
    );
    let lag = total("ProjectionLag").as_f64().unwrap();
    assert!(
        (1.5..20.0).contains(&lag),
        "the failed record's age, not 30 s: {lag}"
    );
    let units: Vec<Value> = lines
        .iter()
        .flat_map(|l| {
            let doc: Value = serde_json::from_str(l).unwrap();
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .clone()
        })
        .filter(|m| m["Name"] == "OrderLatency" || m["Name"] == "ProjectionLag")
        .map(|m| m["Unit"].clone())
        .collect();
    assert_eq!(units, [json!("Seconds"), json!("Seconds")], "{lines:#?}");

    // Flushed once: the counters start again from nothing.
    let again = order_lambda::emf::drain();
    assert!(
        again.iter().all(|l| !l.contains("OrdersCompleted")),
        "{again:?}"
    );
}
