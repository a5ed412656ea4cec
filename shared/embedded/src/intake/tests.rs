//! The intake's one commit, its retries and a new customer's key, on SQLite.

use order_app::ReadModels;
use order_app::place::{IdempotencyKey, PlaceOrder, place_order};
use order_app::seed::{SeedProduct, seed_inventory};
use order_domain::events::OrderLine;
use order_domain::ports::EventStore;
use order_domain::{CustomerId, Email, PaymentToken, ProductId, Quantity};

use super::*;
use crate::db::{Db, Durability};
use crate::idempotency::SqliteIdempotency;
use crate::read_models::{Projection, SqliteReadModels};
use order_domain::personal::{Opened, Personal};
use order_domain::ports::{DataKey, KeyStore, PolledQueue, SealingKey};
use std::sync::{Arc, Mutex};

async fn setup(dir: &std::path::Path) -> (Db, SqliteIntake, SqliteReadModels) {
    let db = Db::open(&dir.join("i.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let seed: Vec<SeedProduct> =
        serde_json::from_str(r#"[{"productId":"SKU-1","name":"Mug","price":1200,"stock":5}]"#)
            .unwrap();
    seed_inventory(&store, &seed).await.unwrap();
    let batch = store.read_after(0, 100).await.unwrap();
    db.write(move |c| Projection::Inventory.apply_batch(c, &batch))
        .await
        .unwrap();
    let intake = SqliteIntake {
        store,
        queue: SqliteQueue::orders(db.clone()),
    };
    (db.clone(), intake, SqliteReadModels::new(db))
}

fn request() -> PlaceOrder {
    PlaceOrder {
        customer_id: CustomerId::parse("cust-1").unwrap(),
        email: Email::parse("jane@example.com").unwrap(),
        items: vec![OrderLine {
            product_id: ProductId::parse("SKU-1").unwrap(),
            quantity: Quantity::new(1).unwrap(),
        }],
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    }
}

/// The POST's two writes land together, and a retry of the same write (an earlier attempt
/// with the same key that appended but lost its answer) neither appends a second
/// OrderPlaced nor fails: it enqueues again, which the consumer treats as a duplicate.
#[tokio::test]
async fn a_placed_order_is_appended_and_enqueued_in_one_commit_and_a_retry_enqueues_again() {
    let dir = tempfile::tempdir().unwrap();
    let (db, intake, reads) = setup(dir.path()).await;
    let idempotency = SqliteIdempotency::new(db.clone());
    let keys = crate::keys::SqliteKeys::open(db.clone(), dir.path()).unwrap();
    let placed = place_order(
        &intake,
        &idempotency,
        &reads,
        &keys,
        request(),
        Some(IdempotencyKey::new("k1")),
        "r1",
    )
    .await
    .unwrap();
    let stream_id = placed.order_id.stream();
    let stream = intake.store.read_stream(&stream_id, 0).await.unwrap();
    assert_eq!(stream.len(), 1);
    assert_eq!(PolledQueue::depth(&intake.queue).await.unwrap().0, 1);

    let again = StreamWrite {
        stream_id,
        expected_version: 0,
        events: stream,
    };
    assert_eq!(
        intake.record(again, placed.order_id, None).await.unwrap(),
        Recorded::AlreadyInLog
    );
    let placed_events = db
        .read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM events WHERE event_type = 'OrderPlaced'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(placed_events, 1);
    assert_eq!(PolledQueue::depth(&intake.queue).await.unwrap().0, 2);
    db.close();
}

/// An idempotency store whose "done" mark fails, as a DynamoDB UpdateItem can after the
/// order's writes went through.
#[derive(Clone)]
struct CompleteFails(SqliteIdempotency);

impl order_domain::ports::IdempotencyStore for CompleteFails {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        candidate: order_domain::OrderId,
        now: order_domain::Timestamp,
        lease_ms: u64,
    ) -> Result<order_domain::ports::Claim, PortError> {
        self.0
            .claim(key, fingerprint, candidate, now, lease_ms)
            .await
    }
    async fn complete(
        &self,
        _: &str,
        _: order_domain::OrderId,
        _: order_domain::Timestamp,
        _: u64,
    ) -> Result<(), PortError> {
        Err(PortError("the table is throttled".into()))
    }
    async fn release(&self, key: &str, claimant: order_domain::OrderId) -> Result<(), PortError> {
        self.0.release(key, claimant).await
    }
}

/// The order is recorded, so the answer is 202 even though its key could not be marked
/// done: a 503 would send the client to retry into the key's lease. The key stays held
/// until the lease ends; the retry after it takes the key over and gets the same order.
#[tokio::test]
async fn a_recorded_order_is_answered_even_if_its_key_cannot_be_marked_done() {
    let dir = tempfile::tempdir().unwrap();
    let (db, intake, reads) = setup(dir.path()).await;
    let sqlite = SqliteIdempotency::new(db.clone());
    let idempotency = CompleteFails(sqlite.clone());
    let keys = crate::keys::SqliteKeys::open(db.clone(), dir.path()).unwrap();
    let key = Some(IdempotencyKey::new("k1"));
    let placed = place_order(&intake, &idempotency, &reads, &keys, request(), key, "r1")
        .await
        .unwrap();
    assert!(!placed.replayed);
    assert_eq!(PolledQueue::depth(&intake.queue).await.unwrap().0, 1);

    let during = place_order(&intake, &idempotency, &reads, &keys, request(), key, "r1").await;
    assert!(
        matches!(during, Err(PlaceError::KeyInProgress { .. })),
        "{during:?}"
    );
    sqlite.release_claims_of_a_previous_process().await.unwrap();
    let after = place_order(&intake, &sqlite, &reads, &keys, request(), key, "r1")
        .await
        .unwrap();
    assert_eq!(after.order_id, placed.order_id);
    assert!(
        after.replayed,
        "the attempt that took the key over found the order in the log: it answers as a \
         replay, so the order is counted, and kept open in the backlog, once"
    );
    let again = place_order(&intake, &sqlite, &reads, &keys, request(), key, "r1")
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.order_id, placed.order_id);
    let stream = intake
        .store
        .read_stream(&placed.order_id.stream(), 0)
        .await
        .unwrap();
    assert_eq!(stream.len(), 1, "one OrderPlaced");
    db.close();
}

/// A product that is not in the inventory view is refused before anything is written.
#[tokio::test]
async fn an_unknown_product_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, intake, reads) = setup(dir.path()).await;
    let idempotency = SqliteIdempotency::new(db.clone());
    let keys = crate::keys::SqliteKeys::open(db.clone(), dir.path()).unwrap();
    let mut bad = request();
    bad.items[0].product_id = ProductId::parse("SKU-404").unwrap();
    let e = place_order(&intake, &idempotency, &reads, &keys, bad, None, "r2").await;
    assert!(matches!(
        e,
        Err(PlaceError::UnknownProduct { index: 0, .. })
    ));
    assert!(
        reads
            .product_exists(&ProductId::parse("SKU-1").unwrap())
            .await
            .unwrap()
    );
    assert_eq!(PolledQueue::depth(&intake.queue).await.unwrap().0, 0);
    db.close();
}

/// The stored key ids, and the key id each OrderPlaced is sealed under.
async fn key_ids(db: &Db) -> (Vec<String>, Vec<String>) {
    db.read(|c| {
        let stored = c
            .prepare("SELECT key_id FROM customer_keys")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let sealed = c
            .prepare("SELECT payload FROM events WHERE event_type = 'OrderPlaced'")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, rusqlite::Error>((stored, sealed))
    })
    .await
    .map(|(stored, sealed)| {
        let sealed = sealed
            .iter()
            .map(|p| {
                let v: serde_json::Value = serde_json::from_str(p).unwrap();
                v["personal"]["keyId"].as_str().unwrap().to_owned()
            })
            .collect();
        (stored, sealed)
    })
    .unwrap()
}

/// A new customer's key is stored by the job that appends their first order (one commit
/// instead of two), and it is the key the order is sealed under.
#[tokio::test]
async fn a_new_customers_key_is_stored_with_their_first_order() {
    let dir = tempfile::tempdir().unwrap();
    let (db, intake, reads) = setup(dir.path()).await;
    let idempotency = SqliteIdempotency::new(db.clone());
    let keys = crate::keys::SqliteKeys::open(db.clone(), dir.path()).unwrap();
    let placed = place_order(&intake, &idempotency, &reads, &keys, request(), None, "r")
        .await
        .unwrap();
    let (stored, sealed) = key_ids(&db).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(sealed, stored);
    let stream = intake
        .store
        .read_stream(&placed.order_id.stream(), 0)
        .await
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&stream[0].payload).unwrap();
    let personal: Personal = serde_json::from_value(payload["personal"].clone()).unwrap();
    let customer = request().customer_id;
    let opened = order_app::vault::open(&keys, &customer, placed.order_id, &personal)
        .await
        .unwrap();
    assert!(
        matches!(opened, Opened::Data(_)),
        "the order opens under the stored key"
    );
    db.close();
}

/// The key the intake stored with a new customer's first order is cached by the host's
/// `CachedKeys`: the order's payment and the customer's next order do not read it back.
#[tokio::test]
async fn the_key_stored_with_a_first_order_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (db, intake, reads) = setup(dir.path()).await;
    let idempotency = SqliteIdempotency::new(db.clone());
    let keys = order_app::vault::CachedKeys::new(
        crate::keys::SqliteKeys::open(db.clone(), dir.path()).unwrap(),
        std::time::Duration::from_mins(10),
    );
    place_order(&intake, &idempotency, &reads, &keys, request(), None, "r")
        .await
        .unwrap();
    let (stored, _) = key_ids(&db).await;
    // Gone from the table behind the cache's back (not a forget): only a cached key is
    // still found.
    db.write(|c| c.execute("DELETE FROM customer_keys", []))
        .await
        .unwrap();
    let customer = request().customer_id;
    let found = keys.find_key(&customer, &stored[0]).await.unwrap();
    assert_eq!(found.map(|k| k.id), Some(stored[0].clone()));
    db.close();
}

/// A key store that hands out one stale new key: as if a concurrent first order of the
/// same customer stored its key between our `sealing_key` and our commit.
#[derive(Clone)]
struct StaleOnce {
    inner: crate::keys::SqliteKeys,
    stale: Arc<Mutex<Option<NewKey>>>,
}

impl KeyStore for StaleOnce {
    async fn current_key(&self, c: &CustomerId) -> Result<DataKey, PortError> {
        self.inner.current_key(c).await
    }
    async fn sealing_key(&self, c: &CustomerId) -> Result<SealingKey, PortError> {
        let stale = self.stale.lock().unwrap().take();
        match stale {
            Some(new) => Ok(SealingKey::New(new)),
            None => self.inner.sealing_key(c).await,
        }
    }
    async fn save_key(&self, new: NewKey) -> Result<DataKey, PortError> {
        self.inner.save_key(new).await
    }
    async fn find_key(&self, c: &CustomerId, id: &str) -> Result<Option<DataKey>, PortError> {
        self.inner.find_key(c, id).await
    }
    async fn forget(&self, c: &CustomerId) -> Result<u32, PortError> {
        self.inner.forget(c).await
    }
}

/// Two first orders of one customer race: the one whose key lost writes nothing and is
/// placed again under the stored key. A request with an Idempotency-Key stores its key
/// before claiming, so its retry (fingerprinted under the same key) replays.
#[tokio::test]
async fn a_first_order_whose_new_key_lost_the_race_is_placed_again_under_the_winner() {
    let dir = tempfile::tempdir().unwrap();
    let (db, intake, reads) = setup(dir.path()).await;
    let idempotency = SqliteIdempotency::new(db.clone());
    let inner = crate::keys::SqliteKeys::open(db.clone(), dir.path()).unwrap();
    let customer = request().customer_id;
    let SealingKey::New(loser) = inner.sealing_key(&customer).await.unwrap() else {
        panic!("a new customer has no stored key");
    };
    let winner = inner.current_key(&customer).await.unwrap();
    assert_ne!(winner.id, loser.key.id);

    let write = StreamWrite {
        stream_id: order_domain::OrderId::generate().stream(),
        expected_version: 0,
        events: Vec::new(),
    };
    let refused = intake
        .record(write, order_domain::OrderId::generate(), Some(&loser))
        .await;
    assert!(matches!(refused, Err(PlaceError::KeyTaken)), "{refused:?}");
    assert_eq!(PolledQueue::depth(&intake.queue).await.unwrap().0, 0);

    let keys = StaleOnce {
        inner,
        stale: Arc::new(Mutex::new(Some(loser))),
    };
    place_order(&intake, &idempotency, &reads, &keys, request(), None, "r")
        .await
        .unwrap();
    let (stored, sealed) = key_ids(&db).await;
    assert_eq!(stored, vec![winner.id.clone()]);
    assert_eq!(sealed, vec![winner.id.clone()]);

    keys.forget(&customer).await.unwrap();
    let key = Some(IdempotencyKey::new("first"));
    let placed = place_order(&intake, &idempotency, &reads, &keys, request(), key, "r2")
        .await
        .unwrap();
    let again = place_order(&intake, &idempotency, &reads, &keys, request(), key, "r2")
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.order_id, placed.order_id);
    db.close();
}

/// Concurrent first orders of one new customer: every one is placed, under one key.
#[tokio::test]
async fn concurrent_first_orders_of_a_new_customer_share_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let (db, intake, reads) = setup(dir.path()).await;
    let idempotency = SqliteIdempotency::new(db.clone());
    let keys = crate::keys::SqliteKeys::open(db.clone(), dir.path()).unwrap();
    let mut places = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (intake, idempotency) = (intake.clone(), idempotency.clone());
        let (reads, keys) = (reads.clone(), keys.clone());
        places.spawn(async move {
            let rid = format!("r{i}");
            place_order(
                &intake,
                &idempotency,
                &reads,
                &keys,
                request(),
                None,
                rid.as_str(),
            )
            .await
        });
    }
    while let Some(placed) = places.join_next().await {
        placed.unwrap().unwrap();
    }
    let (stored, sealed) = key_ids(&db).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(sealed.len(), 8);
    assert!(sealed.iter().all(|k| *k == stored[0]));
    db.close();
}
