//! `orders replay --backend aws` on the real binary, against the emulator (moto): each test
//! provisions its own small tables, fills the log through the real adapters (the event store
//! and the app's task functions), projects it with the Streams projector's step, then tampers
//! with its own tables (and deletes them when it passes).
//!
//! Without `AWS_ENDPOINT_URL` a test prints that it was skipped and returns, except under
//! `CI=true`, where it fails (the project's test command starts moto and exports it).

use std::collections::HashMap;
use std::process::{Command, Output};

use order_app::gateway::SimulatedGateway;
use order_app::seed::{SeedProduct, seed_inventory};
use order_app::stream::seal;
use order_app::tasks::{
    CaughtError, TaskError, TaskInput, order_failed, process_payment, update_inventory,
    validate_order,
};
use order_aws::codec;
use order_aws::provision::provision;
use order_aws::read_models::{InventoryTable, OrderStatusTable};
use order_aws::{AwsClients, AwsResources, DynamoEventStore, Projector, Target};
use order_domain::events::{OrderLine, OrderPlaced};
use order_domain::ports::EventStore;
use order_domain::{
    CustomerId, Email, EventMeta, GENESIS_HASH, OrderEvent, OrderId, PaymentToken, ProductId,
    Quantity, RecordedEvent, StreamId, Timestamp,
};
use order_replay::ReplayOptions;
use order_replay::dynamo::DynamoReplay;
use order_replay::dynamo::aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

/// A test's own tables on the emulator.
struct Aws {
    clients: AwsClients,
    resources: AwsResources,
    store: DynamoEventStore,
}

/// The emulator named by `AWS_ENDPOINT_URL`, with freshly provisioned resources (a unique
/// prefix per test). `None` (skipped) without it, except under `CI=true`.
async fn emulator(test: &str) -> Option<Aws> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: AWS_ENDPOINT_URL is not set and CI=true: start moto and export it \
                 (scripts/test.sh does)"
            );
            eprintln!("{test}: skipped, AWS_ENDPOINT_URL is not set (no emulator)");
            return None;
        }
    };
    let clients = AwsClients::load().await;
    let prefix = format!("r{}-", OrderId::generate().to_string().to_lowercase());
    let resources = provision(&clients, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{test}: provisioning on {endpoint} failed: {e}"));
    let store = DynamoEventStore::new(clients.dynamodb.clone(), &resources.events_table);
    Some(Aws {
        clients,
        resources,
        store,
    })
}

macro_rules! emulator_or_skip {
    ($name:expr) => {
        match emulator($name).await {
            Some(aws) => aws,
            None => return,
        }
    };
}

/// The orders of the mixed run, by how they ended.
struct Run {
    completed: OrderId,
    declined: OrderId,
    out_of_stock: OrderId,
    /// Every stream of the log.
    streams: Vec<StreamId>,
}

fn seed_product(id: &str, price: u64, stock: u64) -> SeedProduct {
    serde_json::from_value(
        json!({ "productId": id, "name": format!("Product {id}"), "price": price, "stock": stock }),
    )
    .unwrap()
}

fn input(id: OrderId, error: Option<&TaskError>) -> TaskInput {
    TaskInput {
        order_id: id,
        attempt: 0,
        error: error.map(|e| CaughtError {
            error: e.error_type().to_owned(),
            cause: e.message().to_owned(),
        }),
    }
}

/// Appends OrderPlaced for `items`, as the placement endpoint does.
async fn place(store: &DynamoEventStore, items: &[(&str, i64)], token: &str) -> OrderId {
    let id = OrderId::generate();
    let placed = OrderEvent::OrderPlaced(OrderPlaced {
        order_id: id,
        customer_id: CustomerId::parse("cust-7").unwrap(),
        email: Email::parse("jane.doe@example.com").unwrap(),
        items: items
            .iter()
            .map(|(p, q)| OrderLine {
                product_id: ProductId::parse(p).unwrap(),
                quantity: Quantity::new(*q).unwrap(),
            })
            .collect(),
        payment_token: PaymentToken::parse(token).unwrap(),
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

/// Runs the state machine's path by hand: validate, pay, reserve; any failure goes to
/// OrderFailed with the caught error.
async fn drive(store: &DynamoEventStore, id: OrderId) {
    let gateway = SimulatedGateway;
    let result = async {
        validate_order(store, input(id, None)).await?;
        process_payment(store, &gateway, input(id, None)).await?;
        update_inventory(store, input(id, None)).await
    }
    .await;
    if let Err(e) = result {
        order_failed(store, &gateway, input(id, Some(&e)))
            .await
            .unwrap();
    }
}

/// A mixed run: completed, declined, rejected, insufficient funds, and two orders racing for
/// the last LAST (one completes, one runs out of stock and is refunded).
async fn mixed_run(aws: &Aws) -> Run {
    let store = &aws.store;
    seed_inventory(
        store,
        &[
            seed_product("MUG", 900, 1000),
            seed_product("TEE", 2500, 1000),
            seed_product("SCARCE", 4900, 3),
            seed_product("LAST", 1500, 1),
        ],
    )
    .await
    .unwrap();
    let completed = place(store, &[("MUG", 1)], "tok_visa").await;
    let two_lines = place(store, &[("MUG", 2), ("TEE", 1)], "tok_mastercard").await;
    let declined = place(store, &[("TEE", 1)], "tok_decline").await;
    let rejected = place(store, &[("SCARCE", 5)], "tok_visa").await;
    let broke = place(store, &[("MUG", 1)], "tok_insufficient_funds").await;
    for id in [completed, two_lines, declined, rejected, broke] {
        drive(store, id).await;
    }
    let (a, b) = (
        place(store, &[("LAST", 1)], "tok_visa").await,
        place(store, &[("LAST", 1)], "tok_visa").await,
    );
    let gateway = SimulatedGateway;
    for id in [a, b] {
        validate_order(store, input(id, None)).await.unwrap();
    }
    for id in [a, b] {
        process_payment(store, &gateway, input(id, None))
            .await
            .unwrap();
    }
    update_inventory(store, input(a, None)).await.unwrap();
    let err = update_inventory(store, input(b, None)).await.unwrap_err();
    assert_eq!(err.error_type(), "OutOfStock");
    order_failed(store, &gateway, input(b, Some(&err)))
        .await
        .unwrap();
    let mut streams: Vec<StreamId> = ["MUG", "TEE", "SCARCE", "LAST"]
        .iter()
        .map(|p| ProductId::parse(p).unwrap().stream())
        .collect();
    streams.extend(
        [completed, two_lines, declined, rejected, broke, a, b]
            .iter()
            .map(OrderId::stream),
    );
    Run {
        completed,
        declined,
        out_of_stock: b,
        streams,
    }
}

impl Aws {
    fn projectors(&self) -> [Projector; 2] {
        let db = &self.clients.dynamodb;
        [
            Projector::new(
                self.store.clone(),
                Target::OrderStatus(OrderStatusTable::new(
                    db.clone(),
                    &self.resources.order_status_table,
                )),
            ),
            Projector::new(
                self.store.clone(),
                Target::Inventory(InventoryTable::new(
                    db.clone(),
                    &self.resources.inventory_table,
                )),
            ),
        ]
    }

    async fn events(&self, stream: &StreamId) -> Vec<RecordedEvent> {
        self.store.read_stream(stream, 0).await.unwrap()
    }

    /// Projects every event of `run` except the last `hold_back` of `held` (what the Streams
    /// projectors would have done), so the live read models exist.
    async fn project(&self, run: &Run, held: Option<(&StreamId, usize)>) {
        let projectors = self.projectors();
        for stream in &run.streams {
            let mut events = self.events(stream).await;
            if let Some((s, n)) = held
                && s == stream
            {
                events.truncate(events.len() - n);
            }
            for e in &events {
                for p in &projectors {
                    p.apply(e).await.unwrap();
                }
            }
        }
    }

    /// A mixed run, fully projected.
    async fn projected_run(&self) -> Run {
        let run = mixed_run(self).await;
        self.project(&run, None).await;
        run
    }

    async fn total_events(&self, run: &Run) -> usize {
        let mut n = 0;
        for s in &run.streams {
            n += self.events(s).await.len();
        }
        n
    }

    fn replay(&self, args: &[&str]) -> Replayed {
        let out: Output = Command::new(env!("CARGO_BIN_EXE_orders"))
            .args(["replay", "--backend", "aws"])
            .args(args)
            .envs(self.resources.env_pairs())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        Replayed::from(out)
    }

    async fn get_event_item(
        &self,
        stream: &StreamId,
        version: u64,
    ) -> HashMap<String, AttributeValue> {
        self.clients
            .dynamodb
            .get_item()
            .table_name(&self.resources.events_table)
            .set_key(Some(codec::key(stream, version)))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn put_item(&self, table: &str, item: HashMap<String, AttributeValue>) {
        self.clients
            .dynamodb
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    async fn delete_item(&self, table: &str, key: HashMap<String, AttributeValue>) {
        self.clients
            .dynamodb
            .delete_item()
            .table_name(table)
            .set_key(Some(key))
            .send()
            .await
            .unwrap();
    }

    /// Deletes the test's tables (a passing test leaves the shared emulator as small as it
    /// found it; a failing one leaves them to look at).
    async fn drop_tables(self) {
        let r = &self.resources;
        for table in [
            &r.events_table,
            &r.order_status_table,
            &r.inventory_table,
            &r.idempotency_table,
        ] {
            let _ = self
                .clients
                .dynamodb
                .delete_table()
                .table_name(table)
                .send()
                .await;
        }
    }

    fn tables(&self) -> DynamoReplay {
        DynamoReplay::new(
            self.clients.dynamodb.clone(),
            &self.resources.events_table,
            &self.resources.order_status_table,
            &self.resources.inventory_table,
        )
    }
}

struct Replayed {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Replayed {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Replayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n{}\n{}", self.code, self.stdout, self.stderr)
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_replay_of_a_mixed_run_matches_the_live_read_models_and_verifies() {
    let aws =
        emulator_or_skip!("aws_replay_of_a_mixed_run_matches_the_live_read_models_and_verifies");
    let run = aws.projected_run().await;
    let events = aws.total_events(&run).await;
    let r = aws.replay(&[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("read models: match (11 rows compared)"),
        "{r}"
    );
    assert!(
        r.stdout.contains(&format!(
            "replayed {events} events in 11 streams (7 orders, 4 products)"
        )),
        "{r}"
    );
    let v = aws.replay(&["--verify", "--segments", "3", "--concurrency", "2"]);
    assert_eq!(v.code, 0, "{v}");
    assert!(v.stdout.contains("every stream verified"), "{v}");
    // The library, with pages of two items: every Scan and Query crosses pages.
    let summary = aws
        .tables()
        .with_page_limit(2)
        .with_segments(3)
        .with_concurrency(3)
        .replay_all(
            &ReplayOptions {
                verify: true,
                ..ReplayOptions::default()
            },
            &mut (),
        )
        .await
        .unwrap();
    assert_eq!(summary.events, events as u64, "{summary}");
    assert_eq!(
        (summary.streams, summary.orders, summary.products),
        (11, 7, 4)
    );
    assert_eq!((summary.differences, summary.failures), (0, 0), "{summary}");
    assert_eq!(summary.statuses.get("COMPLETED"), Some(&3), "{summary}");
    assert_eq!(summary.statuses.get("FAILED"), Some(&4), "{summary}");
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_changed_event_payload_fails_verify_naming_the_stream_and_version() {
    let aws =
        emulator_or_skip!("aws_a_changed_event_payload_fails_verify_naming_the_stream_and_version");
    let run = aws.projected_run().await;
    let stream = run.declined.stream();
    let declined = aws
        .events(&stream)
        .await
        .into_iter()
        .find(|e| e.event_type == "PaymentDeclined")
        .unwrap();
    let forged = declined.payload.replace("declined", "accepted");
    assert_ne!(forged, declined.payload);
    aws.clients
        .dynamodb
        .update_item()
        .table_name(&aws.resources.events_table)
        .set_key(Some(codec::key(&stream, declined.version)))
        .update_expression("SET payload = :p")
        .expression_attribute_values(":p", s(&forged))
        .send()
        .await
        .unwrap();
    let r = aws.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout.contains(&format!(
            "{stream} version {}: stored hash does not match",
            declined.version
        )),
        "{r}"
    );
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_deleted_event_fails_verify_naming_the_stream_and_version() {
    let aws = emulator_or_skip!("aws_a_deleted_event_fails_verify_naming_the_stream_and_version");
    let run = aws.projected_run().await;
    let stream = run.completed.stream();
    aws.delete_item(&aws.resources.events_table, codec::key(&stream, 2))
        .await;
    let r = aws.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout
            .contains(&format!("{stream} version 3: expected version 2")),
        "{r}"
    );
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_swapped_versions_fail_verify_naming_the_stream_and_version() {
    let aws = emulator_or_skip!("aws_swapped_versions_fail_verify_naming_the_stream_and_version");
    let run = aws.projected_run().await;
    let stream = run.out_of_stock.stream();
    let mut third = aws.get_event_item(&stream, 3).await;
    let mut fourth = aws.get_event_item(&stream, 4).await;
    // Each version keeps its key and takes the other's content.
    let (v3, v4) = (third.remove("version"), fourth.remove("version"));
    third.insert("version".into(), v4.unwrap());
    fourth.insert("version".into(), v3.unwrap());
    aws.put_item(&aws.resources.events_table, third).await;
    aws.put_item(&aws.resources.events_table, fourth).await;
    let r = aws.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains(&format!("{stream} version 3")), "{r}");
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_as_of_before_an_orders_completion_shows_it_unfinished() {
    let aws = emulator_or_skip!("aws_as_of_before_an_orders_completion_shows_it_unfinished");
    let run = aws.projected_run().await;
    let id = run.completed.to_string();
    let completed_at = aws
        .events(&run.completed.stream())
        .await
        .iter()
        .find(|e| e.event_type == "OrderCompleted")
        .unwrap()
        .occurred_at;
    let before = Timestamp::from_millis(completed_at.as_millis() - 1).to_rfc3339();
    let then = aws.replay(&["--order", &id, "--as-of", &before]);
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
    let now = aws.replay(&["--order", &id, "--verify"]);
    assert_eq!(now.code, 0, "{now}");
    assert!(now.stdout.contains("state now: COMPLETED"), "{now}");
    assert!(now.stdout.contains("live row: matches the log"), "{now}");
    let oos = aws.replay(&["--order", &run.out_of_stock.to_string()]);
    for expected in [
        "status VALIDATED→PAID",
        "LAST: 1 requested, 0 available",
        "state now: FAILED (OUT_OF_STOCK)",
    ] {
        assert!(oos.stdout.contains(expected), "{expected} missing:\n{oos}");
    }
    // The whole read models then: this order was not yet complete.
    let all = aws.replay(&["--as-of", &before]);
    assert_eq!(all.code, 0, "{all}");
    assert!(all.stdout.contains(&format!("as of {before}")), "{all}");
    assert!(all.stdout.contains("inventory then:"), "{all}");
    let unknown = aws.replay(&["--order", &OrderId::generate().to_string()]);
    assert_eq!(unknown.code, 4, "{unknown}");
    assert!(unknown.stderr.contains("no order"), "{unknown}");
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_corrupted_order_status_row_makes_replay_exit_1_and_rebuild_repairs_it() {
    let aws = emulator_or_skip!(
        "aws_a_corrupted_order_status_row_makes_replay_exit_1_and_rebuild_repairs_it"
    );
    let run = aws.projected_run().await;
    let id = run.completed.to_string();
    let table = &aws.resources.order_status_table;
    let row = aws
        .clients
        .dynamodb
        .get_item()
        .table_name(table)
        .key("orderId", s(&id))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let view = row["view"]
        .as_s()
        .unwrap()
        .replace("\"COMPLETED\"", "\"PAID\"");
    aws.clients
        .dynamodb
        .update_item()
        .table_name(table)
        .key("orderId", s(&id))
        .update_expression("SET #st = :st, #v = :view")
        .expression_attribute_names("#st", "status")
        .expression_attribute_names("#v", "view")
        .expression_attribute_values(":st", s("PAID"))
        .expression_attribute_values(":view", s(&view))
        .send()
        .await
        .unwrap();
    let r = aws.replay(&[]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains(&format!("order-status {id}")), "{r}");
    assert!(r.stdout.contains("status: live PAID, log COMPLETED"), "{r}");
    assert!(
        r.stdout.contains("column status: live PAID, log COMPLETED"),
        "{r}"
    );
    let fixed = aws.replay(&["--rebuild"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    assert!(
        fixed.stdout.contains("rebuild: wrote 1 row, deleted 0"),
        "{fixed}"
    );
    let after = aws.replay(&["--verify"]);
    assert_eq!(after.code, 0, "{after}");
    assert!(after.stdout.contains("read models: match"), "{after}");
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_row_behind_the_log_is_pending_within_the_lag_allowance_then_differs() {
    let aws = emulator_or_skip!(
        "aws_a_row_behind_the_log_is_pending_within_the_lag_allowance_then_differs"
    );
    let run = mixed_run(&aws).await;
    // The projector has not applied the completed order's last event yet.
    let stream = run.completed.stream();
    aws.project(&run, Some((&stream, 1))).await;
    let head = aws.events(&stream).await.len();
    let r = aws.replay(&[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .contains("pending: 1 event not yet applied by the live projections"),
        "{r}"
    );
    let order = aws.replay(&["--order", &run.completed.to_string()]);
    assert_eq!(order.code, 0, "{order}");
    assert!(order.stdout.contains("pending: 1 events"), "{order}");
    // With no allowance the row should be at the head: it differs.
    let strict = aws.replay(&["--lag-allowance", "0"]);
    assert_eq!(strict.code, 1, "{strict}");
    assert!(
        strict.stdout.contains(&format!(
            "order-status {}: live version {}, log version {head}",
            run.completed,
            head - 1
        )),
        "{strict}"
    );
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_rebuild_deletes_an_unjustified_row_and_restores_a_missing_one() {
    let aws =
        emulator_or_skip!("aws_rebuild_deletes_an_unjustified_row_and_restores_a_missing_one");
    aws.projected_run().await;
    let ghost = OrderId::generate().to_string();
    aws.put_item(
        &aws.resources.order_status_table,
        HashMap::from([
            ("orderId".to_owned(), s(&ghost)),
            ("status".to_owned(), s("COMPLETED")),
            ("version".to_owned(), AttributeValue::N("5".into())),
            ("updatedAt".to_owned(), AttributeValue::N("1".into())),
            ("view".to_owned(), s("{}")),
        ]),
    )
    .await;
    aws.delete_item(
        &aws.resources.inventory_table,
        HashMap::from([("ProductID".to_owned(), s("TEE"))]),
    )
    .await;
    let r = aws.replay(&["--lag-allowance", "0"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.contains(&format!(
            "order-status {ghost}: live row (version 5) is not justified by the log"
        )),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("inventory TEE: no live row (the log has it at version"),
        "{r}"
    );
    assert!(r.stdout.contains("read models: 2 of 12 rows DIFFER"), "{r}");
    let fixed = aws.replay(&["--rebuild"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    assert!(
        fixed.stdout.contains("rebuild: wrote 1 row, deleted 1"),
        "{fixed}"
    );
    let after = aws.replay(&["--verify", "--lag-allowance", "0"]);
    assert_eq!(after.code, 0, "{after}");
    assert!(
        after
            .stdout
            .contains("read models: match (11 rows compared)"),
        "{after}"
    );
    aws.drop_tables().await;
}

/// Needs no emulator: the contract's variables are checked before anything is read.
#[test]
fn aws_replay_without_its_tables_named_exits_4_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["replay", "--backend", "aws"])
        .env_remove("EVENTS_TABLE")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let r = Replayed::from(out);
    assert_eq!(r.code, 4, "{r}");
    assert!(r.stderr.contains("EVENTS_TABLE"), "{r}");
    let bad = Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["replay", "--backend", "aws", "--segments", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
