//! Admission control on the real `orders` binary: with `--max-backlog 4` and orders that stay
//! open for a while (a gateway that errs twice, its retries stretched with
//! `--retry-interval-scale`), a burst of twelve POSTs gets exactly four 202s and eight 503
//! `BACKLOG_FULL` with `Retry-After` and the error JSON; the log holds four OrderPlaced, the
//! backlog gauge never passes four, a shed request leaves no idempotency claim, and once the
//! four have ended new POSTs are accepted again.
//!
//! A restarted server starts from the orders its status view holds open.
//!
//! No timing is asserted: the orders stay open at least 12 s (4 × the payment step's 1 s + 2 s
//! retries), far longer than a burst of twelve requests takes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use order_testkit::server::{Orders, bearer, order_body, token, wait_healthy, wait_terminal};
use serde_json::Value;

const BOUND: usize = 4;
const BURST: usize = 12;

fn order_placed_events(data: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("orders.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM events WHERE event_type = 'OrderPlaced'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// A gauge or counter of `/metrics` (without labels).
async fn metric(client: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

async fn post(client: &reqwest::Client, base: &str, key: &str) -> (u16, Option<String>, Value) {
    let r = client
        .post(format!("{base}/orders"))
        .header("Idempotency-Key", key)
        .json(&order_body(&[("MUG", 1)], "tok_error"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, r.json().await.unwrap())
}

/// `orders serve --max-backlog 4` over `dir/data` (payments slowed by `scale`, no rate limit),
/// healthy; with a plain client and one signed in.
async fn start(dir: &Path, log: &str, scale: &str) -> (Orders, reqwest::Client, reqwest::Client) {
    let (data, seed_file) = (dir.join("data"), dir.join("seed.json"));
    std::fs::write(
        &seed_file,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 1000 }]"#,
    )
    .unwrap();
    let bound = BOUND.to_string();
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed_file,
        &dir.join(log),
        &[
            "--max-backlog",
            &bound,
            "--retry-interval-scale",
            scale,
            "--rate-limit",
            "off",
        ],
        &[],
    );
    let plain = reqwest::Client::new();
    wait_healthy(&plain, &server.base, Duration::from_mins(1)).await;
    let client = bearer(
        reqwest::Client::builder(),
        &token(&data, order_testkit::server::CUSTOMER, false),
    )
    .build()
    .unwrap();
    (server, plain, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_backlog_bound_posts_are_shed_with_503_and_nothing_appended_until_it_drains() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, plain, client) = start(dir.path(), "serve.log", "4").await;
    let base = server.base.clone();

    // The gauge, sampled all through the burst.
    let firing = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn({
        let (plain, base, firing) = (plain.clone(), base.clone(), firing.clone());
        async move {
            let mut samples = Vec::new();
            while firing.load(Ordering::Acquire) {
                samples.push(metric(&plain, &base, "order_pipeline_orders_open").await);
            }
            samples
        }
    });
    let burst: Vec<_> = (0..BURST)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move { post(&client, &base, &format!("burst-{i}")).await })
        })
        .collect();
    let mut answers = Vec::new();
    for (i, task) in burst.into_iter().enumerate() {
        answers.push((format!("burst-{i}"), task.await.unwrap()));
    }
    firing.store(false, Ordering::Release);
    let open_seen = sampler.await.unwrap();

    let accepted: Vec<_> = answers.iter().filter(|(_, a)| a.0 == 202).collect();
    let refused: Vec<_> = answers.iter().filter(|(_, a)| a.0 == 503).collect();
    assert_eq!(accepted.len(), BOUND, "{answers:?}");
    assert_eq!(refused.len(), BURST - BOUND, "{answers:?}");
    for (_, (_, retry_after, body)) in &refused {
        assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
        assert_eq!(body["error"]["code"], "BACKLOG_FULL", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("bound"),
            "{body}"
        );
    }
    assert_eq!(
        order_placed_events(&data),
        4,
        "one OrderPlaced per 202, none for a 503"
    );
    assert!(open_seen.iter().all(|&open| open <= 4), "{open_seen:?}");
    assert_eq!(metric(&plain, &base, "order_pipeline_orders_open").await, 4);
    assert_eq!(
        metric(&plain, &base, "order_pipeline_orders_shed_total").await,
        8
    );

    // Still full: the same key is shed again (not 409: no claim was left behind).
    let (first_shed_key, _) = refused[0];
    let again = post(&client, &base, first_shed_key).await;
    assert_eq!(again.0, 503, "{again:?}");

    // Drained: every admitted order ends, the backlog is empty, and the shed key places a new
    // order (202, not a replay).
    for (_, (_, _, body)) in &accepted {
        let id = body["orderId"].as_str().unwrap();
        wait_terminal(&client, &base, id, Duration::from_mins(3)).await;
    }
    assert_eq!(metric(&plain, &base, "order_pipeline_orders_open").await, 0);
    let after = client
        .post(format!("{base}/orders"))
        .header("Idempotency-Key", first_shed_key.as_str())
        .json(&order_body(&[("MUG", 1)], "tok_visa"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 202);
    assert!(after.headers().get("idempotent-replayed").is_none());
    assert_eq!(order_placed_events(&data), 5);
}

/// A restarted server counts the orders its predecessor left open: with four still paying (a
/// minute of retries at this scale), the first POST after the restart is shed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_counts_the_open_orders_it_finds() {
    let dir = tempfile::tempdir().unwrap();
    let (server, plain, client) = start(dir.path(), "first.log", "20").await;
    for i in 0..BOUND {
        let (status, _, body) = post(&client, &server.base, &format!("before-{i}")).await;
        assert_eq!(status, 202, "{body}");
    }
    drop(server); // killed while the four wait on the gateway's retries
    let (server, _, _) = start(dir.path(), "second.log", "20").await;
    assert_eq!(
        metric(&plain, &server.base, "order_pipeline_orders_open").await,
        4
    );
    let (status, _, body) = post(&client, &server.base, "after-restart").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "BACKLOG_FULL", "{body}");
}
