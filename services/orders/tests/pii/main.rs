//! Issue 12's personal-data guarantees, proved on the real `orders` binary over its data
//! directory, its logs and its HTTP answers.
//!
//! # Layout
//! - `files`: no file of the data directory holds an email or a payment token in clear, before
//!   and after a forget and a clean shutdown (the outbox's recipient header excepted), and the
//!   OrderPlaced payload carries only the sealed field.
//! - `forget`: forgetting over HTTP and on the command line: the history shows the email as
//!   erased, the hash chains verify, a rebuild leaves the views byte-identical, a new order
//!   gets a new key.
//! - `logs`: a full flow at `RUST_LOG=trace` (text and JSON) logs no email, payment token or
//!   bearer token.
//! - `shed`: past `--max-in-flight`, 503 OVERLOADED with `Retry-After: 1`, `/health` still 200,
//!   nothing appended for a shed POST.

mod files;
mod forget;
mod logs;
mod shed;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use order_testkit::server::Ran;
use order_testkit::server::{free_port, wait_healthy};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The seed every server here starts from: one product with plenty of stock.
pub const STOCK: i64 = 1000;

/// A running `orders serve` whose stdout and stderr go to files of its own.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub client: reqwest::Client,
}

/// A response: status, headers, body text and JSON (Null when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Server {
    /// `orders serve` over `dir/data` (seeded with MUG), logs in `dir/<name>.stdout|stderr`,
    /// with `extra` arguments and `env`; waits for `/health`.
    pub async fn start(dir: &Path, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let data = dir.join("data");
        let seed = dir.join("seed.json");
        let products = json!([{ "productId": "MUG", "name": "Mug", "price": 900, "stock": STOCK }]);
        std::fs::write(&seed, products.to_string()).unwrap();
        let (stdout, stderr) = (
            dir.join(format!("{name}.stdout")),
            dir.join(format!("{name}.stderr")),
        );
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_orders"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(extra)
            .arg("--data-dir")
            .arg(&data)
            .arg("--seed")
            .arg(&seed)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let server = Self {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            data,
            stdout,
            stderr,
            client,
        };
        wait_healthy(&server.client, &server.base, Duration::from_secs(30)).await;
        server
    }

    /// A clean shutdown (SIGTERM, as a service manager stops it); asserts it exited 0.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let ran = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ran.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "orders serve exited {status}");
                return;
            }
            assert!(Instant::now() < deadline, "orders serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server printed, stdout then stderr.
    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap();
        let err = std::fs::read_to_string(&self.stderr).unwrap();
        format!("{out}{err}")
    }

    /// A request, with `Authorization: Bearer <token>` when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(Method::GET, path, Some(token), None).await
    }

    /// POSTs an order for one mug; asserts 202 and returns its id.
    pub async fn place(&self, token: &str, email: &str, payment: &str) -> String {
        let a = self
            .send(
                Method::POST,
                "/orders",
                Some(token),
                Some(&order(email, payment)),
            )
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{a:?}");
        a.body["orderId"].as_str().unwrap().to_owned()
    }

    /// Waits until the order is COMPLETED or FAILED; returns its view.
    pub async fn finished(&self, id: &str, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            let v = self.get(&format!("/orders/{id}"), token).await.body;
            if matches!(v["status"].as_str(), Some("COMPLETED" | "FAILED")) {
                return v;
            }
            assert!(Instant::now() < deadline, "order {id} stuck: {v}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// DELETE /customers/{customer} (as `admin`); returns how many keys it destroyed.
    pub async fn forget(&self, customer: &str, admin: &str) -> u64 {
        let a = self
            .send(
                Method::DELETE,
                &format!("/customers/{customer}"),
                Some(admin),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        a.body["keysDestroyed"].as_u64().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An order body for one mug (the customer is the token's).
pub fn order(email: &str, payment: &str) -> Value {
    json!({
        "email": email,
        "items": [{ "productId": "MUG", "quantity": 1 }],
        "paymentToken": payment,
    })
}

/// `orders token --data-dir data --customer customer extra...`.
pub fn cli_token(data: &Path, customer: &str, extra: &[&str]) -> String {
    let ran = orders(&["token", "--customer", customer], data, extra);
    assert_eq!(ran.code, 0, "{ran}");
    ran.stdout.trim().to_owned()
}

/// `orders <args> --data-dir data <extra>` at `RUST_LOG=warn`.
pub fn orders(args: &[&str], data: &Path, extra: &[&str]) -> Ran {
    Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into()
}

/// One SQLite query's rows, every column as SQLite holds it (the bytes of the values).
pub fn rows(data: &Path, sql: &str) -> Vec<Vec<rusqlite::types::Value>> {
    let c = rusqlite::Connection::open(data.join("orders.db")).unwrap();
    let mut stmt = c.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| r.get::<_, rusqlite::types::Value>(i))
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether `haystack` contains `needle`'s bytes.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
