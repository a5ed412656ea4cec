//! A pipeline reached over HTTP: the real `orders` binary started on a free loopback port (and
//! killed when the test drops it), signed-in clients ([`token`], [`bearer`]), waiting for
//! `/health` and for orders to finish, order bodies, and how a command-line run ended ([`Ran`]).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use order_api::auth::Issuer;
use order_domain::CustomerId;
use serde_json::{Value, json};

/// The customer of [`order_body`].
pub const CUSTOMER: &str = "cust-42";

/// A bearer token for `customer` (an operator if `admin`) from the issuer key in the data
/// directory `data`, created if absent: the key a local `orders serve --data-dir data`
/// verifies with (as `orders token` mints). Valid for an hour.
pub fn token(data: &Path, customer: &str, admin: bool) -> String {
    let issuer = Issuer::load_or_create(data).expect("the data directory's token issuer");
    let customer = CustomerId::parse(customer).expect("a valid customer id");
    issuer
        .mint(&customer, None, admin, Duration::from_hours(1))
        .expect("token minted")
}

/// `builder` sending `Authorization: Bearer <token>` on every request (a request's own
/// `bearer_auth` replaces it).
pub fn bearer(builder: reqwest::ClientBuilder, token: &str) -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("a token is header-safe");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    builder.default_headers(headers)
}

/// A free port on 127.0.0.1 (free when asked: the server binds it a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A running `orders serve`, killed (SIGKILL) when dropped.
pub struct Orders {
    pub child: Child,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
}

impl Orders {
    /// Starts `bin serve` (pass `env!("CARGO_BIN_EXE_orders")`) on a free port over `data`,
    /// seeded from `seed`, retrying a hundred times faster than written (unless `extra` gives
    /// its own `--retry-interval-scale`), its stderr in `log`; `extra` arguments and `env`
    /// variables are added (a backend, a sweeper interval...).
    pub fn serve(
        bin: &str,
        data: &Path,
        seed: &Path,
        log: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let log = std::fs::File::create(log).expect("server log");
        let scale: &[&str] = if extra.contains(&"--retry-interval-scale") {
            &[]
        } else {
            &["--retry-interval-scale", "0.01"]
        };
        let child = Command::new(bin)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(scale)
            .args(extra)
            .arg("--data-dir")
            .arg(data)
            .arg("--seed")
            .arg(seed)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("orders binary starts");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Orders {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `{base}/health` answers 2xx, or panics after `within`.
pub async fn wait_healthy(client: &reqwest::Client, base: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} never became healthy (see its log)");
}

/// Polls `GET {base}/orders/{id}` until the order is COMPLETED or FAILED and returns its view;
/// panics after `within`.
pub async fn wait_terminal(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let v = get_json(client, &format!("{base}/orders/{id}")).await;
        let s = v["status"].as_str().unwrap_or_default();
        if s == "COMPLETED" || s == "FAILED" {
            return v;
        }
        assert!(Instant::now() < deadline, "order {id} stuck: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET url`'s JSON body (panics on a transport error or a body that is not JSON).
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// An order body for `items` of `(productId, quantity)` paid with `token`.
pub fn order_body(items: &[(&str, i64)], token: &str) -> Value {
    json!({
        "customerId": CUSTOMER,
        "email": "jane.doe@example.com",
        "items": items.iter().map(|(p, q)| json!({ "productId": p, "quantity": q })).collect::<Vec<_>>(),
        "paymentToken": token,
    })
}

/// Posts an order, asserts it was accepted (202) and returns its id.
pub async fn post_order(
    client: &reqwest::Client,
    base: &str,
    items: &[(&str, i64)],
    token: &str,
) -> String {
    let r = client
        .post(format!("{base}/orders"))
        .json(&order_body(items, token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    r.json::<Value>().await.unwrap()["orderId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// How a command-line run ended: exit code and output, printed whole when an assertion fails.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Ran {
    fn from(out: std::process::Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Ran {
    /// Checks an `orders replay --order ID --as-of T` that ran fine, for a moment before the
    /// order completed: its state then is still on the way (PLACED, VALIDATED or PAID), and the
    /// events after `T` are left out.
    pub fn assert_shows_an_unfinished_order(&self) {
        assert_eq!(self.code, 0, "{self}");
        let state = self
            .stdout
            .lines()
            .find(|l| l.starts_with("state as of"))
            .unwrap_or_else(|| panic!("{self}"));
        assert!(
            ["PLACED", "VALIDATED", "PAID"]
                .iter()
                .any(|s| state.contains(&format!(": {s} "))),
            "{self}"
        );
        assert!(self.stdout.contains("later events not shown"), "{self}");
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n{}\n{}", self.code, self.stdout, self.stderr)
    }
}
