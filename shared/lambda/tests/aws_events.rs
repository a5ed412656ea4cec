//! The API Gateway proxy request and the DynamoDB Streams batch, as AWS delivers them, through
//! the order-placement router and the event projector's forwarding part.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use order_api::Backend;
use order_api::auth::Authenticator;
use order_app::seed::{SeedProduct, seed_inventory};
use order_aws::projector::decode_lambda_record;
use order_domain::ports::{BusEvent, EventBus, EventStore, PortError};
use order_embedded::db::{Db, Durability};
use order_embedded::idempotency::SqliteIdempotency;
use order_embedded::keys::SqliteKeys;
use order_embedded::queue::SqliteQueue;
use order_embedded::read_models::{Projection, SqliteReadModels};
use order_embedded::store::SqliteEventStore;
use order_lambda::forward::forward;
use order_lambda::wiring::{strip_stage, with_gateway_claims};
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

/// The embedded adapters over a fresh database seeded with MUG, projected.
async fn embedded(dir: &std::path::Path) -> (Db, Arc<Embedded>) {
    let db = Db::open(&dir.join("t.db"), Durability::Normal).unwrap();
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
        store,
        queue: SqliteQueue::orders(db.clone()),
        idempotency: SqliteIdempotency::new(db.clone()),
        reads: SqliteReadModels::new(db.clone()),
        keys: SqliteKeys::open(db.clone(), dir).unwrap(),
    });
    (db, backend)
}

/// The POST fixture, edited by `edit` (its JSON), through the Lambda host's request mapping
/// and the router as the order-placement function serves them: status and JSON body.
async fn invoke(backend: &Arc<Embedded>, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    let mut event: Value = serde_json::from_str(&fixture(
        "services/order-placement/fixtures/apigw-post-orders.json",
    ))
    .unwrap();
    edit(&mut event);
    let request = with_gateway_claims(strip_stage(
        lambda_http::request::from_str(&event.to_string()).unwrap(),
    ));
    let response = order_api::router(backend.clone(), Arc::new(Authenticator::Gateway))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A GET of `path` by the caller of `claims`, as API Gateway would deliver it.
fn get_as(path: &str, claims: Value) -> impl FnOnce(&mut Value) {
    let path = path.to_owned();
    move |e: &mut Value| {
        e["httpMethod"] = json!("GET");
        e["requestContext"]["httpMethod"] = json!("GET");
        e["path"] = json!(format!("/prod{path}"));
        e["requestContext"]["path"] = json!(format!("/prod{path}"));
        e["body"] = Value::Null;
        e["requestContext"]["authorizer"]["claims"] = claims;
    }
}

/// API Gateway's REST proxy event for POST /prod/orders reaches the router as POST /orders,
/// is accepted with 202 for the authorizer's customer, honours its Idempotency-Key, and
/// places one order.
#[tokio::test]
async fn an_api_gateway_proxy_request_places_an_order_through_the_shared_router() {
    let dir = tempfile::tempdir().unwrap();
    let (db, backend) = embedded(dir.path()).await;
    let text = fixture("services/order-placement/fixtures/apigw-post-orders.json");
    assert_eq!(
        strip_stage(lambda_http::request::from_str(&text).unwrap())
            .uri()
            .path(),
        "/orders"
    );
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, v) = invoke(&backend, |_| {}).await;
        assert_eq!(status, 202, "{v}");
        ids.push(v["orderId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        ids[0], ids[1],
        "the fixture's Idempotency-Key makes the retry the same order"
    );
    let id = order_domain::OrderId::parse(&ids[0]).unwrap();
    assert_eq!(
        backend
            .store
            .read_stream(&id.stream(), 0)
            .await
            .unwrap()
            .len(),
        1
    );
    db.close();
}

/// Without the authorizer's claims (a header a caller wrote does not count), or with claims
/// naming another customer than the body, nothing is placed; the order and its history are
/// the owner's and an admin's (`cognito:groups` as API Gateway flattens it), 404 for others.
#[tokio::test]
async fn the_authorizer_s_claims_are_the_only_identity_and_orders_are_the_owner_s() {
    let dir = tempfile::tempdir().unwrap();
    let (db, backend) = embedded(dir.path()).await;
    let before = backend.store.read_after(0, 1000).await.unwrap().len();
    let (status, v) = invoke(&backend, |e| {
        e["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("authorizer");
        e["headers"]["Authorization"] = json!("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJjLTEifQ.");
    })
    .await;
    assert_eq!(status, 401, "{v}");
    assert_eq!(v["error"]["code"], "UNAUTHORIZED");
    let (status, v) = invoke(&backend, |e| {
        e["requestContext"]["authorizer"]["claims"]["sub"] = json!("c-2");
    })
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{v}"
    );
    assert_eq!(
        backend.store.read_after(0, 1000).await.unwrap().len(),
        before,
        "nothing appended"
    );

    let (status, placed) = invoke(&backend, |_| {}).await;
    assert_eq!(status, 202, "{placed}");
    let id = placed["orderId"].as_str().unwrap();
    for path in [format!("/orders/{id}"), format!("/orders/{id}/events")] {
        let owner = json!({ "sub": "c-1" });
        let stranger = json!({ "sub": "c-2", "cognito:groups": "[readers]" });
        let admin = json!({ "sub": "ops-1", "cognito:groups": "[readers admin]" });
        assert_eq!(
            invoke(&backend, get_as(&path, owner)).await.0,
            200,
            "{path}"
        );
        let (status, v) = invoke(&backend, get_as(&path, stranger)).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{path}"
        );
        assert_eq!(
            invoke(&backend, get_as(&path, admin)).await.0,
            200,
            "{path}"
        );
    }
    db.close();
}

/// A POST of `body` (none when `None`) to `path` by the caller of `claims`, with the
/// Idempotency-Key `key` (none when `None`), as API Gateway would deliver it.
fn post_as(
    path: &str,
    claims: Value,
    body: Option<Value>,
    key: Option<&str>,
) -> impl FnOnce(&mut Value) {
    let path = path.to_owned();
    let key = key.map(str::to_owned);
    move |e: &mut Value| {
        e["path"] = json!(format!("/prod{path}"));
        e["requestContext"]["path"] = json!(format!("/prod{path}"));
        e["body"] = body.map_or(Value::Null, |b| json!(b.to_string()));
        e["requestContext"]["authorizer"]["claims"] = claims;
        for (map, value) in [
            ("headers", key.clone().map(Value::from)),
            ("multiValueHeaders", key.map(|k| json!([k]))),
        ] {
            let headers = e[map].as_object_mut().unwrap();
            match value {
                Some(v) => headers.insert("Idempotency-Key".into(), v),
                None => headers.remove("Idempotency-Key"),
            };
        }
    }
}

/// After placement, the Lambda host serves the same routes as the local server: the owner
/// cancels with no body at all (API Gateway's `null`), an operator's shipment of an order not
/// completed is 409, a customer's shipment is 403, a stranger's cancellation 404, and a refund
/// without its Idempotency-Key is 400 naming it.
#[tokio::test]
async fn after_placement_the_lambda_host_serves_cancel_shipment_and_refunds() {
    let dir = tempfile::tempdir().unwrap();
    let (db, backend) = embedded(dir.path()).await;
    let (status, placed) = invoke(&backend, |_| {}).await;
    assert_eq!(status, 202, "{placed}");
    let id = placed["orderId"].as_str().unwrap();
    let owner = json!({ "sub": "c-1" });
    let stranger = json!({ "sub": "c-2" });
    let admin = json!({ "sub": "ops-1", "cognito:groups": "admin" });
    let cancel = format!("/orders/{id}/cancel");
    let shipment = format!("/orders/{id}/shipment");
    let refunds = format!("/orders/{id}/refunds");
    let ship = json!({ "carrier": "UPS", "trackingId": "1Z999" });
    let refund = json!({ "items": [{ "productId": "MUG", "quantity": 1 }], "restock": true });

    let (status, v) = invoke(&backend, post_as(&cancel, stranger, None, None)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{v}"
    );
    let (status, v) = invoke(
        &backend,
        post_as(&shipment, owner.clone(), Some(ship.clone()), None),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{v}"
    );
    let (status, v) = invoke(
        &backend,
        post_as(&refunds, admin.clone(), Some(refund), None),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("Idempotency-Key")),
        "{v}"
    );
    let (status, v) = invoke(&backend, post_as(&shipment, admin, Some(ship), None)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("ORDER_NOT_COMPLETED")),
        "{v}"
    );
    let (status, v) = invoke(&backend, post_as(&cancel, owner, None, None)).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (202, Some("CANCELLING")),
        "{v}"
    );
    let order = order_domain::OrderId::parse(id).unwrap();
    let types: Vec<String> = backend
        .store
        .read_stream(&order.stream(), 0)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event_type.into())
        .collect();
    assert_eq!(types, ["OrderPlaced", "CancellationRequested"]);
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

/// A Streams batch (INSERT OrderPlaced, INSERT OrderCompleted, MODIFY) puts the two order
/// events on the bus, each identified by the log's event id, with no personal data (the
/// OrderPlaced of this old log holds the email and the token in clear).
#[tokio::test]
async fn a_streams_batch_forwards_its_order_events_with_their_log_ids() {
    let event: StreamEvent = serde_json::from_str(&fixture(
        "projections/event-projector/fixtures/stream-batch.json",
    ))
    .unwrap();
    let items: Vec<_> = event
        .records
        .iter()
        .filter_map(decode_lambda_record)
        .collect();
    assert_eq!(
        items.len(),
        2,
        "the MODIFY is not an event of the append-only log"
    );
    let bus = CapturedBus::default();
    // Neither event needs the log: OrderPlaced names its customer, OrderCompleted needs none.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    assert_eq!(
        forward(&bus, &store, &items).await,
        None,
        "nothing to retry"
    );
    let put = bus.0.lock().unwrap().clone();
    let types: Vec<&str> = put.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(types, ["OrderPlaced", "OrderCompleted"]);
    assert_eq!(put[0].id, "01JDQ5Z8N0AAAAAAAAAAAAAAAA");
    assert_eq!(put[0].detail["customerId"], "c-1");
    assert_eq!(put[1].id, "01JDQ5Z9AAAAAAAAAAAAAAAAAA");
    for e in &put {
        assert_eq!(e.detail["orderId"], "01JDQ5Z8M7X3K9V2N4B6C8D0EF");
        assert_eq!(e.detail["eventId"], e.id.as_str());
        let detail = e.detail.to_string();
        assert!(
            !detail.contains("jane@") && !detail.contains("tok_visa"),
            "no personal data on the bus: {detail}"
        );
    }
    db.close();
}
