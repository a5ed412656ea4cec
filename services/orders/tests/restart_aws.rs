//! `serve --backend aws` restarted on the same data directory and resources resumes its stream
//! consumers where they stopped: the first run's OrderCompleted is not routed again (no second
//! confirmation), the second run's is routed once, and `aws-runner.db` holds each consumer's
//! positions. The real `orders` binary on the emulator (`AWS_ENDPOINT_URL`); without it the test
//! says it was skipped, except under `CI=true`, where a missing emulator is a failure.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use order_testkit::server::{Orders, bearer, token, wait_healthy, wait_terminal};
use order_testkit::support::endpoint;
use serde_json::{Value, json};

/// How many times the server's log says it routed `order`'s terminal event (OrderCompleted).
fn routed(log: &Path, order: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.contains("bus event routed") && l.contains(order) && l.contains("OrderCompleted")
        })
        .count()
}

/// Waits until the log shows `order`'s terminal event routed, or panics.
async fn wait_routed(log: &Path, order: &str) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while routed(log, order) == 0 {
        assert!(
            Instant::now() < deadline,
            "{order}'s terminal event never routed (see {})",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The saved positions: consumer → (shard → sequence number).
fn positions(data: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let db = rusqlite::Connection::open(data.join("aws-runner.db")).unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut stmt = db
        .prepare("SELECT consumer, shard_id, sequence_number FROM stream_positions")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    for row in rows {
        let (consumer, shard, seq): (String, String, String) = row.unwrap();
        out.entry(consumer).or_default().insert(shard, seq);
    }
    out
}

/// Sequence numbers are decimal strings of up to 40 digits: longer is later, then by text.
fn later(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// SIGTERM, then waits for a clean exit (the server stops its workers and closes the database).
fn stop(server: &mut Orders) {
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_mins(1);
    while server.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_aws_host_resumes_its_streams_and_routes_no_terminal_event_twice() {
    let Some(endpoint) =
        endpoint("a_restarted_aws_host_resumes_its_streams_and_routes_no_terminal_event_twice")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        json!([{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 100 }]).to_string(),
    )
    .unwrap();
    let prefix = format!("rs{}", std::process::id());
    let args = [
        "--backend",
        "aws",
        "--provision",
        "--resource-prefix",
        &prefix,
    ];
    let env = [("AWS_ENDPOINT_URL", endpoint.as_str())];
    let bin = env!("CARGO_BIN_EXE_orders");
    let body = json!({ "customerId": "c-9", "email": "restart@example.com", "items": [{ "productId": "MUG", "quantity": 1 }], "paymentToken": "tok_visa" });

    // One order through the first run.
    let log1 = dir.path().join("serve1.log");
    let mut first = Orders::serve(bin, &data, &seed, &log1, &args, &env);
    let client = bearer(reqwest::Client::builder(), &token(&data, "c-9", false))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let place = |base: String| {
        let (client, body) = (client.clone(), body.clone());
        async move {
            wait_healthy(&client, &base, Duration::from_mins(2)).await;
            let r = client
                .post(format!("{base}/orders"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 202);
            let v: Value = r.json().await.unwrap();
            let id = v["orderId"].as_str().unwrap().to_owned();
            let done = wait_terminal(&client, &base, &id, Duration::from_mins(2)).await;
            assert_eq!(done["status"], "COMPLETED", "{done}");
            id
        }
    };
    let order1 = place(first.base.clone()).await;
    wait_routed(&log1, &order1).await;
    stop(&mut first);
    let before = positions(&data);
    for consumer in ["inventory", "order-status", "router"] {
        let shards = before.get(consumer).unwrap_or_else(|| {
            panic!("no positions saved for {consumer}: {before:?}");
        });
        assert!(
            shards.values().all(|s| !s.is_empty()),
            "{consumer}: {shards:?}"
        );
    }

    // The second run, same data directory and resources: a second order.
    let log2 = dir.path().join("serve2.log");
    let mut second = Orders::serve(bin, &data, &seed, &log2, &args, &env);
    let order2 = place(second.base.clone()).await;
    wait_routed(&log2, &order2).await;
    stop(&mut second);

    assert_eq!(
        routed(&log2, &order1),
        0,
        "the restart re-routed the first order's confirmation"
    );
    assert_eq!(routed(&log1, &order1), 1);
    assert_eq!(routed(&log2, &order2), 1);
    let after = positions(&data);
    for (shard, seq) in &before["router"] {
        let now = &after["router"][shard];
        assert!(
            now == seq || later(now, seq),
            "router position went back on {shard}: {seq} → {now}"
        );
    }
    assert!(
        after["router"]
            .iter()
            .any(|(shard, seq)| before["router"].get(shard).is_none_or(|b| later(seq, b))),
        "the router's position did not move past the second order: {before:?} → {after:?}"
    );
}
