//! The real `orders` binary, killed with SIGKILL under load and restarted on the same data
//! directory: every order that got a 202 reaches COMPLETED or FAILED with exactly one
//! OrderPlaced, and the stock taken equals the completed quantities.

#![allow(clippy::too_many_lines)] // one scenario, read top to bottom

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use order_testkit::server::{Orders, bearer, get_json, token, wait_healthy, wait_terminal};
use serde_json::{Value, json};

/// `orders serve` over `data`, the sweeper re-driving after a second, its log in `log`.
async fn start(client: &reqwest::Client, data: &Path, seed: &Path, log: &str) -> Orders {
    let log = data.parent().unwrap().join(log);
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        data,
        seed,
        &log,
        &["--redrive-after-secs", "1"],
        &[],
    );
    wait_healthy(client, &server.base, Duration::from_secs(30)).await;
    server
}

const PRODUCTS: [(&str, u64); 3] = [("PLENTY", 100_000), ("SOME", 500), ("SCARCE", 25)];

/// SIGKILL mid-load, restart, and check that nothing accepted was lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_accepted_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    let seed_json: Vec<Value> = PRODUCTS
        .iter()
        .map(|(id, stock)| json!({ "productId": id, "name": id, "price": 1000, "stock": stock }))
        .collect();
    std::fs::write(&seed, serde_json::to_vec(&seed_json).unwrap()).unwrap();
    // Reads as an operator (any customer's orders); each load client posts as its own customer.
    let client = bearer(reqwest::Client::builder(), &token(&data, "ops", true))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let mut server = start(&client, &data, &seed, "first.log").await;
    let base = server.base.clone();

    // Load: clients post until the server dies under them.
    let accepted: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..8 {
        let (client, base, accepted) = (client.clone(), base.clone(), accepted.clone());
        let signed_in = token(&data, &format!("c{c}"), false);
        clients.push(tokio::spawn(async move {
            for i in 0..100_000_u32 {
                let product = PRODUCTS[(i as usize + c) % 3].0;
                let token = if i % 7 == 3 { "tok_decline" } else { "tok_visa" };
                let body = json!({
                    "customerId": format!("c{c}"), "email": "load@example.com",
                    "items": [{ "productId": product, "quantity": 1 + (i % 2) }], "paymentToken": token,
                });
                let Ok(r) = client.post(format!("{base}/orders")).bearer_auth(&signed_in).json(&body).send().await else { return };
                if r.status().as_u16() != 202 {
                    return;
                }
                let Ok(v) = r.json::<Value>().await else { return };
                accepted.lock().unwrap().insert(v["orderId"].as_str().unwrap().to_owned(), body);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(1.5)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 20,
        "the load placed only {} orders",
        accepted.len()
    );
    eprintln!("{} orders accepted before SIGKILL", accepted.len());

    // Restart on the same data and wait for every accepted order to finish.
    let mut server = start(&client, &data, &seed, "second.log").await;
    let base = server.base.clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    for id in accepted.keys() {
        wait_terminal(
            &client,
            &base,
            id,
            deadline.saturating_duration_since(Instant::now()),
        )
        .await;
        let h: Value = get_json(&client, &format!("{base}/orders/{id}/events")).await;
        let types: Vec<&str> = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types.iter().filter(|t| **t == "OrderPlaced").count(),
            1,
            "{id}: {types:?}"
        );
        let mut unique = types.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            types.len(),
            "{id}: an event was duplicated: {types:?}"
        );
    }

    // Orders appended whose 202 never arrived are processed too (the sweeper re-drives them):
    // wait until no order in the log is left unfinished, then check stock against the log.
    let db = data.join("orders.db");
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let open: i64 = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM order_status WHERE status NOT IN ('COMPLETED', 'FAILED')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let placed: i64 = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM events WHERE event_type = 'OrderPlaced') - (SELECT COUNT(*) FROM order_status)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let lag: i64 = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT (SELECT MAX(position) FROM events) - COALESCE((SELECT position FROM checkpoints WHERE consumer = 'inventory'), 0)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if open == 0 && placed == 0 && lag == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} orders unfinished, {placed} unprojected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    for (product, stock) in PRODUCTS {
        let completed: i64 = conn
            .query_row(
                "SELECT COALESCE(SUM(json_extract(l.value, '$.quantity')), 0) FROM events e, json_each(e.payload, '$.lines') l \
                 WHERE e.event_type = 'InventoryReserved' AND json_extract(l.value, '$.productId') = ?1 \
                 AND EXISTS (SELECT 1 FROM events c WHERE c.stream_id = e.stream_id AND c.event_type = 'OrderCompleted')",
                [product],
                |r| r.get(0),
            )
            .unwrap();
        let v: Value = get_json(&client, &format!("{base}/inventory/{product}")).await;
        let available = v["available"].as_i64().unwrap();
        assert!(available >= 0);
        assert_eq!(
            i64::try_from(stock).unwrap() - available,
            completed,
            "{product}: stock taken != completed quantities"
        );
    }

    // A graceful stop on SIGTERM exits 0.
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "SIGTERM should stop cleanly: {status:?}");
}
