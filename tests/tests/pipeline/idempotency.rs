use std::collections::HashSet;

use order_tests::{default_seed, order_body, spawn_pipeline};
use reqwest::StatusCode;

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
        "customerId": "cust-42"
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
