use order_testkit::server::order_body;
use order_tests::{default_seed, spawn_pipeline};
use reqwest::StatusCode;
use serde_json::json;

/// (what, body, content type, expected status, error code, field)
type Case = (
    &'static str,
    Vec<u8>,
    &'static str,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

/// Every kind of bad input gets a 4xx with a JSON error naming the problem, and nothing is
/// appended to the log.
#[tokio::test]
async fn bad_input_is_refused_with_a_json_error_and_nothing_appended() {
    let app = spawn_pipeline(default_seed()).await;
    let before = app.event_count().await;
    let good = order_body(&[("MUG", 1)], "tok_visa");
    let with = |key: &str, value: serde_json::Value| {
        let mut b = good.clone();
        b[key] = value;
        b.to_string().into_bytes()
    };
    let many: Vec<_> = (0..10_000)
        .map(|i| json!({ "productId": format!("P{i}"), "quantity": 1 }))
        .collect();
    let mut huge = b"{\"customerId\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1_100_000));
    huge.extend(b"\"}");
    // A repeated key: JSON values cannot hold one, so the text is edited.
    let twice = |from: &str, to: &str| {
        let text = good.to_string();
        assert!(text.contains(from), "{text}");
        text.replacen(from, to, 1).into_bytes()
    };
    let json_ct = "application/json";
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            b"{\"customerId\": ".to_vec(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            None,
        ),
        (
            "not an object",
            b"[1,2]".to_vec(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("body"),
        ),
        (
            "empty body",
            Vec::new(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            None,
        ),
        (
            "invalid UTF-8",
            b"{\"customerId\":\"\xff\xfe\"}".to_vec(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            None,
        ),
        (
            "wrong type",
            with("items", json!("MUG")),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items"),
        ),
        (
            "quantity as string",
            with("items", json!([{ "productId": "MUG", "quantity": "1" }])),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[0].quantity"),
        ),
        (
            "missing field",
            {
                let mut b = good.clone();
                b.as_object_mut().unwrap().remove("email");
                b.to_string().into_bytes()
            },
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("email"),
        ),
        (
            "unknown field",
            with("coupon", json!("FREE")),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("coupon"),
        ),
        (
            "empty items",
            with("items", json!([])),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items"),
        ),
        (
            "zero quantity",
            with("items", json!([{ "productId": "MUG", "quantity": 0 }])),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[0].quantity"),
        ),
        (
            "negative quantity",
            with("items", json!([{ "productId": "MUG", "quantity": -5 }])),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[0].quantity"),
        ),
        (
            "absurd quantity",
            with("items", json!([{ "productId": "MUG", "quantity": 1e300 }])),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[0].quantity"),
        ),
        (
            "over the per-line limit",
            with("items", json!([{ "productId": "MUG", "quantity": 1001 }])),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[0].quantity"),
        ),
        (
            "10,000 items",
            with("items", json!(many)),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items"),
        ),
        (
            "duplicate product lines",
            with(
                "items",
                json!([{ "productId": "MUG", "quantity": 1 }, { "productId": "MUG", "quantity": 2 }]),
            ),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[1].productId"),
        ),
        (
            "bad product id",
            with("items", json!([{ "productId": "MUG#1", "quantity": 1 }])),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[0].productId"),
        ),
        (
            "header injection in email",
            with("email", json!("a@example.com\r\nBcc: x@example.com")),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("email"),
        ),
        (
            "bad payment token",
            with("paymentToken", json!("4242424242424242")),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("paymentToken"),
        ),
        (
            "empty customer",
            with("customerId", json!("")),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("customerId"),
        ),
        (
            "repeated key, last one valid",
            twice(
                r#""customerId":"cust-42""#,
                r#""customerId":"","customerId":"cust-42""#,
            ),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("customerId"),
        ),
        (
            "repeated key with the same value",
            twice(
                r#""paymentToken":"tok_visa""#,
                r#""paymentToken":"tok_visa","paymentToken":"tok_visa""#,
            ),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("paymentToken"),
        ),
        (
            "repeated key inside a line",
            twice(r#""quantity":1"#, r#""quantity":1000,"quantity":1"#),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[0].quantity"),
        ),
        (
            "repeated key inside the second line",
            twice(
                r#"{"productId":"MUG","quantity":1}"#,
                r#"{"productId":"MUG","quantity":1},{"productId":"MUG","productId":"TEE","quantity":1}"#,
            ),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("items[1].productId"),
        ),
        (
            "repeated key spelled with an escape",
            twice(r#""email":"#, r#""email":"x@example.com","\u0065mail":"#),
            json_ct,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some("email"),
        ),
        (
            "over 1 MiB",
            huge,
            json_ct,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            None,
        ),
        (
            "wrong content type",
            good.to_string().into_bytes(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            None,
        ),
        (
            "unknown product",
            with("items", json!([{ "productId": "NOPE", "quantity": 1 }])),
            json_ct,
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNKNOWN_PRODUCT",
            Some("items[0].productId"),
        ),
    ];
    for (name, body, ct, status, code, field) in cases {
        let a = app.post_raw(body, ct, &[]).await;
        assert_eq!(a.status, status, "{name}: {}", a.body);
        assert_eq!(a.body["error"]["code"], code, "{name}: {}", a.body);
        assert!(
            a.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );
        if let Some(f) = field {
            assert_eq!(a.body["error"]["field"], f, "{name}: {}", a.body);
        }
    }
    let bad_key = app
        .post_raw(
            good.to_string().into_bytes(),
            json_ct,
            &[("idempotency-key", "")],
        )
        .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_key.body["error"]["field"], "Idempotency-Key");
    assert_eq!(app.event_count().await, before, "nothing was appended");

    for (path, status) in [
        ("/orders/not-an-id", StatusCode::BAD_REQUEST),
        ("/inventory/bad%23id", StatusCode::BAD_REQUEST),
        ("/inventory/NOPE", StatusCode::NOT_FOUND),
        ("/nowhere", StatusCode::NOT_FOUND),
    ] {
        let a = app.get(path).await;
        assert_eq!(a.status, status, "{path}: {}", a.body);
        assert!(a.body["error"]["code"].is_string(), "{path}: {}", a.body);
    }
    app.shutdown().await;
}
