//! A client as a real one behaves: it retries 5xx, 429, 409 and transport errors with the same
//! `Idempotency-Key` and body, waiting as `Retry-After` says (or backing off), until accepted.

use std::time::{Duration, Instant};

use serde_json::Value;

/// An order the server accepted, and what it took.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub order_id: String,
    /// Requests sent for it (1 = accepted at the first try).
    pub attempts: u32,
}

/// Posts `body` with `key` until a 2xx; panics on any other 4xx or past `within`.
pub async fn place(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    body: &Value,
    within: Duration,
) -> Accepted {
    let deadline = Instant::now() + within;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sent = client
            .post(format!("{base}/orders"))
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await;
        let wait = match sent {
            Ok(r) if r.status().is_success() => {
                let v: Value = r.json().await.expect("an accepted order's JSON");
                let order_id = v["orderId"].as_str().expect("orderId").to_owned();
                return Accepted { order_id, attempts };
            }
            Ok(r) if retryable(r.status().as_u16()) => {
                retry_after(&r).unwrap_or_else(|| backoff(attempts))
            }
            Ok(r) => {
                let status = r.status();
                panic!("{key}: {status} {}", r.text().await.unwrap_or_default());
            }
            Err(_) => backoff(attempts),
        };
        assert!(
            Instant::now() < deadline,
            "{key}: not accepted after {attempts} attempts"
        );
        tokio::time::sleep(wait).await;
    }
}

/// Polls `GET /orders/{id}` (through faults: errors are retried) until COMPLETED or FAILED.
pub async fn terminal(client: &reqwest::Client, base: &str, id: &str, deadline: Instant) -> Value {
    loop {
        if let Ok(r) = client.get(format!("{base}/orders/{id}")).send().await
            && r.status().is_success()
            && let Ok(v) = r.json::<Value>().await
            && matches!(v["status"].as_str(), Some("COMPLETED" | "FAILED"))
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} never became terminal"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn retryable(status: u16) -> bool {
    status == 409 || status == 429 || status >= 500
}

fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = r
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.clamp(1, 5)))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt.min(20)))
}
