//! The paths after completion, end to end.

use order_testkit::server::order_body;
use order_tests::{default_seed, spawn_pipeline, spawn_pipeline_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{OPERATOR, cancel, completed, counts, refund, refund_body, settled, ship};

/// Cancelled while its payment is being retried (`tok_error` with the Retry intervals as
/// written): the workflow stops at its next step, nothing is charged, no stock is taken.
#[tokio::test]
async fn an_order_cancelled_before_it_completes_ends_cancelled_without_a_charge() {
    let app = spawn_pipeline_with(default_seed(), |c| c.retry_interval_scale = 1.0).await;
    let placed = app
        .post_order(&order_body(&[("MUG", 2)], "tok_error"))
        .await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let asked = cancel(&app, &id).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["orderId"], id.as_str());
    assert_eq!(asked.body["status"], "CANCELLING");
    // Asking again changes nothing.
    assert_eq!(cancel(&app, &id).await.status, StatusCode::ACCEPTED);

    let view = app.wait_status(&id, "CANCELLED").await;
    assert!(view.get("paymentId").is_none(), "never charged: {view}");
    let seen = counts(&app, &id).await;
    assert_eq!(seen.get("CancellationRequested"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("OrderCancelled"), Some(&1), "{seen:?}");
    assert!(!seen.contains_key("PaymentCaptured"), "{seen:?}");
    assert!(!seen.contains_key("InventoryReserved"), "{seen:?}");
    assert_eq!(app.available("MUG").await, 1000);
    // A cancelled order stays cancelled.
    let again = cancel(&app, &id).await;
    assert_eq!(
        (again.status, &again.body["status"]),
        (StatusCode::ACCEPTED, &json!("CANCELLED"))
    );
    app.shutdown().await;
}

/// Cancelled once completed and before shipment: everything is refunded through the refund
/// workflow and restocked, and the order ends CANCELLED. (Waits for the refund workflow.)
#[tokio::test]
async fn an_order_cancelled_after_it_completed_is_refunded_in_full_and_restocked() {
    let app = spawn_pipeline(default_seed()).await;
    let id = completed(&app, &[("MUG", 2), ("TEE", 1)], "tok_visa").await;
    assert_eq!(app.available("MUG").await, 998);
    let asked = cancel(&app, &id).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert!(
        asked.body["status"] == "CANCELLING" || asked.body["status"] == "CANCELLED",
        "{}",
        asked.body
    );
    let view = app.wait_status(&id, "CANCELLED").await;
    assert_eq!(view["amountRefunded"], 2 * 900 + 2500, "{view}");
    let refunds = view["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{view}");
    assert_eq!(refunds[0]["refundId"], format!("{id}-R1"));
    assert_eq!(refunds[0]["status"], "ISSUED");
    assert_eq!(refunds[0]["cancellation"], true);
    assert_eq!(refunds[0]["restock"], true);
    let seen = counts(&app, &id).await;
    for t in ["RefundRequested", "RefundIssued", "OrderCancelled"] {
        assert_eq!(seen.get(t), Some(&1), "{t}: {seen:?}");
    }
    assert_eq!(app.available("MUG").await, 1000, "restocked once");
    assert_eq!(app.available("TEE").await, 1000);
    // Nothing is left to give back.
    assert_eq!(
        cancel(&app, &id).await.body["status"],
        "CANCELLED",
        "asking again is harmless"
    );
    let more = refund(&app, &id, "after-cancel", &[("MUG", 1)], false).await;
    assert_eq!(more.status, StatusCode::CONFLICT, "{}", more.body);
    assert_eq!(more.body["error"]["code"], "ORDER_CLOSED");
    app.shutdown().await;
}

/// An operator ships a completed order: the view shows the shipment, the same shipment again
/// is harmless, another is 409, and the customer can no longer cancel.
#[tokio::test]
async fn a_shipped_order_shows_its_shipment_and_cannot_be_cancelled() {
    let app = spawn_pipeline(default_seed()).await;
    let id = completed(&app, &[("MUG", 1)], "tok_visa").await;
    let shipped = ship(&app, &id, "UPS", "1Z999AA10123456784").await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    assert_eq!(shipped.body["status"], "SHIPPED");
    assert_eq!(shipped.body["trackingId"], "1Z999AA10123456784");
    let again = ship(&app, &id, "UPS", "1Z999AA10123456784").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let other = ship(&app, &id, "DHL", "JD0001").await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    assert_eq!(other.body["error"]["code"], "ALREADY_SHIPPED");

    let refused = cancel(&app, &id).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "ALREADY_SHIPPED");

    let view = app.wait_status(&id, "SHIPPED").await;
    assert_eq!(view["shipment"]["carrier"], "UPS", "{view}");
    assert_eq!(view["shipment"]["trackingId"], "1Z999AA10123456784");
    assert!(view["shipment"]["shippedAt"].is_string(), "{view}");
    assert_eq!(view["amountRefunded"], 0);
    let seen = counts(&app, &id).await;
    assert_eq!(seen.get("OrderShipped"), Some(&1), "{seen:?}");
    assert!(!seen.contains_key("CancellationRequested"), "{seen:?}");
    // A shipped order can still be refunded (a return).
    let back = refund(&app, &id, "return-1", &[("MUG", 1)], true).await;
    assert_eq!(back.status, StatusCode::ACCEPTED, "{}", back.body);
    app.shutdown().await;
}

/// A partial refund that restocks, then the rest without restocking: the amounts come from
/// the order's prices, the same Idempotency-Key answers the same refund, the inventory
/// follows the return only, and the order ends REFUNDED. (Waits for the refund workflow.)
#[tokio::test]
async fn a_partial_refund_then_the_rest_ends_refunded_with_only_the_return_restocked() {
    let app = spawn_pipeline(default_seed()).await;
    let id = completed(&app, &[("MUG", 3), ("TEE", 1)], "tok_visa").await;
    assert_eq!(app.available("MUG").await, 997);

    let first = refund(&app, &id, "refund-1", &[("MUG", 1)], true).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["orderId"], id.as_str());
    assert_eq!(first.body["refundId"], format!("{id}-R1"));
    assert_eq!(first.body["amount"], 900);
    assert_eq!(first.body["status"], "PENDING");
    assert_eq!(first.body["lines"][0]["unitPrice"], 900);
    let replay = refund(&app, &id, "refund-1", &[("MUG", 1)], true).await;
    assert_eq!(replay.status, StatusCode::ACCEPTED, "{}", replay.body);
    assert_eq!(replay.body["refundId"], first.body["refundId"]);
    assert_eq!(replay.body["amount"], 900);
    let reused = refund(&app, &id, "refund-1", &[("MUG", 2)], true).await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reused.body
    );
    assert_eq!(reused.body["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(reused.body["error"]["field"], "Idempotency-Key");

    let view = settled(&app, &id, 1).await;
    assert_eq!(view["status"], "PARTIALLY_REFUNDED", "{view}");
    assert_eq!(view["amountRefunded"], 900);
    assert_eq!(view["refunds"][0]["status"], "ISSUED");
    assert_eq!(app.available("MUG").await, 998, "the returned unit is back");

    let rest = refund(&app, &id, "refund-2", &[("MUG", 2), ("TEE", 1)], false).await;
    assert_eq!(rest.status, StatusCode::ACCEPTED, "{}", rest.body);
    assert_eq!(rest.body["refundId"], format!("{id}-R2"));
    assert_eq!(rest.body["amount"], 2 * 900 + 2500);
    let view = settled(&app, &id, 2).await;
    assert_eq!(view["status"], "REFUNDED", "{view}");
    assert_eq!(view["amountRefunded"], 3 * 900 + 2500);
    assert_eq!(view["lines"].as_array().map(Vec::len), Some(2), "{view}");
    assert_eq!(app.available("MUG").await, 998, "refunded, not returned");
    assert_eq!(app.available("TEE").await, 999);
    let seen = counts(&app, &id).await;
    assert_eq!(seen.get("RefundRequested"), Some(&2), "{seen:?}");
    assert_eq!(seen.get("RefundIssued"), Some(&2), "{seen:?}");

    // Nothing is left: another refund exceeds the line, a cancellation has nothing to give.
    let over = refund(&app, &id, "refund-3", &[("MUG", 1)], false).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.body);
    assert_eq!(over.body["error"]["code"], "REFUND_EXCEEDS_LINE");
    let nothing = cancel(&app, &id).await;
    assert_eq!(nothing.status, StatusCode::CONFLICT, "{}", nothing.body);
    assert_eq!(nothing.body["error"]["code"], "ALREADY_REFUNDED");
    app.shutdown().await;
}

/// More than the line holds is 409 naming the line, with what was asked and what is left;
/// a product the order does not hold is 422 naming it; nothing is appended.
#[tokio::test]
async fn a_refund_over_the_line_or_off_the_order_is_refused() {
    let app = spawn_pipeline(default_seed()).await;
    let id = completed(&app, &[("TEE", 1), ("MUG", 2)], "tok_visa").await;
    let before = app.event_count().await;
    let over = refund(&app, &id, "too-many", &[("TEE", 1), ("MUG", 3)], true).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.body);
    assert_eq!(over.body["error"]["code"], "REFUND_EXCEEDS_LINE");
    assert_eq!(over.body["error"]["field"], "items[1].quantity");
    let message = over.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("3 requested, 2 refundable"), "{message}");
    let off = refund(&app, &id, "off-order", &[("SCARCE", 1)], true).await;
    assert_eq!(off.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", off.body);
    assert_eq!(off.body["error"]["field"], "items[0].productId");
    assert_eq!(app.event_count().await, before, "nothing appended");
    app.shutdown().await;
}

/// Twenty refunds of one unit each, sent at once for a line of three: exactly three are
/// granted (each with its own refund id), the other seventeen are 409 REFUND_EXCEEDS_LINE, and
/// the refunds recorded never add up to more than the line.
#[tokio::test]
async fn twenty_concurrent_refunds_of_one_line_never_exceed_it() {
    let app = spawn_pipeline(default_seed()).await;
    let id = completed(&app, &[("TEE", 3)], "tok_visa").await;
    let operator = app.client_as(OPERATOR, true);
    let mut racing = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (client, url) = (operator.clone(), app.url(&format!("/orders/{id}/refunds")));
        racing.spawn(async move {
            let r = client
                .post(url)
                .header("idempotency-key", format!("race-{i}"))
                .json(&refund_body(&[("TEE", 1)], false))
                .send()
                .await
                .expect("sent");
            (r.status(), r.json::<Value>().await.expect("JSON"))
        });
    }
    let mut granted = Vec::new();
    let mut refused = 0;
    while let Some(done) = racing.join_next().await {
        let (status, body) = done.expect("a racer");
        match status {
            StatusCode::ACCEPTED => granted.push(body["refundId"].as_str().unwrap().to_owned()),
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "REFUND_EXCEEDS_LINE", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    granted.sort();
    assert_eq!(
        granted,
        (1..=3).map(|n| format!("{id}-R{n}")).collect::<Vec<_>>()
    );
    assert_eq!(refused, 17);
    let seen = counts(&app, &id).await;
    assert_eq!(seen.get("RefundRequested"), Some(&3), "{seen:?}");
    let view = app
        .wait_view(&id, "three refunds", |v| {
            v["refunds"].as_array().is_some_and(|r| r.len() == 3)
        })
        .await;
    let asked: u64 = view["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_u64().unwrap())
        .sum();
    assert_eq!(asked, 3 * 2500, "{view}");
    app.shutdown().await;
}

/// While a refund is being made (the gateway fails its first two attempts, with the Retry
/// intervals as written), a cancellation waits its turn: 409 REFUND_IN_PROGRESS. Once it is
/// issued, the cancellation refunds the rest. (Waits for the refund workflow.)
#[tokio::test]
async fn a_cancellation_is_refused_while_a_refund_is_in_progress() {
    let app = spawn_pipeline_with(default_seed(), |c| c.retry_interval_scale = 1.0).await;
    let id = completed(&app, &[("MUG", 2)], "tok_refund_error").await;
    let first = refund(&app, &id, "slow", &[("MUG", 1)], true).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let refused = cancel(&app, &id).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "REFUND_IN_PROGRESS");
    settled(&app, &id, 1).await;
    let asked = cancel(&app, &id).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let view = app.wait_status(&id, "CANCELLED").await;
    assert_eq!(view["amountRefunded"], 2 * 900, "{view}");
    assert_eq!(app.available("MUG").await, 1000);
    app.shutdown().await;
}
