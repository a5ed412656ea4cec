//! POST /orders' two writes in one commit: the order's first event and its OrdersQueue message.
//!
//! On AWS these are a DynamoDB put and an SQS send, one after the other, and a crash between
//! them leaves the order PLACED for the sweeper. Here the log and the queue are tables of one
//! database, so one writer job makes both: the POST waits for one commit instead of two, and
//! the gap does not exist.

use order_app::place::{Intake, PlaceError};
use order_domain::ports::{PortError, StoreError};
use order_domain::{OrderId, StreamWrite};

use crate::db::WriteError;
use crate::queue::{SqliteQueue, insert_message, order_message};
use crate::store::{SqliteEventStore, append_on};

/// The embedded [`Intake`].
#[derive(Clone)]
pub struct SqliteIntake {
    pub store: SqliteEventStore,
    pub queue: SqliteQueue,
}

impl Intake for SqliteIntake {
    async fn record(&self, write: StreamWrite, order_id: OrderId) -> Result<(), PlaceError> {
        let (queue, cache) = (self.queue.name(), self.store.cache().clone());
        let writes = vec![write];
        let job = move |c: &rusqlite::Connection| {
            let position = match append_on(c, &writes) {
                Ok(p) => {
                    cache.appended(&writes);
                    p
                }
                // An earlier attempt with the same key appended it: enqueue again.
                Err(StoreError::Conflict { .. }) => 0,
                Err(e) => return Err(PlaceError::Store(e)),
            };
            insert_message(c, queue, &order_message(order_id))
                .map_err(|e| PlaceError::Port(PortError(format!("enqueue: {e}"))))?;
            Ok(position)
        };
        match self.store.db().write(job).await {
            Ok(position) => {
                self.store.committed(position);
                self.queue.sent();
                Ok(())
            }
            Err(WriteError::Job(e)) => Err(e),
            Err(WriteError::Db(e)) => {
                Err(PlaceError::Store(StoreError::Unavailable(e.to_string())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
    use order_domain::ports::PolledQueue;

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
        intake.record(again, placed.order_id).await.unwrap();
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
}
