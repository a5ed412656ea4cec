//! The workflow's tasks and the queue consumer under at-least-once delivery, on the real SQLite
//! adapters but without the runtime's workers, so each step happens exactly when the test says.

use std::sync::Arc;

use order_app::gateway::SimulatedGateway;
use order_app::seed::seed_inventory;
use order_app::start::start_order_processing;
use order_app::stream::seal;
use order_app::tasks::{self, TaskError, TaskInput};
use order_app::vault::NoKeys;
use order_domain::ports::{EventStore, StartOutcome, StoreError};
use order_domain::{Email, EventMeta, OrderEvent, OrderId, ProductId, Timestamp};
use order_embedded::db::{Db, Durability};
use order_embedded::store::SqliteEventStore;
use order_testkit::events::seed_product as product;
use serde_json::json;

struct Rig {
    _dir: tempfile::TempDir,
    db: Db,
    store: SqliteEventStore,
}

async fn rig(stock: u64) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    seed_inventory(&store, &[product("P", 500, stock)])
        .await
        .unwrap();
    Rig {
        _dir: dir,
        db,
        store,
    }
}

/// A new order for `qty` of P.
async fn place(store: &SqliteEventStore, qty: i64) -> OrderId {
    order_testkit::events::place(store, &[("P", qty)], "tok_visa").await
}

fn input(id: OrderId) -> TaskInput {
    parse(json!({ "orderId": id }))
}

fn parse(v: serde_json::Value) -> TaskInput {
    TaskError::parse_input(v).unwrap()
}

async fn types(store: &SqliteEventStore, id: OrderId) -> Vec<String> {
    store
        .read_stream(&id.stream(), 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type.into())
        .collect()
}

/// Stock that runs out between validation and reservation: the reservation records OutOfStock
/// and takes nothing, and OrderFailed refunds the captured payment before failing the order.
#[tokio::test]
async fn out_of_stock_after_payment_is_refunded_and_fails_the_order() {
    let r = rig(1).await;
    let g = SimulatedGateway;
    let (a, b) = (place(&r.store, 1).await, place(&r.store, 1).await);
    for id in [a, b] {
        tasks::validate_order(&r.store, input(id)).await.unwrap();
        tasks::process_payment(&r.store, &g, &NoKeys, input(id))
            .await
            .unwrap();
    }
    tasks::update_inventory(&r.store, input(a)).await.unwrap();
    let err = tasks::update_inventory(&r.store, input(b))
        .await
        .unwrap_err();
    assert!(matches!(err, TaskError::OutOfStock(_)), "{err}");
    let caught =
        json!({ "orderId": b, "error": { "Error": "OutOfStock", "Cause": err.message() } });
    let out = tasks::order_failed(&r.store, &g, parse(caught))
        .await
        .unwrap();
    assert_eq!(out["reason"], "OUT_OF_STOCK");
    assert_eq!(out["refunded"], true);
    assert_eq!(
        types(&r.store, b).await,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentCaptured",
            "OutOfStock",
            "PaymentRefunded",
            "OrderFailed"
        ]
    );
    r.db.close();
}

/// A completed order's stream, by event type.
const COMPLETED: [&str; 5] = [
    "OrderPlaced",
    "OrderValidated",
    "PaymentCaptured",
    "InventoryReserved",
    "OrderCompleted",
];

/// Product P's stream.
async fn product_p(store: &SqliteEventStore) -> Vec<order_domain::RecordedEvent> {
    store
        .read_stream(&ProductId::parse("P").unwrap().stream(), 0)
        .await
        .unwrap()
}

/// Every task run twice (a redelivered invocation) appends once and answers the same.
#[tokio::test]
async fn every_task_run_twice_appends_once_and_answers_the_same() {
    let r = rig(10).await;
    let g = SimulatedGateway;
    let id = place(&r.store, 2).await;
    let v1 = tasks::validate_order(&r.store, input(id)).await.unwrap();
    let v2 = tasks::validate_order(&r.store, input(id)).await.unwrap();
    assert_eq!(v1, v2);
    let p1 = tasks::process_payment(&r.store, &g, &NoKeys, input(id))
        .await
        .unwrap();
    let p2 = tasks::process_payment(&r.store, &g, &NoKeys, input(id))
        .await
        .unwrap();
    assert_eq!(p1, p2);
    let i1 = tasks::update_inventory(&r.store, input(id)).await.unwrap();
    let i2 = tasks::update_inventory(&r.store, input(id)).await.unwrap();
    assert_eq!(i1, i2);
    assert_eq!(types(&r.store, id).await, COMPLETED);
    // A stray OrderFailed for a completed order changes nothing and says so.
    let f = tasks::order_failed(
        &r.store,
        &g,
        parse(json!({ "orderId": id, "error": { "Error": "States.Timeout" } })),
    )
    .await
    .unwrap();
    assert_eq!(f["kind"], "completed");
    assert_eq!(types(&r.store, id).await.len(), 5);
    r.db.close();
}

/// Five concurrent runs of UpdateInventory for one order (Express workflows do not dedupe)
/// take its stock once.
#[tokio::test]
async fn concurrent_duplicate_reservations_take_stock_once() {
    let r = Arc::new(rig(10).await);
    let g = SimulatedGateway;
    let id = place(&r.store, 3).await;
    tasks::validate_order(&r.store, input(id)).await.unwrap();
    tasks::process_payment(&r.store, &g, &NoKeys, input(id))
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let r = r.clone();
        set.spawn(async move { tasks::update_inventory(&r.store, input(id)).await });
    }
    while let Some(res) = set.join_next().await {
        res.unwrap().unwrap();
    }
    let product = product_p(&r.store).await;
    assert_eq!(product.len(), 2, "ProductAdded and one StockReserved");
    r.db.close();
}

/// Two writers appending at the same version: exactly one wins, the other gets Conflict.
#[tokio::test]
async fn a_second_append_at_the_same_version_is_a_conflict() {
    let r = rig(1).await;
    let id = place(&r.store, 1).await;
    let head = r
        .store
        .read_stream(&id.stream(), 0)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let meta = EventMeta {
        correlation_id: id.into(),
        causation_id: "t".into(),
        occurred_at: Timestamp::now(),
        trace_parent: None,
    };
    let done = OrderEvent::OrderCompleted(order_domain::events::OrderCompleted {
        total: order_domain::Money::from_minor(1),
    });
    let w = || seal(&id.stream(), 1, &head.hash, [done.encode()], &meta);
    let (x, y) = tokio::join!(r.store.append(vec![w()]), r.store.append(vec![w()]));
    assert_eq!([x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(), 1);
    assert!(matches!(x.or(y), Ok(())));
    let again = r.store.append(vec![w()]).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })));
    let too_many = seal(
        &id.stream(),
        2,
        "x",
        std::iter::repeat_n(done.encode(), 101),
        &meta,
    );
    assert!(matches!(
        r.store.append(vec![too_many]).await,
        Err(StoreError::TooLarge { items: 101 })
    ));
    r.db.close();
}

/// A redelivered queue message finds the execution already started: success, no second run.
#[tokio::test]
async fn a_redelivered_start_message_starts_one_execution() {
    let r = rig(1).await;
    let dir = tempfile::tempdir().unwrap();
    let notifier = order_embedded::outbox::OutboxNotifier::new(
        dir.path(),
        &Email::parse("ops@example.com").unwrap(),
    )
    .unwrap();
    let (starter, _runner) = order_runtime::workflow::local_workflow(
        r.db.clone(),
        (r.store.clone(), notifier, NoKeys),
        0.0,
        4,
    )
    .unwrap();
    let id = OrderId::generate();
    let body = format!(r#"{{"orderId":"{id}"}}"#);
    assert_eq!(
        start_order_processing(&starter, &body).await.unwrap(),
        StartOutcome::Started
    );
    assert_eq!(
        start_order_processing(&starter, &body).await.unwrap(),
        StartOutcome::AlreadyStarted
    );
    assert!(start_order_processing(&starter, "{not json").await.is_err());
    r.db.close();
}

/// The local runner over `r`'s database, as `orders serve` makes it (the sandbox gateway, no
/// customer keys), and its starter.
fn runner(
    r: &Rig,
    outbox: &std::path::Path,
) -> (
    order_runtime::workflow::LocalWorkflow,
    order_runtime::workflow::Runner<
        SqliteEventStore,
        order_embedded::outbox::OutboxNotifier,
        NoKeys,
    >,
) {
    let notifier = order_embedded::outbox::OutboxNotifier::new(
        outbox,
        &Email::parse("ops@example.com").unwrap(),
    )
    .unwrap();
    order_runtime::workflow::local_workflow(
        r.db.clone(),
        (r.store.clone(), notifier, NoKeys),
        0.0,
        4,
    )
    .unwrap()
}

/// Runs `runner` until the execution `name` has ended; answers its status and transitions.
async fn run_to_the_end<S, N, K>(
    db: &Db,
    runner: order_runtime::workflow::Runner<S, N, K>,
    name: String,
) -> (String, i64)
where
    S: EventStore + Clone + 'static,
    N: order_domain::ports::Notifier + Clone + 'static,
    K: order_domain::ports::KeyStore + Clone + 'static,
{
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(runner.run(shutdown));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ended = loop {
        let n = name.clone();
        let row: (String, i64) = db
            .read(move |c| {
                c.query_row(
                    "SELECT status, transitions FROM executions WHERE name = ?1",
                    [n],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .await
            .unwrap();
        if row.0 != "RUNNING" {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "execution {name} still RUNNING"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let _ = stop.send(true);
    running.await.unwrap();
    ended
}

/// An execution cut off after its payment (the process died with the row as its start wrote
/// it: the first state and the input, since the states between are not saved) runs again from
/// ValidateOrder when the next runner starts. Each task answers from the log what it had done,
/// so the order is validated, charged and reserved once, and the execution ends SUCCEEDED
/// having run its four states.
#[tokio::test]
async fn an_execution_cut_off_midway_runs_again_from_its_start_and_takes_each_effect_once() {
    let r = rig(5).await;
    let outbox = tempfile::tempdir().unwrap();
    let id = place(&r.store, 2).await;
    // The first process: the execution starts, then its first two states run and it dies.
    let (starter, dead) = runner(&r, outbox.path());
    let outcome = starter
        .start_named(id.to_string(), json!({ "orderId": id }))
        .await
        .unwrap();
    assert_eq!(outcome, StartOutcome::Started);
    drop(dead);
    tasks::validate_order(&r.store, input(id)).await.unwrap();
    tasks::process_payment(&r.store, &SimulatedGateway, &NoKeys, input(id))
        .await
        .unwrap();
    // The next process resumes every RUNNING execution.
    let (_starter, next) = runner(&r, outbox.path());
    let (status, transitions) = run_to_the_end(&r.db, next, id.to_string()).await;
    assert_eq!((status.as_str(), transitions), ("SUCCEEDED", 4));
    assert_eq!(types(&r.store, id).await, COMPLETED);
    let stock = product_p(&r.store).await;
    assert_eq!(stock.len(), 2, "seeded, then reserved once: {stock:?}");
    r.db.close();
}

/// An execution's row is written when it starts and when it ends, not after each of its
/// states (a trigger counts the row's updates): the states between cost no writer job.
#[tokio::test]
async fn an_execution_writes_its_row_at_its_start_and_its_end_only() {
    let r = rig(5).await;
    let outbox = tempfile::tempdir().unwrap();
    r.db.write_direct(|c| {
        c.execute_batch(
            "CREATE TABLE execution_updates (name TEXT, status TEXT); \
                 CREATE TRIGGER count_execution_updates AFTER UPDATE ON executions \
                 BEGIN INSERT INTO execution_updates VALUES (new.name, new.status); END;",
        )
    })
    .await
    .unwrap();
    let id = place(&r.store, 2).await;
    let (starter, runner) = runner(&r, outbox.path());
    starter
        .start_named(id.to_string(), json!({ "orderId": id }))
        .await
        .unwrap();
    let (status, transitions) = run_to_the_end(&r.db, runner, id.to_string()).await;
    assert_eq!((status.as_str(), transitions), ("SUCCEEDED", 4));
    let updates: Vec<(String, String)> =
        r.db.read(|c| {
            c.prepare("SELECT name, status FROM execution_updates")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .await
        .unwrap();
    assert_eq!(updates, [(id.to_string(), "SUCCEEDED".to_owned())]);
    assert_eq!(types(&r.store, id).await.len(), 5);
    r.db.close();
}

mod alarm;
