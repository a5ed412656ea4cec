//! The deployed stack on one machine under AWS's faults: every release binary reaches the
//! emulator through the fault-injecting proxy (throttles, 5xx, connections dropped before and
//! after the request took effect, slow answers), while the harness, standing in for Lambda's
//! pollers, API Gateway, EventBridge and Step Functions, talks to the emulator directly and
//! redelivers as they do (the queue's visibility timeout, a stream batch from its failed
//! record, a rule's retries, the state machine's Retry policies).
//!
//! Every accepted order ends COMPLETED or FAILED as its card says, with one OrderPlaced, at
//! most one PaymentCaptured, its email on the right topic (a second one only for a publish
//! whose answer the proxy dropped after SNS took it: a standard topic sends both, on AWS too),
//! and stock equal to the seed minus what completed.
//!
//! `STACK_FAULT_SEED` picks the faults (default 21). Needs what `tests/stack.rs` needs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fault_proxy::{FaultConfig, FaultKind, FaultProxy};
use order_stack::api::{ApiRequest, ApiResponse};
use order_stack::harness::workspace_root;
use order_stack::{Harness, HarnessError};
use serde_json::{Value, json};

/// OrdersQueue's visibility timeout is 180 s, so a start that failed after its retries waits
/// that long for its redelivery; the sweeper (every minute) re-drives what stays PLACED.
const DEADLINE: Duration = Duration::from_mins(8);

fn customer(i: usize) -> String {
    format!("c-faults-{i}")
}

/// The API as a client retrying with the same Idempotency-Key: 5xx, 429 and 409 (its claim
/// still held by an attempt that failed) are retried, anything else is the answer.
async fn call(h: &Harness, request: &ApiRequest) -> ApiResponse {
    let mut delay = Duration::from_millis(50);
    for _ in 0..40 {
        let response = h.api(request).await;
        if !(response.status >= 500 || response.status == 429 || response.status == 409) {
            return response;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    h.api(request).await
}

async fn events(h: &Harness, i: usize, order_id: &str) -> Vec<Value> {
    let response = call(
        h,
        &ApiRequest::new("GET", &format!("/orders/{order_id}/events"))
            .signed_in(&customer(i), &format!("{}@example.com", customer(i))),
    )
    .await;
    assert_eq!(
        response.status, 200,
        "events of {order_id}: {}",
        response.body
    );
    let body = response.json();
    body["events"]
        .as_array()
        .or_else(|| body.as_array())
        .cloned()
        .unwrap_or_default()
}

fn count(events: &[Value], event_type: &str) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == event_type || e["eventType"] == event_type)
        .count()
}

async fn status(h: &Harness, i: usize, order_id: &str) -> Value {
    let response = call(
        h,
        &ApiRequest::new("GET", &format!("/orders/{order_id}"))
            .signed_in(&customer(i), &format!("{}@example.com", customer(i))),
    )
    .await;
    assert_eq!(response.status, 200, "GET {order_id}: {}", response.body);
    response.json()
}

async fn available(h: &Harness, product: &str) -> i64 {
    let response = call(h, &ApiRequest::new("GET", &format!("/inventory/{product}"))).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["available"].as_i64().expect("available")
}

/// The fault proxy (not yet armed) in front of the emulator, and the harness deployed with
/// every function behind it; `None` when the test is skipped (no emulator, outside CI).
async fn start(seed: u64) -> Option<(Harness, FaultProxy)> {
    order_testkit::support::endpoint("stack_faults")?;
    let upstream = std::env::var("AWS_ENDPOINT_URL").expect("checked above");
    let (_, proxy) = FaultProxy::start(&upstream, FaultConfig::modest(seed))
        .await
        .expect("the fault proxy starts");
    // Quiet while the stack deploys and seeds: the faults are for the orders.
    proxy.set_armed(false);
    let root = workspace_root();
    let bin_dir = std::env::var_os("ORDER_STACK_BIN_DIR")
        .map_or_else(|| root.join("target/release"), PathBuf::from);
    match Harness::start_with(&root, &bin_dir, 0.01, Some(&proxy.url())).await {
        Ok(h) => Some((h, proxy)),
        Err(e @ HarnessError::MissingBinaries { .. })
            if std::env::var("CI").as_deref() != Ok("true") =>
        {
            eprintln!("stack_faults: skipped: {e}");
            None
        }
        Err(e) => panic!("stack_faults: {e}"),
    }
}

/// Pumps until every order is COMPLETED or FAILED. A quiet stack is not a finished one here:
/// a message may be invisible until its visibility timeout, an order PLACED until the
/// sweeper's next minute.
async fn until_all_end(h: &Harness, proxy: &FaultProxy, orders: &BTreeMap<usize, (String, bool)>) {
    let started = Instant::now();
    loop {
        let _ = h.settle(Duration::from_secs(30)).await;
        h.fire_schedules(false).await;
        let mut open = Vec::new();
        for (i, (id, _)) in orders {
            let s = status(h, *i, id).await;
            if !matches!(s["status"].as_str(), Some("COMPLETED" | "FAILED")) {
                open.push((id.clone(), s["status"].clone()));
            }
        }
        if open.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "orders still open after {DEADLINE:?}: {open:?}\n{}",
            proxy.counts()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_faults_every_order_ends_once_with_its_email_and_exact_stock() {
    let seed = std::env::var("STACK_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    let Some((h, proxy)) = start(seed).await else {
        return;
    };
    h.settle(Duration::from_mins(2))
        .await
        .expect("the seed settles");
    let before = available(&h, "KEYBOARD").await;
    proxy.set_armed(true);

    // Eight orders, every third one declined.
    let mut orders = BTreeMap::new();
    for i in 0..8 {
        let token = if i % 3 == 2 {
            "tok_decline"
        } else {
            "tok_visa"
        };
        let body =
            json!({ "items": [{ "productId": "KEYBOARD", "quantity": 1 }], "paymentToken": token });
        let response = call(
            &h,
            &ApiRequest::new("POST", "/orders")
                .json(&body)
                .header("Idempotency-Key", &format!("faults-{seed}-{i}"))
                .signed_in(&customer(i), &format!("{}@example.com", customer(i))),
        )
        .await;
        assert_eq!(response.status, 202, "POST {i}: {}", response.body);
        let id = response.json()["orderId"].as_str().expect("id").to_owned();
        orders.insert(i, (id, token == "tok_visa"));
    }

    until_all_end(&h, &proxy, &orders).await;
    proxy.set_armed(false);
    h.settle(Duration::from_mins(1))
        .await
        .expect("the emails settle");
    let counts = proxy.counts();
    eprintln!("stack_faults: seed {seed}: {counts}");
    assert!(counts.total() > 0, "the proxy injected faults: {counts}");

    let lost_publish_answers = counts.of_call("sns.Publish", FaultKind::DropAfter);
    let mut completed = 0;
    let mut extra_emails = 0;
    for (i, (id, paid)) in &orders {
        let s = status(&h, *i, id).await;
        let log = events(&h, *i, id).await;
        assert_eq!(
            count(&log, "OrderPlaced"),
            1,
            "{id}: one OrderPlaced: {log:?}"
        );
        assert!(
            count(&log, "PaymentCaptured") <= 1,
            "{id}: one charge at most: {log:?}"
        );
        let (topic, other) = if *paid {
            assert_eq!(s["status"], "COMPLETED", "{id}: {s}");
            completed += 1;
            ("OrderAlertsTopic", "OrderErrorNotificationTopic")
        } else {
            assert_eq!(s["status"], "FAILED", "{id}: {s}");
            assert_eq!(s["reason"], "PAYMENT_DECLINED", "{id}: {s}");
            ("OrderErrorNotificationTopic", "OrderAlertsTopic")
        };
        // Its "order received" on OrderAlertsTopic, then its confirmation or failure email.
        let received = h
            .mail_to("OrderAlertsTopic", &format!("Order {id} received"))
            .len();
        assert!(received >= 1, "{id}: its \"order received\"");
        let besides = |t: &str| {
            let all = h.mail_to(t, id).len();
            if t == "OrderAlertsTopic" {
                all - received
            } else {
                all
            }
        };
        let emails = besides(topic);
        assert!(emails >= 1, "{id}: its email on {topic}");
        assert_eq!(besides(other), 0, "{id}: nothing else on {other}");
        extra_emails += emails - 1 + received - 1;
    }
    assert!(
        extra_emails as u64 <= lost_publish_answers,
        "{extra_emails} extra emails, but only {lost_publish_answers} publish answers were lost"
    );
    assert_eq!(
        available(&h, "KEYBOARD").await,
        before - completed,
        "stock: the seed minus what completed"
    );
}
