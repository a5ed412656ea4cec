//! Test support for the whole-pipeline tests: [`spawn_pipeline`] starts the embedded pipeline
//! and its HTTP API in-process on `127.0.0.1:0` over a fresh temporary data directory. Order
//! bodies and seed products come from `order_testkit`, shared with the other test binaries.
//! [`emulator_ceiling`] is `pipeline-bench`'s measure of the AWS emulator itself, and
//! [`append_rate`] its measure of the event store's appends against raw SQLite.

pub mod append_rate;

pub mod emulator_ceiling;

pub mod load_client;

pub mod overload;

pub mod progress;

pub mod usage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use order_app::seed::SeedProduct;
use order_runtime::Config;
use order_testkit::events::seed_product;
use order_testkit::server::{CUSTOMER, bearer, token};
use reqwest::StatusCode;
use serde_json::Value;

/// A running pipeline for one test. Dropped at the end of the test with its data. Its client
/// is signed in as the customer of `order_body` (`order_testkit::server::CUSTOMER`).
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub server: Option<orders::Server>,
}

/// The default products: plenty of stock, and `SCARCE` with 3.
pub fn default_seed() -> Vec<SeedProduct> {
    vec![
        seed_product("MUG", 900, 1000),
        seed_product("TEE", 2500, 1000),
        seed_product("SCARCE", 4900, 3),
    ]
}

/// Starts the pipeline with `seed` (retries a hundred times faster than written).
pub async fn spawn_pipeline(seed: Vec<SeedProduct>) -> TestApp {
    spawn_pipeline_with(seed, |_| {}).await
}

/// Starts the pipeline with `seed` and the test configuration, which `configure` may change
/// first (a test that needs a workflow step to take a while scales its retries back up).
pub async fn spawn_pipeline_with(
    seed: Vec<SeedProduct>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(dir.path().join("data"), seed);
    config.retry_interval_scale = 0.01;
    config.redrive_after = Duration::from_millis(500);
    configure(&mut config);
    let server = orders::serve(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("server starts");
    let token = token(&dir.path().join("data"), CUSTOMER, false);
    TestApp {
        addr: server.addr,
        client: bearer(reqwest::Client::builder(), &token)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        dir,
        server: Some(server),
    }
}

/// A response's status, headers and JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// POSTs raw bytes to /orders with a content type and extra headers.
    pub async fn post_raw(
        &self,
        body: Vec<u8>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .client
            .post(self.url("/orders"))
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send().await.expect("request sent")).await
    }

    pub async fn post_order(&self, body: &Value) -> Answer {
        self.post_raw(body.to_string().into_bytes(), "application/json", &[])
            .await
    }

    pub async fn post_order_with_key(&self, body: &Value, key: &str) -> Answer {
        self.post_raw(
            body.to_string().into_bytes(),
            "application/json",
            &[("idempotency-key", key)],
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// Polls GET /orders/{id} until it is COMPLETED or FAILED (30 s at most).
    pub async fn wait_terminal(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = self.get(&format!("/orders/{id}")).await;
            let status = a.body["status"].as_str().unwrap_or_default().to_owned();
            if status == "COMPLETED" || status == "FAILED" {
                return a.body;
            }
            assert!(
                Instant::now() < deadline,
                "order {id} stuck in {status}: {}",
                a.body
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A client signed in as `customer` (an operator if `admin`).
    pub fn client_as(&self, customer: &str, admin: bool) -> reqwest::Client {
        let token = token(&self.data_dir(), customer, admin);
        bearer(reqwest::Client::builder(), &token)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    /// POSTs `body` as JSON (no body when `None`) to `path` with `client` and extra headers.
    pub async fn post_as(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let body = body.map(|b| (b.to_string().into_bytes(), "application/json"));
        self.post_bytes_as(client, path, body, headers).await
    }

    /// POSTs raw bytes with their content type (nothing when `None`) to `path` with `client`
    /// and extra headers.
    pub async fn post_bytes_as(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = client.post(self.url(path));
        if let Some((bytes, content_type)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send().await.expect("request sent")).await
    }

    /// Polls GET /orders/{id} until `done` holds of its view (30 s at most, then panics
    /// naming `what`).
    pub async fn wait_view(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = self.get(&format!("/orders/{id}")).await;
            if a.status == StatusCode::OK && done(&a.body) {
                return a.body;
            }
            assert!(
                Instant::now() < deadline,
                "order {id} never got {what}: {}",
                a.body
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls GET /orders/{id} until its status is `status`.
    pub async fn wait_status(&self, id: &str, status: &str) -> Value {
        self.wait_view(id, status, |v| v["status"] == status).await
    }

    /// Every email of every topic's outbox that mentions `text` (an order id), sorted.
    pub fn emails_about(&self, text: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.data_dir().join("outbox")) else {
            return Vec::new();
        };
        let mut out: Vec<String> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "mbox"))
            .flat_map(|p| order_embedded::outbox::read_mbox(&p))
            .filter(|m| m.contains(text))
            .collect();
        out.sort();
        out
    }

    /// The event types of an order, in version order.
    pub async fn event_types(&self, id: &str) -> Vec<String> {
        let a = self.get(&format!("/orders/{id}/events")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let events = a.body["events"].as_array().cloned().unwrap_or_default();
        for (i, e) in events.iter().enumerate() {
            assert_eq!(
                e["version"].as_u64(),
                Some(i as u64 + 1),
                "versions run 1..n"
            );
        }
        events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn available(&self, product: &str) -> u64 {
        // The inventory projection lags the log by milliseconds: wait for it to settle.
        let mut last = None;
        for _ in 0..50 {
            let a = self.get(&format!("/inventory/{product}")).await;
            let now = a.body["available"].as_u64();
            if now.is_some() && now == last {
                return now.unwrap_or_default();
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        last.expect("product exists")
    }

    /// The number of events in the log.
    pub async fn event_count(&self) -> u64 {
        let guard = self.server.as_ref().expect("running").pipeline.lock().await;
        guard
            .as_ref()
            .expect("pipeline")
            .store
            .count()
            .await
            .expect("count")
    }

    /// The emails of a topic's outbox (`outbox/<topic>.mbox`), as text, sorted.
    pub fn emails(&self, topic: &str) -> Vec<String> {
        let path = self.data_dir().join("outbox").join(format!("{topic}.mbox"));
        let mut out = order_embedded::outbox::read_mbox(&path);
        out.sort();
        out
    }

    /// Emails of a topic once at least `n` exist (they are sent asynchronously).
    pub async fn wait_emails(&self, topic: &str, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let e = self.emails(topic);
            if e.len() >= n {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.emails(topic)
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}
