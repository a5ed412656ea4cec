//! A host the scenarios run on: the real `orders serve`, either the embedded default or the
//! AWS backend on the emulator, with the data directory's own token issuer (both hosts verify
//! tokens with it), and every response body it answered kept for the leak check.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use order_api::auth::Issuer;
use order_domain::{CustomerId, Email};
use order_testkit::server::{Orders, wait_healthy};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A running `orders serve` and what the scenarios need to talk to it.
pub struct Host {
    server: Orders,
    client: reqwest::Client,
    issuer: Issuer,
    /// Every response body, with the request that got it, for [`Host::assert_nothing_leaked`].
    bodies: Mutex<Vec<(String, String)>>,
    _dir: tempfile::TempDir,
}

/// A response: status, headers and body (JSON when it parses, else `Null`).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `orderId` of a 202.
    pub fn order_id(&self) -> String {
        assert_eq!(self.status, StatusCode::ACCEPTED, "{self:?}");
        self.body["orderId"].as_str().unwrap().to_owned()
    }
}

/// A unique resource prefix for one AWS host (tables, queues, topics of its own).
fn prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "cu{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Host {
    /// `orders serve` with the embedded default and `extra` arguments.
    pub async fn embedded(extra: &[&str]) -> Self {
        Self::start(extra, &[], true).await
    }

    /// `orders serve --backend aws --provision` on the emulator with `extra` arguments; `None`
    /// when there is no emulator and the test may skip (never under `CI=true`).
    pub async fn aws(test: &str, extra: &[&str]) -> Option<Self> {
        let endpoint = order_testkit::support::endpoint(test)?;
        let prefix = prefix();
        let mut args = vec![
            "--backend",
            "aws",
            "--provision",
            "--resource-prefix",
            &prefix,
        ];
        args.extend_from_slice(extra);
        Some(Self::start(&args, &[("AWS_ENDPOINT_URL", &endpoint)], false).await)
    }

    /// `embedded`: whether the server keeps its log in the data directory's SQLite database
    /// (checked, so an emulator test cannot pass on the embedded default by mistake).
    async fn start(args: &[&str], env: &[(&str, &str)], embedded: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed.json");
        let products =
            json!([{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10_000 }]);
        std::fs::write(&seed, products.to_string()).unwrap();
        let data: PathBuf = dir.path().join("data");
        let log = dir.path().join("serve.log");
        let server = Orders::serve(env!("CARGO_BIN_EXE_orders"), &data, &seed, &log, args, env);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        wait_healthy(&client, &server.base, Duration::from_mins(2)).await;
        assert_eq!(data.join("orders.db").exists(), embedded, "{args:?}");
        let issuer = Issuer::load_or_create(&data).unwrap();
        Self {
            server,
            client,
            issuer,
            bodies: Mutex::new(Vec::new()),
            _dir: dir,
        }
    }

    /// The issuer the server verifies with (what `orders token` signs with).
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// A token for `customer`, with an `email` claim when given, an operator if `admin`.
    pub fn token(&self, customer: &str, email: Option<&str>, admin: bool) -> String {
        let customer = CustomerId::parse(customer).unwrap();
        let email = email.map(|e| Email::parse(e).unwrap());
        self.issuer
            .mint(&customer, email.as_ref(), admin, Duration::from_hours(1))
            .unwrap()
    }

    /// A request with `Authorization: <auth>` and `headers` when given; the body is kept.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let what = format!("{method} {path}");
        let mut req = self.client.request(method, self.server.url(path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        self.bodies.lock().unwrap().push((what, text.clone()));
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            body,
        }
    }

    /// POST /orders as `token`'s customer, with an `Idempotency-Key` when given.
    pub async fn post(&self, token: &str, body: &Value, key: Option<&str>) -> Answer {
        let auth = format!("Bearer {token}");
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        self.send(Method::POST, "/orders", Some(&auth), &headers, Some(body))
            .await
    }

    /// GET `path` as `token`'s customer.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        let auth = format!("Bearer {token}");
        self.send(Method::GET, path, Some(&auth), &[], None).await
    }

    /// DELETE `path` as `token`'s customer.
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        let auth = format!("Bearer {token}");
        self.send(Method::DELETE, path, Some(&auth), &[], None)
            .await
    }

    /// Polls the order (as `token`) until it is COMPLETED or FAILED; its view.
    pub async fn wait_done(&self, id: &str, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_mins(2);
        loop {
            let a = self.get(&format!("/orders/{id}"), token).await;
            assert_eq!(a.status, StatusCode::OK, "{a:?}");
            if matches!(a.body["status"].as_str(), Some("COMPLETED" | "FAILED")) {
                return a.body;
            }
            assert!(Instant::now() < deadline, "order {id} stuck: {a:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `GET /orders?limit=100` (as `token`, `query` appended) until it lists `n` orders
    /// (the listing trails the log by as much as the projection does); those orders.
    pub async fn wait_listed(&self, token: &str, query: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_mins(2);
        loop {
            let a = self.get(&format!("/orders?limit=100{query}"), token).await;
            assert_eq!(a.status, StatusCode::OK, "{a:?}");
            let orders = a.body["orders"].as_array().unwrap().clone();
            if orders.len() >= n {
                return orders;
            }
            assert!(
                Instant::now() < deadline,
                "listed {} of {n}: {a:?}",
                orders.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// No body this host answered holds a payment token or an unmasked email (see [`leak`]).
    /// The scenarios call it last.
    pub fn assert_nothing_leaked(&self) {
        let bodies = self.bodies.lock().unwrap();
        assert!(!bodies.is_empty(), "no bodies were collected");
        for (what, text) in bodies.iter() {
            assert_eq!(leak(text), None, "{what} answered {text}");
        }
    }
}

/// What `text` shows that no answer may: a payment token (`tok_...`), or an email that is not
/// masked (`j***@example.com` is; every `@` must follow `***`), the caller's own included.
pub fn leak(text: &str) -> Option<&'static str> {
    if text.contains("tok_") {
        return Some("a payment token");
    }
    let unmasked = text
        .match_indices('@')
        .any(|(at, _)| !text[..at].ends_with("***"));
    unmasked.then_some("an unmasked email")
}

#[test]
fn the_leak_check_finds_tokens_and_unmasked_emails_only() {
    for shown in [
        r#"{"paymentToken":"tok_visa"}"#,
        r#"{"email":"jane@example.com"}"#,
        r#"{"email":"j***@example.com","message":"sent to jane.doe@example.com"}"#,
        "a@b",
    ] {
        assert!(leak(shown).is_some(), "{shown}");
    }
    for fine in [
        r#"{"email":"j***@example.com"}"#,
        r#"{"email":"[erased]","status":"COMPLETED"}"#,
        r#"{"error":{"code":"UNAUTHORIZED"}}"#,
        "",
    ] {
        assert_eq!(leak(fine), None, "{fine}");
    }
}

/// An order body for one mug paid with `tok_visa`, with `email` when given (no customerId:
/// the customer is the caller).
pub fn body(email: Option<&str>) -> Value {
    let mut b =
        json!({ "items": [{ "productId": "MUG", "quantity": 1 }], "paymentToken": "tok_visa" });
    if let Some(e) = email {
        b["email"] = json!(e);
    }
    b
}
