//! After the order on the AWS backend: the real `orders` binary with `serve --backend aws` on
//! the emulator (`AWS_ENDPOINT_URL`), cancelled, shipped and refunded over HTTP exactly as on
//! the embedded host (tests/tests/pipeline/after), the emails counted as SNS delivered them.
//!
//! Two scenarios, each on its own provisioned slice: what the API records at once (shipment,
//! refusals, the race of twenty refunds, a cancellation the order workflow carries out), and
//! what the refund workflow settles (refunds issued, restocked, a completed order cancelled),
//! with the emails of every step.
//!
//! Without `AWS_ENDPOINT_URL` each test says it was skipped, except under `CI=true`, where a
//! missing emulator is a failure.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use order_domain::ports::Topic;
use order_testkit::notifier::SnsDeliveries;
use order_testkit::server::{CUSTOMER, Orders, bearer, order_body, token, wait_healthy};
use order_testkit::support::{Emulator, emulator};
use serde_json::{Value, json};

/// The seed: plenty of both products.
const STOCK: u64 = 100;

/// A running `orders serve --backend aws` and its customer's and operator's clients.
struct Api {
    server: Orders,
    customer: reqwest::Client,
    operator: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Starts the server on `env`'s resources, its Retry intervals at half what they are written,
/// so a payment retried by `tok_error` leaves time to cancel.
async fn start(env: &Emulator) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    let products = json!([
        { "productId": "MUG", "name": "Mug", "price": 900, "stock": STOCK },
        { "productId": "TEE", "name": "Tee", "price": 2500, "stock": STOCK }
    ]);
    std::fs::write(&seed, products.to_string()).unwrap();
    let data = dir.path().join("data");
    let mut vars: Vec<(&str, String)> = env.resources.env_pairs();
    vars.push(("AWS_ENDPOINT_URL", env.endpoint.clone()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed,
        &dir.path().join("serve.log"),
        &["--backend", "aws", "--retry-interval-scale", "0.5"],
        &vars,
    );
    let client = |customer: &str, admin: bool| {
        bearer(reqwest::Client::builder(), &token(&data, customer, admin))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    };
    let api = Api {
        customer: client(CUSTOMER, false),
        operator: client("ops-1", true),
        server,
        _dir: dir,
    };
    wait_healthy(&api.customer, &api.server.base, Duration::from_mins(2)).await;
    api
}

impl Api {
    async fn post(
        &self,
        operator: bool,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> (u16, Value) {
        let client = if operator {
            &self.operator
        } else {
            &self.customer
        };
        let mut req = client.post(self.server.url(path)).json(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .customer
            .get(self.server.url(path))
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// Polls `path` until `done` holds of its JSON (2 minutes at most).
    async fn wait(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_mins(2);
        loop {
            let v = self.get(path).await;
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{path} never got {what}: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn status(&self, id: &str, status: &str) -> Value {
        self.wait(&format!("/orders/{id}"), status, |v| v["status"] == status)
            .await
    }

    async fn placed(&self, items: &[(&str, i64)], payment: &str) -> String {
        let (s, v) = self
            .post(false, "/orders", &order_body(items, payment), None)
            .await;
        assert_eq!(s, 202, "{v}");
        v["orderId"].as_str().unwrap().to_owned()
    }

    async fn completed(&self, items: &[(&str, i64)]) -> String {
        let id = self.placed(items, "tok_visa").await;
        self.status(&id, "COMPLETED").await;
        id
    }

    async fn cancel(&self, id: &str) -> (u16, Value) {
        let body = json!({ "reason": "changed my mind" });
        self.post(false, &format!("/orders/{id}/cancel"), &body, None)
            .await
    }

    async fn refund(
        &self,
        id: &str,
        key: &str,
        items: &[(&str, i64)],
        restock: bool,
    ) -> (u16, Value) {
        let lines: Vec<Value> = items
            .iter()
            .map(|(p, q)| json!({ "productId": p, "quantity": q }))
            .collect();
        let body = json!({ "items": lines, "restock": restock, "reason": "returned" });
        self.post(true, &format!("/orders/{id}/refunds"), &body, Some(key))
            .await
    }

    /// Waits until `product`'s inventory view shows `available`.
    async fn stock(&self, product: &str, available: u64) {
        self.wait(
            &format!("/inventory/{product}"),
            &available.to_string(),
            |v| v["available"] == available,
        )
        .await;
    }

    async fn types(&self, id: &str) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for e in self.get(&format!("/orders/{id}/events")).await["events"]
            .as_array()
            .unwrap()
        {
            *out.entry(e["type"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        out
    }

    /// Waits until every refund of order `id` is settled and at least `n` exist.
    async fn settled(&self, id: &str, n: usize) -> Value {
        self.wait(&format!("/orders/{id}"), "its refunds settled", |v| {
            v["refunds"]
                .as_array()
                .is_some_and(|r| r.len() >= n && r.iter().all(|x| x["status"] != "PENDING"))
        })
        .await
    }
}

/// Shipment, every refusal, twenty refunds racing for one line, and a cancellation the order
/// workflow carries out before the charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario on one provisioned slice
async fn after_the_order_the_aws_backend_records_and_refuses_as_the_embedded_one() {
    let name = "after_the_order_the_aws_backend_records_and_refuses_as_the_embedded_one";
    let Some(env) = emulator(name).await else {
        return;
    };
    let api = start(&env).await;

    // Shipped: shown, repeated harmlessly, another is 409, a cancellation is 409.
    let shipped = api.completed(&[("MUG", 1)]).await;
    let body = json!({ "carrier": "UPS", "trackingId": "1Z999" });
    let path = format!("/orders/{shipped}/shipment");
    let (s, v) = api.post(true, &path, &body, None).await;
    assert_eq!((s, &v["status"]), (200, &json!("SHIPPED")), "{v}");
    assert_eq!(api.post(true, &path, &body, None).await.0, 200);
    let (s, v) = api
        .post(
            true,
            &path,
            &json!({ "carrier": "DHL", "trackingId": "X" }),
            None,
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (409, &json!("ALREADY_SHIPPED")),
        "{v}"
    );
    let (s, v) = api.post(false, &path, &body, None).await;
    assert_eq!((s, &v["error"]["code"]), (403, &json!("FORBIDDEN")), "{v}");
    let (s, v) = api.cancel(&shipped).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (409, &json!("ALREADY_SHIPPED")),
        "{v}"
    );
    let view = api.status(&shipped, "SHIPPED").await;
    assert_eq!(view["shipment"]["trackingId"], "1Z999", "{view}");
    assert_eq!(api.types(&shipped).await.get("OrderShipped"), Some(&1));

    // Refusals name the line and append nothing.
    let order = api.completed(&[("TEE", 3)]).await;
    let before = api.types(&order).await;
    let (s, v) = api.refund(&order, "over", &[("TEE", 4)], false).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (409, &json!("REFUND_EXCEEDS_LINE")),
        "{v}"
    );
    assert_eq!(v["error"]["field"], "items[0].quantity");
    let (s, v) = api.refund(&order, "off", &[("MUG", 1)], false).await;
    assert_eq!(
        (s, &v["error"]["field"]),
        (422, &json!("items[0].productId")),
        "{v}"
    );
    let (s, v) = api.refund(&order, "zero", &[("TEE", 0)], false).await;
    assert_eq!(
        (s, &v["error"]["field"]),
        (400, &json!("items[0].quantity")),
        "{v}"
    );
    let (s, v) = api
        .post(
            true,
            &format!("/orders/{order}/refunds"),
            &json!({ "items": [{ "productId": "TEE", "quantity": 1 }], "restock": false }),
            None,
        )
        .await;
    assert_eq!(
        (s, &v["error"]["field"]),
        (400, &json!("Idempotency-Key")),
        "{v}"
    );
    assert_eq!(api.types(&order).await, before, "nothing appended");

    // Twenty refunds of one unit at once for a line of three: three granted.
    let mut racing = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (client, url) = (
            api.operator.clone(),
            api.server.url(&format!("/orders/{order}/refunds")),
        );
        racing.spawn(async move {
            let body =
                json!({ "items": [{ "productId": "TEE", "quantity": 1 }], "restock": false });
            let r = client
                .post(url)
                .header("idempotency-key", format!("race-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        });
    }
    let mut outcomes: BTreeMap<(u16, String), usize> = BTreeMap::new();
    while let Some(done) = racing.join_next().await {
        let (s, v) = done.unwrap();
        let code = v["error"]["code"].as_str().unwrap_or_default().to_owned();
        *outcomes.entry((s, code)).or_default() += 1;
    }
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ((202, String::new()), 3),
            ((409, "REFUND_EXCEEDS_LINE".to_owned()), 17)
        ])
    );
    assert_eq!(api.types(&order).await.get("RefundRequested"), Some(&3));

    // Cancelled while its payment is retried: the workflow stops, nothing is charged.
    let early = api.placed(&[("MUG", 2)], "tok_error").await;
    let (s, v) = api.cancel(&early).await;
    assert_eq!((s, &v["status"]), (202, &json!("CANCELLING")), "{v}");
    let view = api.status(&early, "CANCELLED").await;
    assert!(view.get("paymentId").is_none(), "{view}");
    let seen = api.types(&early).await;
    assert!(!seen.contains_key("PaymentCaptured"), "{seen:?}");
    assert_eq!(seen.get("OrderCancelled"), Some(&1), "{seen:?}");
    api.stock("MUG", STOCK - 1).await;
}

/// Refunds settled by the refund workflow: a partial return restocked, then the rest; a
/// completed order cancelled, refunded and restocked; and one email per step through SNS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario on one provisioned slice
async fn after_the_order_the_aws_backend_refunds_restocks_and_mails() {
    let name = "after_the_order_the_aws_backend_refunds_restocks_and_mails";
    let Some(env) = emulator(name).await else {
        return;
    };
    let mail = SnsDeliveries::subscribe(&env).await;
    let api = start(&env).await;

    // A partial refund that restocks, then the rest without.
    let order = api.completed(&[("MUG", 3)]).await;
    api.stock("MUG", STOCK - 3).await;
    let (s, first) = api.refund(&order, "r-1", &[("MUG", 1)], true).await;
    assert_eq!((s, &first["amount"]), (202, &json!(900)), "{first}");
    let (s, again) = api.refund(&order, "r-1", &[("MUG", 1)], true).await;
    assert_eq!(
        (s, &again["refundId"]),
        (202, &first["refundId"]),
        "{again}"
    );
    let (s, v) = api.refund(&order, "r-1", &[("MUG", 2)], true).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (422, &json!("IDEMPOTENCY_KEY_REUSED")),
        "{v}"
    );
    let view = api.settled(&order, 1).await;
    assert_eq!(view["status"], "PARTIALLY_REFUNDED", "{view}");
    assert_eq!(view["amountRefunded"], 900);
    api.stock("MUG", STOCK - 2).await;
    let (s, v) = api.refund(&order, "r-2", &[("MUG", 2)], false).await;
    assert_eq!(s, 202, "{v}");
    let view = api.settled(&order, 2).await;
    assert_eq!(view["status"], "REFUNDED", "{view}");
    assert_eq!(view["amountRefunded"], 3 * 900);
    let seen = api.types(&order).await;
    assert_eq!(
        (seen.get("RefundRequested"), seen.get("RefundIssued")),
        (Some(&2), Some(&2)),
        "{seen:?}"
    );

    // A completed order cancelled: refunded in full and restocked.
    let cancelled = api.completed(&[("TEE", 2)]).await;
    api.stock("TEE", STOCK - 2).await;
    let (s, v) = api.cancel(&cancelled).await;
    assert_eq!(s, 202, "{v}");
    let view = api.status(&cancelled, "CANCELLED").await;
    assert_eq!(view["amountRefunded"], 2 * 2500, "{view}");
    api.stock("TEE", STOCK).await;

    // A shipped order, for its email.
    let shipped = api.completed(&[("MUG", 1)]).await;
    let body = json!({ "carrier": "UPS", "trackingId": "1Z999" });
    assert_eq!(
        api.post(true, &format!("/orders/{shipped}/shipment"), &body, None)
            .await
            .0,
        200
    );

    // One email per step: received for each, and the step's own.
    let expect = [
        (
            order.clone(),
            vec![("received", 1), ("confirmed", 1), ("refunded", 2)],
        ),
        (
            cancelled.clone(),
            vec![("received", 1), ("confirmed", 1), ("cancelled", 1)],
        ),
        (
            shipped.clone(),
            vec![("received", 1), ("confirmed", 1), ("shipped", 1)],
        ),
    ];
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let all = mail.all().await;
        let got: Vec<BTreeMap<&str, usize>> = expect
            .iter()
            .map(|(id, _)| {
                kinds(
                    all.iter()
                        .filter(|d| d.topic == Topic::OrderAlerts && d.text.contains(id.as_str()))
                        .map(|d| d.text.as_str()),
                )
            })
            .collect();
        let want: Vec<BTreeMap<&str, usize>> = expect
            .iter()
            .map(|(_, w)| w.iter().copied().collect())
            .collect();
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "emails {got:?}, expected {want:?}: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How many emails of each kind, from their subjects (the first line of a delivery).
fn kinds<'a>(texts: impl Iterator<Item = &'a str>) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for text in texts {
        let subject = text.lines().next().unwrap_or_default().to_lowercase();
        let kind = if subject.contains("cancel") {
            "cancelled"
        } else if subject.contains("refund") {
            "refunded"
        } else if subject.contains("ship") {
            "shipped"
        } else if subject.contains("confirm") {
            "confirmed"
        } else if subject.contains("receiv") || subject.contains("placed") {
            "received"
        } else {
            "other"
        };
        *out.entry(kind).or_default() += 1;
    }
    out
}
