//! The business metrics as the Lambda functions write them: the EMF recorder of
//! `order_lambda::emf` installed (its own test binary: a process has one recorder), real
//! handler paths run (the order tasks, the confirmation and failure-notice handlers, each
//! email delivered twice), and the flushed lines checked as CloudWatch Embedded Metric Format:
//! one namespace, every metric value a top-level key, every dimension low-cardinality and
//! every `(metric, dimensions)` series one that template.yaml's dashboard plots.

#![allow(clippy::float_cmp)] // the values compared are small counts, exact in an f64

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::gateway::SimulatedGateway;
use order_app::metrics::cloudwatch::NAMESPACE;
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

/// A series: the metric's name and its dimensions (name → value).
type Series = (String, BTreeMap<String, String>);

/// The series of the `OrderPipeline` namespace that template.yaml's dashboard plots, read from
/// its `DashboardBody` (the JSON under `!Sub |`, whose `${...}` sit inside strings).
fn dashboard_series() -> BTreeSet<Series> {
    let template = repo_file("template.yaml");
    let mut lines = template
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("DashboardBody: !Sub |"))
        .skip(1);
    let first = lines.next().expect("a DashboardBody");
    let indent = first.len() - first.trim_start().len();
    let body: String = std::iter::once(first)
        .chain(
            lines.take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent),
        )
        .map(|l| format!("{}\n", l.get(indent..).unwrap_or_default()))
        .collect();
    let body: Value = serde_json::from_str(&body).expect("DashboardBody is JSON");
    let mut series = BTreeSet::new();
    for widget in body["widgets"].as_array().unwrap() {
        for row in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let row = row.as_array().unwrap();
            if row.first().and_then(Value::as_str) != Some(NAMESPACE) {
                continue;
            }
            let texts: Vec<&str> = row.iter().filter_map(Value::as_str).collect();
            let dims = texts[2..]
                .chunks(2)
                .map(|kv| (kv[0].to_owned(), kv[1].to_owned()))
                .collect();
            series.insert((texts[1].to_owned(), dims));
        }
    }
    series
}

/// Checks one line as EMF and answers its series with their values (a histogram's values
/// summed into a count).
fn parse_emf(line: &str) -> Vec<(Series, Value)> {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].is_u64(), "{line}");
    let mut out = Vec::new();
    for directive in aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics")
    {
        assert_eq!(directive["Namespace"], NAMESPACE, "{line}");
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let dims: BTreeMap<String, String> = set
                .as_array()
                .expect("a dimension set")
                .iter()
                .map(|d| {
                    let d = d.as_str().unwrap();
                    let value = doc[d].as_str().unwrap_or_else(|| panic!("{d}: {line}"));
                    (d.to_owned(), value.to_owned())
                })
                .collect();
            for metric in metrics {
                let name = metric["Name"].as_str().expect("a metric Name");
                let value = &doc[name];
                assert!(value.is_number() || value.is_array(), "{name}: {line}");
                out.push(((name.to_owned(), dims.clone()), value.clone()));
            }
        }
    }
    out
}

/// An EventBridge fixture for `order` with the log event id `event_id`.
fn bus_event(fixture: &str, order: OrderId, event_id: &str) -> EventBridgeEvent<Value> {
    let mut event: EventBridgeEvent<Value> = serde_json::from_str(&repo_file(fixture)).unwrap();
    event.detail["orderId"] = json!(order.to_string());
    event.detail["eventId"] = json!(event_id);
    event
}

#[tokio::test]
async fn the_lambda_handlers_metrics_are_emf_the_dashboard_plots() {
    let _ = order_lambda::emf::install().expect("the EMF recorder installs");
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

    // One order completed through the task functions, one declined.
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
    // The projector's gauge, as EventProjector sets it after a batch.
    let appended = Timestamp::from_millis(Timestamp::now().as_millis() - 1500);
    order_app::metrics::projected([appended], Timestamp::now());
    db.close();

    let lines = order_lambda::emf::drain();
    eprintln!("{}", lines.join("\n")); // shown when an assertion fails
    assert!(!lines.is_empty());
    let plotted = dashboard_series();
    let mut seen = BTreeMap::new();
    for line in &lines {
        for (series, value) in parse_emf(line) {
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
    assert!((1.5..60.0).contains(&lag), "{lag}");
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
