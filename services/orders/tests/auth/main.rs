//! Sign-in and ownership over HTTP, against the real `orders` binary: every kind of bad token
//! is a 401 with nothing appended, another customer's order is a 404 exactly like an unknown
//! one, an operator sees any order, and tokens minted by an independent library (PyJWT) are
//! accepted through `--auth-jwks`.

mod ownership;
mod pyjwt;
mod tokens;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use order_testkit::server::{Orders, wait_healthy};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A running `orders serve` on a fresh data directory.
pub struct Rig {
    pub server: Orders,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// A response's status, `WWW-Authenticate` header and body (JSON when it parses).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub challenge: Option<String>,
    pub text: String,
    pub body: Value,
}

impl Rig {
    /// `orders serve` with `extra` arguments (none: its own issuer).
    pub async fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed.json");
        let products = json!([{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 100 }]);
        std::fs::write(&seed, products.to_string()).unwrap();
        let server = Orders::serve(
            env!("CARGO_BIN_EXE_orders"),
            &dir.path().join("data"),
            &seed,
            &dir.path().join("serve.log"),
            extra,
            &[],
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        wait_healthy(&client, &server.base, Duration::from_secs(30)).await;
        Self {
            server,
            client,
            dir,
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `orders token --data-dir <data> --customer <customer> <extra...>`'s token.
    pub fn cli_token(&self, customer: &str, extra: &[&str]) -> String {
        cli_token(&self.data(), customer, extra)
    }

    /// Orders placed: OrderPlaced events in the log, read from the database beside the
    /// running server (the workflow keeps appending to orders already placed).
    pub fn placed_orders(&self) -> i64 {
        let c = rusqlite::Connection::open(self.data().join("orders.db")).unwrap();
        let sql = "SELECT COUNT(*) FROM events WHERE event_type = 'OrderPlaced'";
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A request with `Authorization: <auth>` when given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.server.url(path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            challenge,
            text,
            body,
        }
    }

    /// POST /orders with `Authorization: Bearer <token>`.
    pub async fn post(&self, token: &str, body: &Value) -> Answer {
        self.send(
            reqwest::Method::POST,
            "/orders",
            Some(&format!("Bearer {token}")),
            Some(body),
        )
        .await
    }

    /// GET `path` with `Authorization: Bearer <token>`.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(
            reqwest::Method::GET,
            path,
            Some(&format!("Bearer {token}")),
            None,
        )
        .await
    }
}

/// `orders token` run as a user would.
pub fn cli_token(data: &Path, customer: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orders"))
        .arg("token")
        .arg("--data-dir")
        .arg(data)
        .args(["--customer", customer])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An order body for one mug, without customerId (the customer is the caller).
pub fn body(email: Option<&str>) -> Value {
    let mut b =
        json!({ "items": [{ "productId": "MUG", "quantity": 1 }], "paymentToken": "tok_visa" });
    if let Some(e) = email {
        b["email"] = json!(e);
    }
    b
}

/// Asserts a 401 with the JSON error body, a Bearer challenge (`invalid_token` when a token
/// was sent) and no trace of `secret` in the answer.
pub fn assert_unauthorized(a: &Answer, token_given: bool, secret: &str, what: &str) {
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {a:?}");
    assert_eq!(a.body["error"]["code"], "UNAUTHORIZED", "{what}: {a:?}");
    let expected = if token_given {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    };
    assert_eq!(a.challenge.as_deref(), Some(expected), "{what}");
    if !secret.is_empty() {
        for part in secret.split('.').filter(|p| p.len() > 8) {
            assert!(
                !a.text.contains(part),
                "{what}: the answer echoes the token"
            );
        }
    }
}
