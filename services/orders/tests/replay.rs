//! `orders replay` on the real binary, over a data directory filled by a real mixed run:
//! orders completed, declined, rejected and out of stock. Each test copies that run's data and
//! tampers with its own copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use order_app::gateway::SimulatedGateway;
use order_app::seed::SeedProduct;
use order_app::stream::seal;
use order_app::tasks::{
    CaughtError, TaskInput, order_failed, process_payment, update_inventory, validate_order,
};
use order_domain::events::{OrderLine, OrderPlaced};
use order_domain::ports::EventStore;
use order_domain::{
    CustomerId, Email, EventMeta, GENESIS_HASH, OrderEvent, OrderId, PaymentToken, ProductId,
    Quantity, Timestamp,
};
use order_embedded::store::SqliteEventStore;
use order_runtime::Config;
use serde_json::{Value, json};

/// The ids of the orders of the mixed run, by how they ended.
struct Run {
    _dir: tempfile::TempDir,
    data: PathBuf,
    completed: String,
    declined: String,
    rejected: String,
    out_of_stock: String,
}

fn product(id: &str, price: u64, stock: u64) -> SeedProduct {
    serde_json::from_value(
        json!({ "productId": id, "name": format!("Product {id}"), "price": price, "stock": stock }),
    )
    .unwrap()
}

fn config(data: &Path) -> Config {
    let mut config = Config::new(
        data.to_owned(),
        vec![
            product("MUG", 900, 1000),
            product("TEE", 2500, 1000),
            product("SCARCE", 4900, 3),
            product("LAST", 1500, 1),
        ],
    );
    config.retry_interval_scale = 0.01;
    // The hand-driven orders below must not be re-driven by the sweeper meanwhile.
    config.redrive_after = Duration::from_hours(1);
    config
}

async fn post(client: &reqwest::Client, base: &str, items: &[(&str, i64)], token: &str) -> String {
    let body = json!({
        "customerId": "cust-7",
        "email": "jane.doe@example.com",
        "items": items.iter().map(|(p, q)| json!({ "productId": p, "quantity": q })).collect::<Vec<_>>(),
        "paymentToken": token,
    });
    let r = client
        .post(format!("{base}/orders"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    r.json::<Value>().await.unwrap()["orderId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn wait_terminal(client: &reqwest::Client, base: &str, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = client
            .get(format!("{base}/orders/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = v["status"].as_str().unwrap_or_default().to_owned();
        if status == "COMPLETED" || status == "FAILED" {
            return status;
        }
        assert!(Instant::now() < deadline, "{id} stuck: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn input(id: OrderId) -> TaskInput {
    TaskInput {
        order_id: id,
        attempt: 0,
        error: None,
    }
}

/// Places an order for one LAST straight into the log (no queue message: driven by hand).
async fn place_by_hand(store: &SqliteEventStore) -> OrderId {
    let id = OrderId::generate();
    let placed = OrderEvent::OrderPlaced(OrderPlaced {
        order_id: id,
        customer_id: CustomerId::parse("cust-8").unwrap(),
        email: Email::parse("joe@example.com").unwrap(),
        items: vec![OrderLine {
            product_id: ProductId::parse("LAST").unwrap(),
            quantity: Quantity::new(1).unwrap(),
        }],
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    });
    let meta = EventMeta {
        correlation_id: id.to_string(),
        causation_id: "test".into(),
        occurred_at: Timestamp::now(),
    };
    let write = seal(&id.stream(), 0, GENESIS_HASH, [placed.encode()], &meta);
    store.append(vec![write]).await.unwrap();
    id
}

/// Two orders both validated and paid while one LAST is left: the first takes it, the second
/// runs out of stock, is refunded and fails. Driven through the app's task functions.
async fn race_for_the_last_one(store: &SqliteEventStore) -> (OrderId, OrderId) {
    let (a, b) = (place_by_hand(store).await, place_by_hand(store).await);
    let gateway = SimulatedGateway;
    for id in [a, b] {
        validate_order(store, input(id)).await.unwrap();
    }
    for id in [a, b] {
        process_payment(store, &gateway, input(id)).await.unwrap();
    }
    update_inventory(store, input(a)).await.unwrap();
    let err = update_inventory(store, input(b)).await.unwrap_err();
    assert_eq!(err.error_type(), "OutOfStock");
    let caught = TaskInput {
        error: Some(CaughtError {
            error: err.error_type().to_owned(),
            cause: err.message().to_owned(),
        }),
        ..input(b)
    };
    order_failed(store, &gateway, caught).await.unwrap();
    (a, b)
}

fn build_run() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids = rt.block_on(async {
        let server = orders::serve(config(&data), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        let client = reqwest::Client::new();
        let mut ids = vec![
            post(&client, &base, &[("MUG", 1)], "tok_visa").await,
            post(&client, &base, &[("MUG", 2), ("TEE", 1)], "tok_mastercard").await,
            post(&client, &base, &[("TEE", 1)], "tok_decline").await,
            post(&client, &base, &[("SCARCE", 5)], "tok_visa").await,
            post(&client, &base, &[("MUG", 1)], "tok_insufficient_funds").await,
        ];
        let store = server.pipeline.lock().await.as_ref().unwrap().store.clone();
        let (a, b) = race_for_the_last_one(&store).await;
        ids.extend([a.to_string(), b.to_string()]);
        let mut statuses = Vec::new();
        for id in &ids {
            statuses.push(wait_terminal(&client, &base, id).await);
        }
        assert_eq!(
            statuses,
            [
                "COMPLETED",
                "COMPLETED",
                "FAILED",
                "FAILED",
                "FAILED",
                "COMPLETED",
                "FAILED"
            ]
        );
        server.shutdown().await;
        ids
    });
    Run {
        _dir: dir,
        data,
        completed: ids[0].clone(),
        declined: ids[2].clone(),
        rejected: ids[3].clone(),
        out_of_stock: ids[6].clone(),
    }
}

/// The mixed run, made once for all tests (each works on a copy).
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| std::thread::spawn(build_run).join().unwrap())
}

/// A private copy of the run's data directory.
struct Copy {
    dir: tempfile::TempDir,
}

impl Copy {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&run().data).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        Self { dir }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn sql(&self, sql: &str) {
        rusqlite::Connection::open(self.data().join("orders.db"))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    fn int(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(self.data().join("orders.db"))
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    fn replay(&self, args: &[&str]) -> Replayed {
        replay_in(self.data(), args)
    }
}

struct Replayed {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Replayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n{}\n{}", self.code, self.stdout, self.stderr)
    }
}

fn replay_in(data: &Path, args: &[&str]) -> Replayed {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_orders"))
        .arg("replay")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    Replayed {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn replay_of_a_mixed_run_matches_the_live_read_models_and_verifies() {
    let copy = Copy::new();
    let r = copy.replay(&[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("read models: match"), "{r}");
    let events = copy.int("SELECT COUNT(*) FROM events");
    assert!(
        r.stdout.contains(&format!("replayed {events} events")),
        "{r}"
    );
    assert!(r.stdout.contains("(7 orders, 4 products)"), "{r}");
    let v = copy.replay(&["--verify"]);
    assert_eq!(v.code, 0, "{v}");
    assert!(v.stdout.contains("every stream verified"), "{v}");
}

#[test]
fn a_changed_event_payload_fails_verify_naming_the_stream_and_version() {
    let copy = Copy::new();
    let stream = format!("order#{}", run().declined);
    copy.sql(&format!(
        "UPDATE events SET payload = replace(payload, 'declined', 'accepted') \
         WHERE stream_id = '{stream}' AND event_type = 'PaymentDeclined'"
    ));
    let version = copy.int(&format!(
        "SELECT version FROM events WHERE stream_id = '{stream}' AND event_type = 'PaymentDeclined'"
    ));
    let r = copy.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout.contains(&format!(
            "{stream} version {version}: stored hash does not match"
        )),
        "{r}"
    );
}

#[test]
fn a_deleted_event_fails_verify_naming_the_stream_and_version() {
    let copy = Copy::new();
    let stream = format!("order#{}", run().completed);
    copy.sql(&format!(
        "DELETE FROM events WHERE stream_id = '{stream}' AND version = 2"
    ));
    let r = copy.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout
            .contains(&format!("{stream} version 3: expected version 2")),
        "{r}"
    );
}

#[test]
fn swapped_versions_fail_verify_naming_the_stream_and_version() {
    let copy = Copy::new();
    let stream = format!("order#{}", run().out_of_stock);
    copy.sql(&format!(
        "UPDATE events SET version = -1 WHERE stream_id = '{stream}' AND version = 3;
         UPDATE events SET version = 3 WHERE stream_id = '{stream}' AND version = 4;
         UPDATE events SET version = 4 WHERE stream_id = '{stream}' AND version = -1;"
    ));
    let r = copy.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains(&format!("{stream} version 3")), "{r}");
}

#[test]
fn a_corrupted_read_model_row_makes_replay_exit_1_and_rebuild_repairs_it() {
    let copy = Copy::new();
    let id = &run().completed;
    copy.sql(&format!(
        "UPDATE order_status SET status = 'PAID', view = replace(view, '\"COMPLETED\"', '\"PAID\"') \
         WHERE order_id = '{id}'"
    ));
    let r = copy.replay(&[]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains(&format!("order-status {id}")), "{r}");
    assert!(r.stdout.contains("status: live PAID, log COMPLETED"), "{r}");
    let fixed = copy.replay(&["--rebuild"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    assert!(fixed.stdout.contains("rebuild: wrote 1 row"), "{fixed}");
    let after = copy.replay(&["--verify"]);
    assert_eq!(after.code, 0, "{after}");
}

#[test]
fn as_of_before_an_orders_completion_shows_it_unfinished() {
    let copy = Copy::new();
    let id = &run().completed;
    let completed_at = copy.int(&format!(
        "SELECT occurred_at FROM events WHERE stream_id = 'order#{id}' AND event_type = 'OrderCompleted'"
    ));
    let before = Timestamp::from_millis(u64::try_from(completed_at - 1).unwrap()).to_rfc3339();
    let then = copy.replay(&["--order", id, "--as-of", &before]);
    assert_eq!(then.code, 0, "{then}");
    let state = then
        .stdout
        .lines()
        .find(|l| l.starts_with("state as of"))
        .unwrap_or_else(|| panic!("{then}"));
    assert!(
        ["PLACED", "VALIDATED", "PAID"]
            .iter()
            .any(|s| state.contains(&format!(": {s} "))),
        "{then}"
    );
    assert!(then.stdout.contains("later events not shown"), "{then}");
    let now = copy.replay(&["--order", id]);
    assert!(now.stdout.contains("state now: COMPLETED"), "{now}");
    // The whole read models then: this order was not yet complete.
    let all = copy.replay(&["--as-of", &before]);
    assert_eq!(all.code, 0, "{all}");
    assert!(all.stdout.contains(&format!("as of {before}")), "{all}");
    assert!(all.stdout.contains("inventory then:"), "{all}");
}

#[test]
fn the_order_timeline_shows_what_each_event_changed() {
    let copy = Copy::new();
    let r = copy.replay(&["--order", &run().out_of_stock, "--verify"]);
    assert_eq!(r.code, 0, "{r}");
    for expected in [
        "OrderPlaced",
        "status ∅→PLACED",
        "items LAST×1",
        "status PLACED→VALIDATED",
        "status VALIDATED→PAID",
        "LAST: 1 requested, 0 available",
        "refunded false→true",
        "status PAID→FAILED",
        "reason ∅→OUT_OF_STOCK",
        "state now: FAILED (OUT_OF_STOCK)",
        "live row: matches the log",
    ] {
        assert!(r.stdout.contains(expected), "{expected} missing:\n{r}");
    }
    let rejected = copy.replay(&["--order", &run().rejected]);
    assert!(
        rejected.stdout.contains("code INSUFFICIENT_STOCK"),
        "{rejected}"
    );
}

#[test]
fn a_missing_data_dir_or_unknown_order_exits_4_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = replay_in(&dir.path().join("nothing-here"), &[]);
    assert_eq!(missing.code, 4, "{missing}");
    assert!(missing.stderr.contains("no database at"), "{missing}");
    let copy = Copy::new();
    let unknown = copy.replay(&["--order", &OrderId::generate().to_string()]);
    assert_eq!(unknown.code, 4, "{unknown}");
    let conflicting = copy.replay(&["--rebuild", "--as-of", "2026-01-01T00:00:00Z"]);
    assert_eq!(conflicting.code, 2, "{conflicting}");
    let bad_time = copy.replay(&["--as-of", "yesterday"]);
    assert_eq!(bad_time.code, 2, "{bad_time}");
}

/// A rebuild beside a server that keeps taking orders: the corrupted row is repaired, no row
/// is regressed, and afterwards the log and the read models still agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_while_the_server_runs_repairs_without_losing_updates() {
    let copy = Copy::new();
    let server = orders::serve(config(copy.data()), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let id = run().declined.clone();
    copy.sql(&format!(
        "UPDATE order_status SET view = replace(view, 'declined', 'accepted') WHERE order_id = '{id}'"
    ));
    let data = copy.data().to_owned();
    let rebuild = tokio::task::spawn_blocking(move || replay_in(&data, &["--rebuild"]));
    let mut placed = Vec::new();
    for _ in 0..10 {
        placed.push(post(&client, &base, &[("MUG", 1)], "tok_visa").await);
    }
    let r = rebuild.await.unwrap();
    assert_eq!(r.code, 0, "{r}");
    for id in &placed {
        assert_eq!(wait_terminal(&client, &base, id).await, "COMPLETED");
    }
    server.shutdown().await;
    let after = copy.replay(&["--verify"]);
    assert_eq!(after.code, 0, "{after}");
    assert!(after.stdout.contains("(17 orders, 4 products)"), "{after}");
}
