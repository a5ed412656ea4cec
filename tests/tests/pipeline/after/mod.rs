//! After the order: cancel, ship and refund over HTTP on the embedded pipeline, each followed
//! through the order's view, its history, the inventory and the outbox.
//!
//! The refunds are settled by the refund workflow the local runtime starts on the bus's
//! RefundRequested, and the emails are sent by the order-update notices; a test that waits for
//! either says so.

mod bad_input;
mod emails;
mod flows;

use std::collections::BTreeMap;

use order_testkit::server::order_body;
use order_tests::{Answer, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An operator's customer id (the token says admin).
pub const OPERATOR: &str = "ops-1";

/// Places `items` paid with `token` and waits until the order is COMPLETED; its id.
pub async fn completed(app: &TestApp, items: &[(&str, i64)], token: &str) -> String {
    let placed = app.post_order(&order_body(items, token)).await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{}", placed.body);
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let done = app.wait_terminal(&id).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    id
}

pub async fn cancel(app: &TestApp, id: &str) -> Answer {
    let body = json!({ "reason": "changed my mind" });
    app.post_as(
        &app.client,
        &format!("/orders/{id}/cancel"),
        Some(&body),
        &[],
    )
    .await
}

pub async fn ship(app: &TestApp, id: &str, carrier: &str, tracking: &str) -> Answer {
    let body = json!({ "carrier": carrier, "trackingId": tracking });
    let operator = app.client_as(OPERATOR, true);
    app.post_as(
        &operator,
        &format!("/orders/{id}/shipment"),
        Some(&body),
        &[],
    )
    .await
}

pub fn refund_body(items: &[(&str, i64)], restock: bool) -> Value {
    json!({
        "items": items.iter().map(|(p, q)| json!({ "productId": p, "quantity": q })).collect::<Vec<_>>(),
        "restock": restock,
        "reason": "returned",
    })
}

pub async fn refund(
    app: &TestApp,
    id: &str,
    key: &str,
    items: &[(&str, i64)],
    restock: bool,
) -> Answer {
    let operator = app.client_as(OPERATOR, true);
    let body = refund_body(items, restock);
    app.post_as(
        &operator,
        &format!("/orders/{id}/refunds"),
        Some(&body),
        &[("idempotency-key", key)],
    )
    .await
}

/// How many times each event type appears in the order's history.
pub async fn counts(app: &TestApp, id: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for t in app.event_types(id).await {
        *out.entry(t).or_default() += 1;
    }
    out
}

/// Waits until every refund in the view is settled (none PENDING) and at least `n` exist.
pub async fn settled(app: &TestApp, id: &str, n: usize) -> Value {
    app.wait_view(id, &format!("{n} settled refunds"), |v| {
        v["refunds"]
            .as_array()
            .is_some_and(|r| r.len() >= n && r.iter().all(|x| x["status"] != "PENDING"))
    })
    .await
}
