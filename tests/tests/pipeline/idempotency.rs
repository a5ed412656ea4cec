use std::collections::HashSet;

use order_runtime::Config;
use order_testkit::server::order_body;
use order_tests::{TestApp, default_seed, spawn_pipeline};
use reqwest::StatusCode;

/// The customer of `order_body`'s orders.
const CUSTOMER: &str = "cust-42";

/// The same Idempotency-Key with the same body answers the same order id and places nothing new.
#[tokio::test]
async fn a_repeated_key_and_body_answer_the_same_order_without_a_second_order_placed() {
    let app = spawn_pipeline(default_seed()).await;
    let body = order_body(&[("MUG", 1)], "tok_visa");
    let first = app.post_order_with_key(&body, "key-1").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let after_first = app.event_count().await;
    // Same meaning, other bytes: key order and whitespace do not make another request.
    let reordered = serde_json::json!({
        "paymentToken": "tok_visa",
        "items": [{ "quantity": 1, "productId": "MUG" }],
        "email": "jane.doe@example.com",
        "customerId": CUSTOMER
    });
    let second = app.post_order_with_key(&reordered, "key-1").await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_eq!(second.body["orderId"], first.body["orderId"]);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    let id = first.body["orderId"].as_str().unwrap();
    app.wait_terminal(id).await;
    let types = app.event_types(id).await;
    assert_eq!(types.iter().filter(|t| *t == "OrderPlaced").count(), 1);
    assert!(app.event_count().await >= after_first);
    app.shutdown().await;
}

/// The same key with a different body is refused with 422, and nothing is appended.
#[tokio::test]
async fn a_repeated_key_with_another_body_is_422() {
    let app = spawn_pipeline(default_seed()).await;
    let first = app
        .post_order_with_key(&order_body(&[("MUG", 1)], "tok_visa"), "key-2")
        .await;
    app.wait_terminal(first.body["orderId"].as_str().unwrap())
        .await;
    let before = app.event_count().await;
    let other = app
        .post_order_with_key(&order_body(&[("MUG", 2)], "tok_visa"), "key-2")
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.body["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.event_count().await, before);
    app.shutdown().await;
}

/// Twenty concurrent requests with one key place one order: each answers that order's id or
/// 409 (the first is still in flight), never a second order.
#[tokio::test]
async fn concurrent_requests_with_one_key_place_one_order() {
    let app = std::sync::Arc::new(spawn_pipeline(default_seed()).await);
    let body = order_body(&[("TEE", 1)], "tok_visa");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, body) = (app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            app.post_order_with_key(&body, "key-3").await
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        match a.status {
            StatusCode::ACCEPTED => {
                ids.insert(a.body["orderId"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(a.body["error"]["code"], "IDEMPOTENCY_KEY_IN_PROGRESS");
                assert!(a.headers.contains_key("retry-after"), "{:?}", a.headers);
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().unwrap();
    app.wait_terminal(&id).await;
    assert_eq!(
        app.available("TEE").await,
        999,
        "exactly one order took stock"
    );
}

/// Puts the key's record (the body's customer's) back to IN_PROGRESS with `lease_ms` left, as a
/// process leaves it when it dies between placing the order and marking the key complete.
fn leave_in_progress(app: &TestApp, key: &str, lease_ms: u64) {
    let customer = order_domain::CustomerId::parse(CUSTOMER).unwrap();
    let key = order_app::place::scoped_key(&customer, key);
    let db = rusqlite::Connection::open(app.data_dir().join("orders.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let until = order_domain::Timestamp::now().as_millis() + lease_ms;
    let changed = db
        .execute(
            "UPDATE idempotency SET state = 'IN_PROGRESS', expires_at = ?2 WHERE key = ?1",
            rusqlite::params![key, i64::try_from(until).unwrap()],
        )
        .unwrap();
    assert_eq!(changed, 1, "the key has a record");
}

/// A retry that finds the key held by a request in flight is told when to come back: the
/// seconds its lease has left.
#[tokio::test]
async fn a_key_in_flight_answers_409_with_the_seconds_its_lease_has_left_in_retry_after() {
    let app = spawn_pipeline(default_seed()).await;
    let body = order_body(&[("MUG", 1)], "tok_visa");
    assert_eq!(
        app.post_order_with_key(&body, "key-4").await.status,
        StatusCode::ACCEPTED
    );
    leave_in_progress(&app, "key-4", 20_000);
    let busy = app.post_order_with_key(&body, "key-4").await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.body);
    assert_eq!(busy.body["error"]["code"], "IDEMPOTENCY_KEY_IN_PROGRESS");
    let secs: u64 = busy.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&secs), "Retry-After: {secs}");
    app.shutdown().await;
}

/// The process died after placing the order and before marking the key complete, so its claim
/// is still IN_PROGRESS with most of its lease left. The restarted pipeline is the data
/// directory's only writer, so that claim is dead: the client's retry right after the restart
/// gets 202 with the same order id, instead of 409 until the lease runs out, and no second
/// order is placed.
#[tokio::test]
async fn a_claim_left_in_progress_by_a_dead_process_is_free_right_after_a_restart() {
    let mut app = spawn_pipeline(default_seed()).await;
    let body = order_body(&[("TEE", 1)], "tok_visa");
    let first = app.post_order_with_key(&body, "key-5").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let id = first.body["orderId"].as_str().unwrap().to_owned();
    app.wait_terminal(&id).await;

    app.server.take().unwrap().shutdown().await;
    leave_in_progress(&app, "key-5", 30_000);
    let mut config = Config::new(app.data_dir(), default_seed());
    config.retry_interval_scale = 0.01;
    let server = orders::serve(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("restarts on the same data directory");
    app.addr = server.addr;
    app.server = Some(server);

    let retry = app.post_order_with_key(&body, "key-5").await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.body);
    assert_eq!(retry.body["orderId"], id.as_str());
    app.wait_terminal(&id).await;
    let types = app.event_types(&id).await;
    assert_eq!(types.iter().filter(|t| *t == "OrderPlaced").count(), 1);
    assert_eq!(app.available("TEE").await, 999, "one order took stock");
    app.shutdown().await;
}
