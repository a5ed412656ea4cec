//! `serve --backend aws` under AWS's faults: the real `orders` binary with `AWS_ENDPOINT_URL`
//! pointed at the fault proxy (`tests/fault-proxy`), moto behind it. Throttling errors, 5xx,
//! connections dropped before and after the emulator acted, and slow answers hit every call the
//! server makes; a client posts orders and retries as a real one does (same Idempotency-Key).
//! Then, reading the emulator directly: every accepted order is COMPLETED or FAILED, has one
//! OrderPlaced, at most one charge (refunded if it failed), one "order received" email and one
//! confirmation or failure email, and each product's stock
//! is its seed minus the completed quantities, reserved once per order.
//!
//! Email duplicates have one allowance, stated and counted: an SNS Publish that took effect and
//! whose answer was lost (`drop-after` on `sns.Publish`) is retried by the SDK, and a standard
//! topic delivers both; nothing before or after the call can tell, on AWS as here.
//!
//! Resources are provisioned directly on the emulator (the test's own prefix) and the proxy
//! passes everything through until the server is healthy; the faults start with the orders.
//! `FAULT_SEED` picks the proxy's seed (default 13), `FAULT_SCALE` multiplies the fractions
//! (default 1; 3 for a harsher run). Without an emulator the test says it was
//! skipped, except under `CI=true`.

mod audit;
mod client;
mod lost_answers;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fault_proxy::{FaultConfig, FaultKind, FaultProxy};
use order_domain::ports::Topic;
use order_testkit::notifier::SnsDeliveries;
use order_testkit::server::{Orders, bearer, token, wait_healthy};
use order_testkit::support::emulator;
use serde_json::{Value, json};

use crate::audit::Log;
use crate::client::{Accepted, place, terminal};

const ORDERS: usize = 60;
const CUSTOMERS: usize = 6;
/// The seed stock: FLASH runs out, so some orders fail on stock too.
const SEED: [(&str, u64); 3] = [("MUG", 500), ("PEN", 500), ("FLASH", 5)];

/// The `i`th order: (customer, items, payment token). A tenth are declined, a tenth want FLASH,
/// a fifteenth meet a gateway that errs twice before capturing.
fn plan(i: usize) -> (String, Vec<(&'static str, u64)>, &'static str) {
    let customer = format!("fault-c{}", i % CUSTOMERS);
    let (items, payment) = match i % 10 {
        3 => (vec![("MUG", 1)], "tok_decline"),
        7 => (vec![("FLASH", 1)], "tok_visa"),
        _ if i % 15 == 5 => (vec![("PEN", 2)], "tok_error"),
        _ => (vec![("MUG", 1 + (i as u64 % 3)), ("PEN", 1)], "tok_visa"),
    };
    (customer, items, payment)
}

fn body(customer: &str, items: &[(&str, u64)], payment: &str) -> Value {
    json!({
        "email": format!("{customer}@example.com"),
        "items": items.iter().map(|(p, q)| json!({ "productId": p, "quantity": q })).collect::<Vec<_>>(),
        "paymentToken": payment,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, then its audit
async fn under_faults_every_accepted_order_ends_once_with_one_charge_one_email_and_exact_stock() {
    let name =
        "under_faults_every_accepted_order_ends_once_with_one_charge_one_email_and_exact_stock";
    let Some(env) = emulator(name).await else {
        return;
    };
    let taps = SnsDeliveries::subscribe(&env).await;
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(13);
    let scale: f64 = std::env::var("FAULT_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let config = FaultConfig::modest(seed).scaled(scale);
    let (_, proxy) = FaultProxy::start(&env.endpoint, config)
        .await
        .expect("the fault proxy starts");
    proxy.set_armed(false);

    let mut dir = tempfile::tempdir().unwrap();
    // FAULT_KEEP=1 keeps the server's log and data after the run, to read a failure.
    if std::env::var("FAULT_KEEP").is_ok() {
        dir.disable_cleanup(true);
        eprintln!("keeping {}", dir.path().display());
    }
    let data = dir.path().join("data");
    let seed_file = dir.path().join("seed.json");
    let products: Vec<Value> = SEED
        .iter()
        .map(|(p, stock)| json!({ "productId": p, "name": p, "price": 700, "stock": stock }))
        .collect();
    std::fs::write(&seed_file, Value::Array(products).to_string()).unwrap();
    let mut vars: Vec<(&str, String)> = env.resources.env_pairs();
    vars.push(("AWS_ENDPOINT_URL", proxy.url()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let log = dir.path().join("serve.log");
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed_file,
        &log,
        &["--backend", "aws", "--redrive-after-secs", "5"],
        &vars,
    );
    let base = server.base.clone();
    wait_healthy(&reqwest::Client::new(), &base, Duration::from_mins(2)).await;
    proxy.set_armed(true);

    // Each customer posts its orders one after another; the customers at once.
    let started = Instant::now();
    let mut posting = tokio::task::JoinSet::new();
    for c in 0..CUSTOMERS {
        let customer = format!("fault-c{c}");
        let client = bearer(reqwest::Client::builder(), &token(&data, &customer, false))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let base = base.clone();
        posting.spawn(async move {
            let mut out = Vec::new();
            for i in (c..ORDERS).step_by(CUSTOMERS) {
                let (customer, items, payment) = plan(i);
                let key = format!("fault-order-{i}");
                let b = body(&customer, &items, payment);
                let accepted = place(&client, &base, &key, &b, Duration::from_mins(3)).await;
                out.push((i, accepted));
            }
            (customer, client, out)
        });
    }
    let mut accepted: BTreeMap<usize, Accepted> = BTreeMap::new();
    let mut clients: BTreeMap<String, reqwest::Client> = BTreeMap::new();
    while let Some(done) = posting.join_next().await {
        let (customer, client, out) = done.expect("a customer's posting");
        clients.insert(customer, client);
        accepted.extend(out);
    }
    let posted_in = started.elapsed();

    // Every accepted order ends, as its customer sees it.
    let deadline = Instant::now() + Duration::from_mins(5);
    let mut seen_status: BTreeMap<String, String> = BTreeMap::new();
    for (i, a) in &accepted {
        let owner = &clients[&plan(*i).0];
        let view = terminal(owner, &base, &a.order_id, deadline).await;
        seen_status.insert(
            a.order_id.clone(),
            view["status"].as_str().unwrap_or_default().to_owned(),
        );
    }
    let settled_in = started.elapsed();

    // The emails: wait until each terminal order has its two ("order received", then the
    // confirmation or failure notice), then a while for late duplicates.
    let topic_of = |status: &str| {
        if status == "COMPLETED" {
            Topic::OrderAlerts
        } else {
            Topic::OrderErrors
        }
    };
    let mail_deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let all = taps.all().await;
        let missing: Vec<&String> = seen_status
            .iter()
            .filter(|(id, status)| {
                let (received, ended) = emails_of(&all, id);
                received.is_empty() || !ended.iter().any(|d| d.topic == topic_of(status))
            })
            .map(|(id, _)| id)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < mail_deadline,
            "no email for {} orders, e.g. {:?} (see {})",
            missing.len(),
            missing.first(),
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let deliveries = taps.all().await;
    let counts = proxy.counts();
    drop(server);

    // The audit, on the emulator directly.
    let log_events = Log::read(&env).await;
    let ids: BTreeSet<String> = accepted.values().map(|a| a.order_id.clone()).collect();
    assert_eq!(ids.len(), accepted.len(), "two keys answered one order id");
    let in_log: BTreeSet<String> = log_events.order_ids().into_iter().collect();
    assert_eq!(
        in_log, ids,
        "orders in the log that no client was given, or missing ones"
    );
    let mut completed: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut n_completed, mut n_failed, mut duplicates) = (0, 0, 0);
    for (i, a) in &accepted {
        let id = a.order_id.as_str();
        let history = log_events.history(id);
        let status = log_events
            .status(id)
            .unwrap_or_else(|| panic!("{id} is not terminal in the log: {history:?}"));
        assert_eq!(seen_status[id], status, "{id}: view and log disagree");
        assert_eq!(log_events.count(id, "OrderPlaced"), 1, "{id}: {history:?}");
        let charges = log_events.count(id, "PaymentCaptured");
        assert!(charges <= 1, "{id} charged {charges} times: {history:?}");
        let refunds = log_events.count(id, "PaymentRefunded");
        if status == "FAILED" {
            n_failed += 1;
            assert_eq!(refunds, charges, "{id}: {history:?}");
        } else {
            n_completed += 1;
            assert_eq!((charges, refunds), (1, 0), "{id}: {history:?}");
            for (product, qty) in plan(*i).1 {
                *completed.entry(product).or_default() += qty;
            }
        }
        let (received, mails) = emails_of(&deliveries, id);
        assert!(
            mails.iter().all(|d| d.topic == topic_of(status)),
            "{id} ({status}) mailed on the wrong topic: {mails:?}"
        );
        assert!(!mails.is_empty(), "{id}: no email");
        assert!(!received.is_empty(), "{id}: no \"order received\"");
        duplicates += mails.len() - 1 + received.len() - 1;
    }
    for (product, seed) in SEED {
        let sold = completed.get(product).copied().unwrap_or(0);
        assert_eq!(
            log_events.stock(product),
            seed - sold,
            "{product}: seed {seed}, completed {sold}"
        );
        let reserved = log_events.reservations(product);
        for (i, a) in &accepted {
            let wants = plan(*i).1.iter().any(|(p, _)| *p == product);
            let expected =
                usize::from(wants && log_events.status(&a.order_id) == Some("COMPLETED"));
            assert_eq!(
                reserved.get(&a.order_id).copied().unwrap_or(0),
                expected,
                "{product} reserved for {}",
                a.order_id
            );
        }
    }
    let lost_publish_answers = counts.of_call("sns.Publish", FaultKind::DropAfter);
    let attempts: Vec<u32> = accepted.values().map(|a| a.attempts).collect();
    println!(
        "fault proxy (seed {seed}, scale {scale}): {counts}\n\
         orders: {} accepted ({n_completed} COMPLETED, {n_failed} FAILED) in {posted_in:?}, \
         all terminal after {settled_in:?}; client requests {} (most for one order {}); \
         emails {} ({duplicates} duplicates, {lost_publish_answers} publish answers lost after \
         SNS acted)",
        accepted.len(),
        attempts.iter().sum::<u32>(),
        attempts.iter().max().copied().unwrap_or(0),
        deliveries.len(),
    );
    assert!(
        duplicates as u64 <= lost_publish_answers,
        "{duplicates} duplicate emails, only {lost_publish_answers} explained by a lost Publish \
         answer"
    );
    assert!(n_completed > 0 && n_failed > 0);
    assert!(counts.total() > 0, "no fault was injected: {counts}");
}

/// The emails about order `id`: its "order received" (on OrderAlertsTopic), and the others (its
/// confirmation or failure notice).
fn emails_of<'d>(
    all: &'d [order_testkit::notifier::Delivery],
    id: &str,
) -> (
    Vec<&'d order_testkit::notifier::Delivery>,
    Vec<&'d order_testkit::notifier::Delivery>,
) {
    let subject = format!("Order {id} received");
    all.iter()
        .filter(|d| d.text.contains(id))
        .partition(|d| d.topic == Topic::OrderAlerts && d.text.contains(&subject))
}
