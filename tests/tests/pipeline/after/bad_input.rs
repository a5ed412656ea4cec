//! Refused requests after the order: every one gets its 4xx in the API's JSON shape, naming
//! the field at fault where there is one, and appends nothing.

use order_testkit::server::order_body;
use order_tests::{Answer, TestApp, default_seed, spawn_pipeline, spawn_pipeline_with};
use reqwest::StatusCode;
use serde_json::json;

use super::{OPERATOR, completed, refund_body};

const UNKNOWN: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/// Asserts `a` is `status` with `code`, naming `field` (or no field when `None`).
#[track_caller]
fn refused(a: &Answer, status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"]["code"], code, "{}", a.body);
    assert!(a.body["error"]["message"].is_string(), "{}", a.body);
    assert_eq!(a.body["error"]["field"].as_str(), field, "{}", a.body);
}

/// A failed order (declined) and a completed one, both settled.
async fn orders(app: &TestApp) -> (String, String) {
    let declined = app
        .post_order(&order_body(&[("MUG", 1)], "tok_decline"))
        .await;
    let failed = declined.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_terminal(&failed).await["status"], "FAILED");
    (failed, completed(app, &[("MUG", 2)], "tok_visa").await)
}

#[allow(clippy::unnecessary_wraps)] // the body argument of a POST is optional
fn json_bytes(text: &str) -> Option<(Vec<u8>, &'static str)> {
    Some((text.as_bytes().to_vec(), "application/json"))
}

#[tokio::test]
async fn a_bad_cancellation_is_refused_and_appends_nothing() {
    let app = spawn_pipeline(default_seed()).await;
    let (failed, id) = orders(&app).await;
    let before = app.event_count().await;
    let path = format!("/orders/{id}/cancel");
    let me = &app.client;
    let a = &app;
    let post = |path: String, body| async move { a.post_bytes_as(me, &path, body, &[]).await };

    let bad_id = post("/orders/not-an-id/cancel".into(), None).await;
    refused(
        &bad_id,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("orderId"),
    );
    let broken = post(path.clone(), json_bytes("{\"reason\":")).await;
    refused(&broken, StatusCode::BAD_REQUEST, "MALFORMED_JSON", None);
    let unknown_field = post(path.clone(), json_bytes(r#"{"why":"x"}"#)).await;
    refused(
        &unknown_field,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("why"),
    );
    let typed = post(path.clone(), json_bytes(r#"{"reason":42}"#)).await;
    refused(
        &typed,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("reason"),
    );
    let header_in_reason = post(path.clone(), json_bytes(r#"{"reason":"x\r\nBcc: a@b.c"}"#)).await;
    refused(
        &header_in_reason,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("reason"),
    );
    let long = json!({ "reason": "x".repeat(501) }).to_string();
    let too_long = post(path.clone(), json_bytes(&long)).await;
    refused(
        &too_long,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("reason"),
    );
    let text = post(path.clone(), Some((b"please".to_vec(), "text/plain"))).await;
    refused(
        &text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        None,
    );

    // Someone else's order answers exactly as one that does not exist.
    let stranger = app.client_as("someone-else", false);
    let theirs = app.post_bytes_as(&stranger, &path, None, &[]).await;
    refused(&theirs, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    let missing = post(format!("/orders/{UNKNOWN}/cancel"), None).await;
    refused(&missing, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    assert_eq!(theirs.body, missing.body);
    let anonymous = app
        .post_bytes_as(&reqwest::Client::new(), &path, None, &[])
        .await;
    refused(&anonymous, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", None);
    let closed = post(format!("/orders/{failed}/cancel"), None).await;
    refused(&closed, StatusCode::CONFLICT, "ORDER_CLOSED", None);

    assert_eq!(app.event_count().await, before, "nothing appended");
    app.shutdown().await;
}

#[tokio::test]
async fn a_bad_shipment_is_refused_and_appends_nothing() {
    let app = spawn_pipeline(default_seed()).await;
    let (failed, id) = orders(&app).await;
    let before = app.event_count().await;
    let path = format!("/orders/{id}/shipment");
    let operator = app.client_as(OPERATOR, true);
    let (a, op) = (&app, &operator);
    let post = |path: String, body| async move { a.post_bytes_as(op, &path, body, &[]).await };
    let good = json!({ "carrier": "UPS", "trackingId": "1Z999" }).to_string();

    // Only an operator ships, the order's own customer included; refused before the order is read.
    let owner = app
        .post_bytes_as(&app.client, &path, json_bytes(&good), &[])
        .await;
    refused(&owner, StatusCode::FORBIDDEN, "FORBIDDEN", None);
    let not_theirs = app
        .post_bytes_as(
            &app.client,
            &format!("/orders/{UNKNOWN}/shipment"),
            json_bytes(&good),
            &[],
        )
        .await;
    assert_eq!(
        not_theirs.body, owner.body,
        "403 says nothing about the order"
    );

    let bad_id = post("/orders/0/shipment".into(), json_bytes(&good)).await;
    refused(
        &bad_id,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("orderId"),
    );
    let broken = post(path.clone(), json_bytes("{\"carrier\"")).await;
    refused(&broken, StatusCode::BAD_REQUEST, "MALFORMED_JSON", None);
    let no_tracking = post(path.clone(), json_bytes(r#"{"carrier":"UPS"}"#)).await;
    refused(
        &no_tracking,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("trackingId"),
    );
    let long = json!({ "carrier": "C".repeat(65), "trackingId": "1Z" }).to_string();
    let long_carrier = post(path.clone(), json_bytes(&long)).await;
    refused(
        &long_carrier,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("carrier"),
    );
    let spaced = post(
        path.clone(),
        json_bytes(r#"{"carrier":"UPS","trackingId":"1Z 9"}"#),
    )
    .await;
    refused(
        &spaced,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("trackingId"),
    );
    let extra = post(
        path.clone(),
        json_bytes(r#"{"carrier":"UPS","trackingId":"1Z","eta":1}"#),
    )
    .await;
    refused(
        &extra,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("eta"),
    );
    let no_body = post(path.clone(), None).await;
    refused(
        &no_body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        None,
    );
    let missing = post(format!("/orders/{UNKNOWN}/shipment"), json_bytes(&good)).await;
    refused(&missing, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    let closed = post(format!("/orders/{failed}/shipment"), json_bytes(&good)).await;
    refused(&closed, StatusCode::CONFLICT, "ORDER_CLOSED", None);

    assert_eq!(app.event_count().await, before, "nothing appended");
    app.shutdown().await;
}

#[tokio::test]
async fn a_bad_refund_is_refused_and_appends_nothing() {
    let app = spawn_pipeline(default_seed()).await;
    let (failed, id) = orders(&app).await;
    let before = app.event_count().await;
    let path = format!("/orders/{id}/refunds");
    let operator = app.client_as(OPERATOR, true);
    let key = [("idempotency-key", "bad-input")];
    let (a, op) = (&app, &operator);
    let post = |path: String, body: String| async move {
        a.post_bytes_as(op, &path, json_bytes(&body), &key).await
    };
    let good =
        r#"{"items":[{"productId":"MUG","quantity":1}],"restock":true,"reason":"x"}"#.to_owned();
    let with = |from: &str, to: &str| {
        assert!(good.contains(from), "{from} is in the good body");
        good.replace(from, to)
    };

    let no_key = app
        .post_bytes_as(&operator, &path, json_bytes(&good), &[])
        .await;
    refused(
        &no_key,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("Idempotency-Key"),
    );
    let bad_key = app
        .post_bytes_as(
            &operator,
            &path,
            json_bytes(&good),
            &[("idempotency-key", "a key")],
        )
        .await;
    refused(
        &bad_key,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("Idempotency-Key"),
    );
    let owner = app
        .post_bytes_as(&app.client, &path, json_bytes(&good), &key)
        .await;
    refused(&owner, StatusCode::FORBIDDEN, "FORBIDDEN", None);

    let bad_id = post("/orders/not-a-ulid/refunds".into(), good.clone()).await;
    refused(
        &bad_id,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("orderId"),
    );
    let zero = post(path.clone(), with(r#""quantity":1"#, r#""quantity":0"#)).await;
    refused(
        &zero,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("items[0].quantity"),
    );
    let no_restock = post(path.clone(), with(r#""restock":true,"#, "")).await;
    refused(
        &no_restock,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("restock"),
    );
    let twice = with(
        r#"{"productId":"MUG","quantity":1}"#,
        r#"{"productId":"MUG","quantity":1},{"productId":"MUG","quantity":1}"#,
    );
    let dup = post(path.clone(), twice).await;
    refused(
        &dup,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("items[1].productId"),
    );
    let bad_product = post(path.clone(), with(r#""MUG""#, r#""M G""#)).await;
    refused(
        &bad_product,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("items[0].productId"),
    );
    let no_items = post(
        path.clone(),
        with(r#"[{"productId":"MUG","quantity":1}]"#, "[]"),
    )
    .await;
    refused(
        &no_items,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("items"),
    );
    let broken = post(path.clone(), "{\"items\":[".into()).await;
    refused(&broken, StatusCode::BAD_REQUEST, "MALFORMED_JSON", None);
    let off_order = post(path.clone(), with(r#""MUG""#, r#""TEE""#)).await;
    refused(
        &off_order,
        StatusCode::UNPROCESSABLE_ENTITY,
        "PRODUCT_NOT_IN_ORDER",
        Some("items[0].productId"),
    );
    let missing = post(format!("/orders/{UNKNOWN}/refunds"), good.clone()).await;
    refused(&missing, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    let closed = post(format!("/orders/{failed}/refunds"), good.clone()).await;
    refused(&closed, StatusCode::CONFLICT, "ORDER_CLOSED", None);

    assert_eq!(app.event_count().await, before, "nothing appended");
    app.shutdown().await;
}

/// An order still being processed (its payment retried with the intervals as written) can be
/// neither shipped nor refunded yet.
#[tokio::test]
async fn an_order_not_completed_can_be_neither_shipped_nor_refunded() {
    let app = spawn_pipeline_with(default_seed(), |c| c.retry_interval_scale = 1.0).await;
    let placed = app
        .post_order(&order_body(&[("MUG", 1)], "tok_error"))
        .await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let operator = app.client_as(OPERATOR, true);
    let ship = json!({ "carrier": "UPS", "trackingId": "1Z" });
    let early = app
        .post_as(
            &operator,
            &format!("/orders/{id}/shipment"),
            Some(&ship),
            &[],
        )
        .await;
    refused(&early, StatusCode::CONFLICT, "ORDER_NOT_COMPLETED", None);
    let refund = refund_body(&[("MUG", 1)], false);
    let early = app
        .post_as(
            &operator,
            &format!("/orders/{id}/refunds"),
            Some(&refund),
            &[("idempotency-key", "early")],
        )
        .await;
    refused(&early, StatusCode::CONFLICT, "ORDER_NOT_COMPLETED", None);
    let done = app.wait_terminal(&id).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let types = app.event_types(&id).await;
    assert!(
        !types
            .iter()
            .any(|t| t == "OrderShipped" || t == "RefundRequested"),
        "{types:?}"
    );
    app.shutdown().await;
}
