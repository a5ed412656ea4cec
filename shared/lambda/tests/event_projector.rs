//! The event projector, the events stream's one reader, on the emulator: one batch keeps both
//! views and forwards the order events; a part that fails makes the batch report the
//! earliest record any part failed on, and the redelivery from there is harmless to every part.

use std::sync::{Arc, Mutex};

use order_app::seed::seed_inventory;
use order_aws::{ChangeRecord, DynamoReadModels, InventoryTable, Projector, Target};
use order_domain::ports::{BusEvent, EventBus, EventStore, PortError};
use order_domain::{OrderId, RecordedEvent};
use order_lambda::project::EventProjector;
use order_read_models::View as _;
use order_testkit::emulator_or_skip;
use order_testkit::events::{place, seed_product};
use order_testkit::support::Emulator;
use order_testkit::tasks::drive;

/// A bus that records what it is given, or refuses while `down`.
#[derive(Clone, Default)]
struct Bus {
    down: Arc<Mutex<bool>>,
    put: Arc<Mutex<Vec<BusEvent>>>,
}

impl EventBus for Bus {
    async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
        if *self.down.lock().unwrap() {
            return Err(PortError("ThrottlingException".into()));
        }
        self.put.lock().unwrap().extend(events);
        Ok(())
    }
}

fn views(env: &Emulator) -> DynamoReadModels {
    DynamoReadModels::new(
        env.clients.dynamodb(),
        &env.resources.order_status_table,
        &env.resources.inventory_table,
    )
}

fn projector(env: &Emulator, inventory: InventoryTable, bus: Bus) -> EventProjector<Bus> {
    let store = env.store();
    EventProjector {
        order_status: Projector::new(store.clone(), Target::OrderStatus(views(env).orders)),
        inventory: Projector::new(store.clone(), Target::Inventory(inventory)),
        bus,
        store,
    }
}

/// A completed order's stream and MUG's, interleaved as the table's stream would carry them
/// (the seed, then the order's events, the reservation with its completion).
async fn completed_order(env: &Emulator) -> (OrderId, Vec<ChangeRecord>) {
    let store = env.store();
    seed_inventory(&store, &[seed_product("MUG", 900, 10)])
        .await
        .unwrap();
    let order = place(&store, &[("MUG", 2)], "tok_visa").await;
    drive(&store, order).await;
    let mut events: Vec<RecordedEvent> = store
        .read_stream(&order_domain::ProductId::parse("MUG").unwrap().stream(), 0)
        .await
        .unwrap();
    events.extend(store.read_stream(&order.stream(), 0).await.unwrap());
    events.sort_by_key(|e| {
        (
            e.occurred_at.as_millis(),
            e.stream_id.as_str().starts_with("order#"),
        )
    });
    let records = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| ChangeRecord {
            shard_id: None,
            sequence_number: format!("{}", 900 + i * 100),
            event: Ok(e),
        })
        .collect();
    (order, records)
}

#[tokio::test]
async fn one_batch_keeps_both_views_and_forwards_the_order_events() {
    let env = emulator_or_skip!("one_batch_keeps_both_views_and_forwards");
    let (order, records) = completed_order(&env).await;
    let bus = Bus::default();
    let projector = projector(&env, views(&env).inventory, bus.clone());
    assert_eq!(projector.handle_records(&records).await, None);
    let reads = views(&env);
    let status = order_app::ReadModels::get_order(&reads, order)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.status.as_str(), "COMPLETED");
    let mug = order_app::ReadModels::get_inventory(
        &reads,
        &order_domain::ProductId::parse("MUG").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(mug.available, 8);
    let put = bus.put.lock().unwrap().clone();
    let types: Vec<&str> = put.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(types, ["OrderPlaced", "OrderCompleted"]);

    // The whole batch again (a redelivery): the views skip what they hold, the bus event is the
    // same event (its log id), which the handlers' dedup records drop.
    assert_eq!(projector.handle_records(&records).await, None);
    assert_eq!(mug.version(), views_version(&env).await);
    let put = bus.put.lock().unwrap().clone();
    assert_eq!(put.len(), 4);
    assert_eq!(put[..2], put[2..], "the same events, by their log ids");
}

async fn views_version(env: &Emulator) -> u64 {
    order_app::ReadModels::get_inventory(
        &views(env),
        &order_domain::ProductId::parse("MUG").unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
    .version()
}

/// The bus refuses the put: the forwarder asks for the whole batch again (from its first
/// record), though both views went through; the redelivery changes no view and puts the same
/// event.
#[tokio::test]
async fn a_failed_forward_reports_the_batchs_first_record_and_the_redelivery_is_harmless() {
    let env = emulator_or_skip!("a_failed_forward_reports_the_first_record");
    let (order, records) = completed_order(&env).await;
    let bus = Bus::default();
    *bus.down.lock().unwrap() = true;
    let projector = projector(&env, views(&env).inventory, bus.clone());
    assert_eq!(
        projector.handle_records(&records).await,
        Some(records[0].sequence_number.clone())
    );
    let done = order_app::ReadModels::get_order(&views(&env), order)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        done.status.as_str(),
        "COMPLETED",
        "the views were kept all the same"
    );
    *bus.down.lock().unwrap() = false;
    assert_eq!(projector.handle_records(&records).await, None);
    let again = order_app::ReadModels::get_order(&views(&env), order)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, done, "the redelivery moved no view");
    assert_eq!(
        bus.put.lock().unwrap().len(),
        2,
        "OrderPlaced and OrderCompleted"
    );
}

/// The inventory view cannot be written (its table is gone): the batch reports the first
/// product record, the earliest failure of any part, though the status view and the forwarder
/// went further; Lambda redelivers from there.
#[tokio::test]
async fn a_failing_view_reports_its_first_failing_record_when_it_is_the_earliest() {
    let env = emulator_or_skip!("a_failing_view_reports_its_first_failing_record");
    let (_, mut records) = completed_order(&env).await;
    // Without the seed's record, the first product record (the reservation) comes after the
    // order's first events, which the status view applies.
    records.retain(|r| {
        r.event
            .as_ref()
            .is_ok_and(|e| e.event_type != "ProductAdded")
    });
    let broken = DynamoReadModels::new(
        env.clients.dynamodb(),
        &env.resources.order_status_table,
        &format!("{}-gone", env.resources.inventory_table),
    )
    .inventory;
    let bus = Bus::default();
    let projector = projector(&env, broken, bus.clone());
    let first_product = records
        .iter()
        .find(|r| {
            r.event
                .as_ref()
                .is_ok_and(|e| e.stream_id.as_str().starts_with("product#"))
        })
        .unwrap();
    assert_ne!(first_product.sequence_number, records[0].sequence_number);
    assert_eq!(
        projector.handle_records(&records).await,
        Some(first_product.sequence_number.clone())
    );
    assert_eq!(
        bus.put.lock().unwrap().len(),
        2,
        "the forwarder went through"
    );
}
