//! The local alarms over the real binary, their periods scaled down (`--alarm-time-scale 0.01`:
//! a minute is 0.6 s) and sampled every 0.1 s: a dead-lettered order message puts
//! OrdersDeadLetterQueue in ALARM with one email to the critical-alerts outbox; redriving it
//! brings the alarm back to OK with a second email, and no third one comes while the state
//! holds. `/admin/series` counts the order that then completes, and the monitor's routes are
//! for operators only.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use order_domain::OrderId;
use order_domain::ports::PolledQueue;
use order_embedded::db::{Db, Durability};
use order_embedded::queue::SqliteQueue;
use order_testkit::queue::dead_lettered_embedded_order;
use order_testkit::server::{Orders, bearer, get_json, token, wait_healthy, wait_terminal};
use serde_json::Value;

const ALARM: &str = "OrdersDeadLetterQueue";

/// The critical-alerts outbox's subjects, in order.
fn alert_subjects(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("outbox/CriticalAlertsTopic.mbox"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
        .collect()
}

/// Polls `/admin/alarms` until `ALARM` is in `state`; returns that alarm.
async fn wait_state(client: &reqwest::Client, server: &Orders, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = get_json(client, &server.url("/admin/alarms")).await;
        let alarm = all["alarms"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["name"] == ALARM).cloned())
            .unwrap_or_else(|| panic!("no {ALARM}: {all}"));
        if alarm["state"] == state {
            return alarm;
        }
        assert!(Instant::now() < deadline, "never {state}: {all}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An order placed while no server runs, its message given up on by a failing consumer: the
/// queue holds nothing visible and one dead letter.
async fn dead_lettered_order(data: &Path) -> OrderId {
    let order = dead_lettered_embedded_order(data).await;
    let db = Db::open(&data.join("orders.db"), Durability::Normal).unwrap();
    let queue = SqliteQueue::orders(db.clone());
    assert_eq!(PolledQueue::depth(&queue).await.unwrap(), (0, 1));
    db.close();
    order
}

/// The monitor's routes answer 401 without a token and 403 to a customer.
async fn operators_only(server: &Orders, customer: &reqwest::Client) {
    for path in ["/admin/alarms", "/admin/series"] {
        let r = customer.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let r = reqwest::Client::new()
            .get(server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
}

/// The latest sample of a `/admin/series` answer, checked to have exactly the console's keys.
fn last_sample(series: &Value) -> Value {
    assert_eq!(series["periodSeconds"], 0.1, "{series}");
    let last = series["samples"]
        .as_array()
        .and_then(|s| s.last().cloned())
        .unwrap_or_else(|| panic!("no samples: {series}"));
    let mut keys: Vec<&str> = last
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "at",
            "completed",
            "deadLetters",
            "failed",
            "latencyP50Seconds",
            "latencyP99Seconds",
            "placed",
            "projectionLagSeconds",
            "queueDepth"
        ]
    );
    last
}

/// The series counts one completed order (placed while no server ran), with its latency, and
/// periods in which no order ended have no latency.
fn counts_the_completed_order(series: &Value) {
    let samples = series["samples"].as_array().unwrap();
    let total = |key: &str| samples.iter().filter_map(|s| s[key].as_u64()).sum::<u64>();
    assert_eq!(
        (total("completed"), total("failed"), total("placed")),
        (1, 0, 0),
        "{series}"
    );
    let ended: Vec<&Value> = samples.iter().filter(|s| s["completed"] == 1).collect();
    assert!(ended[0]["latencyP99Seconds"].as_f64().is_some(), "{series}");
    assert!(
        samples.iter().any(|s| s["latencyP50Seconds"].is_null()),
        "{series}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_raises_the_alarm_once_and_its_redrive_clears_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }]"#,
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_orders");
    let extra = [
        "--redrive-after-secs",
        "3600",
        "--monitor-period",
        "0.1",
        "--alarm-time-scale",
        "0.01",
    ];
    let log = |n: &str| dir.path().join(n);
    let first = Orders::serve(bin, &data, &seed, &log("serve1.log"), &extra, &[]);
    wait_healthy(&reqwest::Client::new(), &first.base, Duration::from_mins(1)).await;
    drop(first);
    let order = dead_lettered_order(&data).await;

    let server = Orders::serve(bin, &data, &seed, &log("serve2.log"), &extra, &[]);
    let admin = bearer(reqwest::Client::builder(), &token(&data, "ops-1", true))
        .build()
        .unwrap();
    let customer = bearer(reqwest::Client::builder(), &token(&data, "c-1", false))
        .build()
        .unwrap();
    wait_healthy(&admin, &server.base, Duration::from_mins(1)).await;
    operators_only(&server, &customer).await;

    let alarm = wait_state(&admin, &server, "ALARM").await;
    assert_eq!(alarm["threshold"], 0.0, "{alarm}");
    assert!(
        alarm["reason"]
            .as_str()
            .unwrap()
            .contains("1 out of the last 1"),
        "{alarm}"
    );
    let series = get_json(&admin, &server.url("/admin/series")).await;
    let last = last_sample(&series);
    assert_eq!(
        (last["deadLetters"].as_u64(), last["queueDepth"].as_u64()),
        (Some(1), Some(0))
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let subjects = alert_subjects(&data);
    assert_eq!(
        subjects.len(),
        1,
        "one email on entering ALARM: {subjects:?}"
    );
    assert!(
        subjects[0].starts_with(&format!("ALARM: \"{ALARM}\"")),
        "{subjects:?}"
    );

    let redrive = Command::new(bin)
        .args(["dlq", "redrive", "--all", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(redrive.status.success(), "{redrive:?}");
    let ok = wait_state(&admin, &server, "OK").await;
    assert!(
        ok["reason"]
            .as_str()
            .unwrap()
            .contains("0 out of the last 1"),
        "{ok}"
    );
    let done = wait_terminal(
        &admin,
        &server.base,
        &order.to_string(),
        Duration::from_mins(1),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let subjects = alert_subjects(&data);
    assert_eq!(
        subjects.len(),
        2,
        "one more on leaving ALARM, none while OK: {subjects:?}"
    );
    assert!(
        subjects[1].starts_with(&format!("OK: \"{ALARM}\" (was ALARM)")),
        "{subjects:?}"
    );

    // The order that completed is counted once, with its end-to-end latency, in the series.
    counts_the_completed_order(&get_json(&admin, &server.url("/admin/series")).await);
}
