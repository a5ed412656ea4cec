use order_read_models::{INVENTORY, ORDER_STATUS};

use order_domain::Email;
use order_embedded::db::{Db, Durability};

use super::*;

/// A corrupt product event stops the inventory projection, not the order-status one: the
/// batch is undone for the one projection that cannot apply it, and retried from its
/// checkpoint, while the other moves on.
#[tokio::test]
async fn a_corrupt_event_holds_back_only_the_projection_that_cannot_apply_it() {
    use order_domain::ports::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("p.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    db.write(|c| {
        c.execute(
            "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, \
             occurred_at, correlation_id, causation_id, payload, prev_hash, hash) \
             VALUES ('product#P1', 1, '01JX0000000000000000000000', 'ProductAdded', 1, 0, \
             'c', 'c', '{not json', '0', '0')",
            [],
        )
    })
    .await
    .unwrap();
    let order = order_domain::OrderId::generate();
    let write = placed(order);
    store.append(vec![write]).await.unwrap();

    assert!(
        catch_up(&store, &PROJECTIONS, &Arc::default())
            .await
            .is_err()
    );
    let (status, inventory) = db
        .read(|c| Ok((checkpoint(c, ORDER_STATUS)?, checkpoint(c, INVENTORY)?)))
        .await
        .unwrap();
    assert_eq!((status, inventory), (2, 0));
    let id = order.to_string();
    let view = db
        .read(move |c| order_embedded::read_models::get_order_view(c, &id))
        .await
        .unwrap();
    assert!(view.is_some(), "the order-status projection moved on");
    db.close();
}

/// The projections' job runs without a savepoint because a projection folds its batch
/// before it writes, and the fold writes nothing: it runs on a reader (a read-only
/// connection, where any write would fail), a batch the projection cannot apply (a
/// corrupt event) fails there, and the writer's job only writes what the fold moved.
#[tokio::test]
async fn a_fold_runs_on_a_reader_and_a_batch_that_cannot_apply_fails_in_it() {
    use order_domain::ports::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("f.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    store
        .append(vec![placed(order_domain::OrderId::generate())])
        .await
        .unwrap();
    let good: Vec<(i64, order_domain::RecordedEvent)> = store
        .read_feed(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| (**e).clone())
        .collect();
    let mut bad = good.clone();
    bad[0].1.payload = "{not json".into();
    let (folded, refused) = db
        .read(move |c| {
            let memory = ProjectionMemory::default();
            let folded = Projection::OrderStatus.fold_batch(c, &good, &memory)?;
            Ok((
                folded,
                Projection::OrderStatus
                    .fold_batch(c, &bad, &memory)
                    .is_err(),
            ))
        })
        .await
        .unwrap();
    assert!(refused, "a corrupt event fails in the fold");
    assert_eq!(order_views(&db).await, 0, "the fold wrote nothing");
    let changes = db
        .write_direct(move |c| {
            let before = c.total_changes();
            let _ = folded.write(c)?;
            Ok::<_, rusqlite::Error>(c.total_changes() - before)
        })
        .await
        .unwrap();
    // The view's row and the checkpoint's.
    assert_eq!(changes, 2);
    assert_eq!(order_views(&db).await, 1);
    db.close();
}

/// The next batch of a stream the projections wrote starts from the view they remember,
/// not from its row: a field changed in the row behind their back (same version) does not
/// survive their next write, and the memory holds each view as written.
#[tokio::test]
async fn the_next_batch_starts_from_the_view_the_projection_wrote() {
    let (_dir, db, store, order, memory) = one_order_projected().await;
    let id = order.to_string();
    assert_eq!(memory.order(&id).map(|v| v.version), Some(1));

    change_row_then_fail(
        &db,
        &store,
        order,
        &memory,
        "UPDATE order_status SET view = json_set(view, '$.customerId', 'x') WHERE order_id = ?1",
    )
    .await;
    let row = stored_view(&db, &id).await;
    assert_eq!((row.version, row.customer_id.as_str()), (2, "c"));
    assert_eq!(memory.order(&id), Some(row));
    db.close();
}

/// A row that moved past the remembered view (a rival writer) refuses the write made from
/// it; the memory forgets the view, so the next batch reads the row.
#[tokio::test]
async fn a_refused_write_forgets_the_remembered_view() {
    let (_dir, db, store, order, memory) = one_order_projected().await;
    let id = order.to_string();

    change_row_then_fail(&db, &store, order, &memory, "UPDATE order_status SET version = 2, view = json_set(view, '$.version', 2, '$.customerId', 'rival') WHERE order_id = ?1").await;
    assert_eq!(memory.order(&id), None, "forgotten after the refused write");
    assert_eq!(stored_view(&db, &id).await.customer_id, "rival");
    db.close();
}

/// A new database with one order placed and projected with a fresh memory.
async fn one_order_projected() -> (
    tempfile::TempDir,
    Db,
    SqliteEventStore,
    order_domain::OrderId,
    Arc<ProjectionMemory>,
) {
    use order_domain::ports::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("m.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let order = order_domain::OrderId::generate();
    store.append(vec![placed(order)]).await.unwrap();
    let memory = Arc::new(ProjectionMemory::default());
    assert_eq!(catch_up(&store, &PROJECTIONS, &memory).await.unwrap(), 1);
    (dir, db, store, order, memory)
}

/// Changes the order's view row behind the projection's back (`sql`, the order id as
/// `?1`), then appends the order's `OrderFailed` and projects it with `memory`.
async fn change_row_then_fail(
    db: &Db,
    store: &SqliteEventStore,
    order: order_domain::OrderId,
    memory: &Arc<ProjectionMemory>,
    sql: &'static str,
) {
    use order_domain::ports::EventStore;
    let id = order.to_string();
    let changed = db.write(move |c| c.execute(sql, [id])).await.unwrap();
    assert_eq!(changed, 1);
    store
        .append(vec![failed(store, order).await])
        .await
        .unwrap();
    assert_eq!(catch_up(store, &PROJECTIONS, memory).await.unwrap(), 2);
}

async fn stored_view(db: &Db, id: &str) -> order_read_models::OrderView {
    let id = id.to_owned();
    db.read(move |c| order_embedded::read_models::get_order_view(c, &id))
        .await
        .unwrap()
        .unwrap()
}

/// The order's `OrderFailed` after its stored history, as the stream write that appends it.
async fn failed(
    store: &SqliteEventStore,
    order: order_domain::OrderId,
) -> order_domain::StreamWrite {
    use order_domain::ports::EventStore;
    let history = store.read_stream(&order.stream(), 0).await.unwrap();
    let head = history.last().unwrap();
    let events = order_domain::order::Order::from_history(&history)
        .unwrap()
        .decide(&order_domain::order::OrderCommand::Fail {
            error: "PAYMENT_DECLINED".into(),
            refund: None,
        })
        .unwrap();
    order_app::stream::seal(
        &order.stream(),
        head.version,
        head.hash.clone(),
        events.iter().map(order_domain::OrderEvent::encode),
        &meta(),
    )
}

/// A new order's `OrderPlaced`, as the stream write that appends it.
fn placed(order: order_domain::OrderId) -> order_domain::StreamWrite {
    let placed = order_domain::order::Order::default().place(order_domain::events::OrderPlaced {
        order_id: order,
        customer_id: order_domain::CustomerId::parse("c").unwrap(),
        items: vec![order_domain::events::OrderLine {
            product_id: order_domain::ProductId::parse("P1").unwrap(),
            quantity: order_domain::Quantity::new(1).unwrap(),
        }],
        personal: order_domain::personal::Personal::Clear(order_domain::personal::PersonalData {
            email: Email::parse("a@example.com").unwrap(),
            payment_token: order_domain::PaymentToken::parse("tok_visa").unwrap(),
        }),
    });
    order_app::stream::seal(
        &order.stream(),
        0,
        order_domain::GENESIS_HASH,
        placed.events.iter().map(order_domain::OrderEvent::encode),
        &meta(),
    )
}

fn meta() -> order_domain::EventMeta {
    order_domain::EventMeta {
        correlation_id: "c".into(),
        causation_id: "c".into(),
        occurred_at: order_domain::Timestamp::from_millis(1),
        trace_parent: None,
    }
}

async fn place(store: &SqliteEventStore, orders: usize) {
    use order_domain::ports::EventStore;
    let mut left = orders;
    while left > 0 {
        let n = left.min(order_domain::append::MAX_APPEND_ITEMS);
        let writes = (0..n)
            .map(|_| placed(order_domain::OrderId::generate()))
            .collect();
        store.append(writes).await.unwrap();
        left -= n;
    }
}

async fn order_views(db: &Db) -> i64 {
    db.read(|c| c.query_row("SELECT COUNT(*) FROM order_status", [], |r| r.get(0)))
        .await
        .unwrap()
}

/// The projections see every event once, in order, whether a batch comes from the
/// committed-events ring or the database: from far behind the ring (more events than it
/// holds), then after a restart (an empty ring), then from the ring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projections_catch_up_from_far_behind_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let db = Db::open(&path, Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    place(&store, 17_000).await;
    assert_eq!(
        catch_up(&store, &PROJECTIONS, &Arc::default())
            .await
            .unwrap(),
        17_000
    );
    assert_eq!(order_views(&db).await, 17_000);
    // Stops behind the log: after the restart the ring starts at the head, past it.
    place(&store, 10).await;
    db.close();

    let db = Db::open(&path, Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    place(&store, 20).await;
    assert!(
        db.feed().read_after(17_000, 100).is_none(),
        "the ring began after a restart"
    );
    assert_eq!(
        catch_up(&store, &PROJECTIONS, &Arc::default())
            .await
            .unwrap(),
        17_030
    );
    place(&store, 5).await;
    assert_eq!(db.feed().read_after(17_030, 100).map(|b| b.len()), Some(5));
    assert_eq!(
        catch_up(&store, &PROJECTIONS, &Arc::default())
            .await
            .unwrap(),
        17_035
    );
    assert_eq!(order_views(&db).await, 17_035);
    let status = db.read(|c| checkpoint(c, ORDER_STATUS)).await.unwrap();
    assert_eq!(status, 17_035);
    db.close();
}
