//! The whole pipeline on the AWS backend: the real `orders` binary with `serve --backend aws
//! --provision` against the emulator the test command starts (`AWS_ENDPOINT_URL`). Same API,
//! same statuses, no oversell, idempotency, bad input — the contract of the embedded pipeline.
//!
//! Without `AWS_ENDPOINT_URL` the test says it was skipped, except under `CI=true`, where a
//! missing emulator is a failure.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use order_testkit::server::{Orders, bearer, get_json, token, wait_healthy, wait_terminal};
use order_testkit::support::endpoint;
use serde_json::{Value, json};

fn body(product: &str, qty: u32, token: &str) -> Value {
    json!({ "customerId": "c-9", "email": "emu@example.com", "items": [{ "productId": product, "quantity": qty }], "paymentToken": token })
}

/// Happy, declined, rejected, a flash sale on 4 in stock, idempotency and bad input, all through
/// the AWS backend on the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario on one provisioned stack (provisioning is slow)
async fn the_aws_backend_keeps_the_pipeline_contract_on_the_emulator() {
    let Some(endpoint) = endpoint("the_aws_backend_keeps_the_pipeline_contract_on_the_emulator")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        json!([
            { "productId": "MUG", "name": "Mug", "price": 900, "stock": 100 },
            { "productId": "FLASH", "name": "Flash sale", "price": 500, "stock": 4 }
        ])
        .to_string(),
    )
    .unwrap();
    let prefix = format!("emu{}", std::process::id());
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &dir.path().join("data"),
        &seed,
        &dir.path().join("serve.log"),
        &[
            "--backend",
            "aws",
            "--provision",
            "--resource-prefix",
            &prefix,
        ],
        &[("AWS_ENDPOINT_URL", &endpoint)],
    );
    let base = server.base.clone();
    let token = token(&dir.path().join("data"), "c-9", false);
    let client = bearer(reqwest::Client::builder(), &token)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    wait_healthy(&client, &base, Duration::from_mins(2)).await;
    let post = |b: Value, key: Option<&'static str>| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let mut req = client.post(format!("{base}/orders")).json(&b);
            if let Some(k) = key {
                req = req.header("idempotency-key", k);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };

    // Happy path and a decline.
    let (s, ok) = post(body("MUG", 2, "tok_visa"), None).await;
    assert_eq!(s, 202, "{ok}");
    let (_, declined) = post(body("MUG", 1, "tok_decline"), None).await;
    let done = wait_terminal(
        &client,
        &base,
        ok["orderId"].as_str().unwrap(),
        Duration::from_mins(2),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let events: Value = get_json(
        &client,
        &format!("{base}/orders/{}/events", ok["orderId"].as_str().unwrap()),
    )
    .await;
    let types: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentCaptured",
            "InventoryReserved",
            "OrderCompleted"
        ]
    );
    let failed = wait_terminal(
        &client,
        &base,
        declined["orderId"].as_str().unwrap(),
        Duration::from_mins(2),
    )
    .await;
    assert_eq!(failed["reason"], "PAYMENT_DECLINED");

    // Idempotency: same key and body → same order; other body → 422.
    let (_, first) = post(body("MUG", 1, "tok_visa"), Some("emu-key")).await;
    let (_, again) = post(body("MUG", 1, "tok_visa"), Some("emu-key")).await;
    assert_eq!(first["orderId"], again["orderId"]);
    let (s, other) = post(body("MUG", 3, "tok_visa"), Some("emu-key")).await;
    assert_eq!(s, 422, "{other}");

    // Bad input: refused with a JSON error naming the field.
    let (s, bad) = post(json!({ "customerId": "c", "email": "x@example.com", "items": [{ "productId": "MUG", "quantity": 0 }], "paymentToken": "tok_visa" }), None).await;
    assert_eq!(s, 400);
    assert_eq!(bad["error"]["field"], "items[0].quantity");
    let (s, unknown) = post(body("NOPE", 1, "tok_visa"), None).await;
    assert_eq!(s, 422, "{unknown}");

    // A flash sale: twelve concurrent orders for 4 in stock.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        tasks.push(tokio::spawn(post(body("FLASH", 1, "tok_visa"), None)));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, 202, "{v}");
        ids.insert(v["orderId"].as_str().unwrap().to_owned());
    }
    let mut completed = 0;
    for id in &ids {
        let v = wait_terminal(&client, &base, id, Duration::from_mins(2)).await;
        if v["status"] == "COMPLETED" {
            completed += 1;
        } else {
            let reason = v["reason"].as_str().unwrap();
            assert!(reason == "REJECTED" || reason == "OUT_OF_STOCK", "{v}");
        }
    }
    assert_eq!(completed, 4, "exactly the stock's worth completes");
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let inv: Value = get_json(&client, &format!("{base}/inventory/FLASH")).await;
        if inv["available"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inventory never reached 0: {inv}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
