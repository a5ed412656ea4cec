//! The API Gateway proxy request and the DynamoDB Streams batch, as AWS delivers them, through
//! the order-placement router and the terminal-event forwarder.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use order_api::Backend;
use order_app::seed::{SeedProduct, seed_inventory};
use order_domain::ports::{BusEvent, EventBus, EventStore, PortError};
use order_embedded::db::{Db, Durability};
use order_embedded::idempotency::SqliteIdempotency;
use order_embedded::keys::SqliteKeys;
use order_embedded::queue::SqliteQueue;
use order_embedded::read_models::{Projection, SqliteReadModels};
use order_embedded::store::SqliteEventStore;
use order_lambda::forward::forward;
use order_lambda::wiring::{stream_items, strip_stage};
use serde_json::{Value, json};
use tower::ServiceExt;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

struct Embedded {
    store: SqliteEventStore,
    queue: SqliteQueue,
    idempotency: SqliteIdempotency,
    reads: SqliteReadModels,
    keys: SqliteKeys,
}

impl Backend for Embedded {
    type Store = SqliteEventStore;
    type Queue = SqliteQueue;
    type Idempotency = SqliteIdempotency;
    type Reads = SqliteReadModels;
    type Keys = SqliteKeys;
    fn store(&self) -> &SqliteEventStore {
        &self.store
    }
    fn queue(&self) -> &SqliteQueue {
        &self.queue
    }
    fn idempotency(&self) -> &SqliteIdempotency {
        &self.idempotency
    }
    fn reads(&self) -> &SqliteReadModels {
        &self.reads
    }
    fn keys(&self) -> &SqliteKeys {
        &self.keys
    }
}

/// API Gateway's REST proxy event for POST /prod/orders reaches the router as POST /orders,
/// is accepted with 202, honours its Idempotency-Key, and places one order.
#[tokio::test]
async fn an_api_gateway_proxy_request_places_an_order_through_the_shared_router() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let mug: SeedProduct = serde_json::from_value(
        json!({ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }),
    )
    .unwrap();
    seed_inventory(&store, &[mug]).await.unwrap();
    let batch = store.read_after(0, 100).await.unwrap();
    db.write(move |c| Projection::Inventory.apply_batch(c, &batch))
        .await
        .unwrap();
    let backend = Arc::new(Embedded {
        store: store.clone(),
        queue: SqliteQueue::orders(db.clone()),
        idempotency: SqliteIdempotency::new(db.clone()),
        reads: SqliteReadModels::new(db.clone()),
        keys: SqliteKeys::open(db.clone(), dir.path()).unwrap(),
    });
    let text = fixture("services/order-placement/fixtures/apigw-post-orders.json");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let request = strip_stage(lambda_http::request::from_str(&text).unwrap());
        assert_eq!(request.uri().path(), "/orders");
        let response = order_api::router(backend.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        ids.push(v["orderId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        ids[0], ids[1],
        "the fixture's Idempotency-Key makes the retry the same order"
    );
    let id = order_domain::OrderId::parse(&ids[0]).unwrap();
    assert_eq!(store.read_stream(&id.stream(), 0).await.unwrap().len(), 1);
    db.close();
}

#[derive(Default, Clone)]
struct CapturedBus(Arc<Mutex<Vec<BusEvent>>>);

impl EventBus for CapturedBus {
    async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
        self.0.lock().unwrap().extend(events);
        Ok(())
    }
}

/// A Streams batch (INSERT OrderPlaced, INSERT OrderCompleted, MODIFY) puts exactly one bus
/// event, OrderCompleted, identified by the log's event id, with no personal data.
#[tokio::test]
async fn a_streams_batch_forwards_only_terminal_events_with_their_log_ids() {
    let event: StreamEvent = serde_json::from_str(&fixture(
        "projections/terminal-event-forwarder/fixtures/stream-batch.json",
    ))
    .unwrap();
    let items = stream_items(&event);
    assert_eq!(
        items.len(),
        2,
        "the MODIFY is not an event of the append-only log"
    );
    let bus = CapturedBus::default();
    let response = forward(&bus, items).await;
    assert!(response.batch_item_failures.is_empty());
    let put = bus.0.lock().unwrap().clone();
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].detail_type, "OrderCompleted");
    assert_eq!(put[0].id, "01JDQ5Z9AAAAAAAAAAAAAAAAAA");
    assert_eq!(put[0].detail["orderId"], "01JDQ5Z8M7X3K9V2N4B6C8D0EF");
    assert!(
        !put[0].detail.to_string().contains("jane@"),
        "no personal data on the bus"
    );
}
