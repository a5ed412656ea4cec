//! What only the DynamoDB read models and the Streams projector do: partial batch failures and
//! the sweeper's sparse, sharded index. The read-model store contract (version guard, refold on a gap,
//! redelivery, lag) runs on both stores in `order-testkit`'s `read_models_contract`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use order_app::ReadModels;
use order_aws::projector::{ChangeRecord, Target};
use order_aws::read_models::{SWEEP_INDEX, SWEEP_SHARD, SWEEP_SHARDS, SWEEP_SINCE, sweep_shard};
use order_aws::{DynamoReadModels, Projector};
use order_domain::order::OrderStatus;
use order_domain::ports::EventStore;
use order_domain::{OrderId, RecordedEvent, Timestamp};
use order_read_models::{OrderView, View};
use serde_json::json;

use order_testkit::emulator_or_skip;
use order_testkit::events::{meta, order_placed, order_validated, product, write_after};
use order_testkit::support::Emulator;

fn reads(env: &Emulator) -> DynamoReadModels {
    DynamoReadModels::new(
        env.clients.dynamodb(),
        &env.resources.order_status_table,
        &env.resources.inventory_table,
    )
}

fn order_projector(env: &Emulator) -> Projector {
    Projector::new(env.store(), Target::OrderStatus(reads(env).orders))
}

/// The order-status projector, its view requests seen by `interceptor` (the log's are not).
fn order_projector_watched_by(env: &Emulator, interceptor: impl Intercept + 'static) -> Projector {
    let config = env
        .clients
        .dynamodb()
        .config()
        .to_builder()
        .interceptor(interceptor)
        .build();
    let watched = aws_sdk_dynamodb::Client::from_conf(config);
    let views = DynamoReadModels::new(
        &watched,
        &env.resources.order_status_table,
        &env.resources.inventory_table,
    );
    Projector::new(env.store(), Target::OrderStatus(views.orders))
}

/// Appends OrderPlaced and OrderValidated to a new order; returns the two recorded events.
async fn placed_and_validated(env: &Emulator) -> (OrderId, Vec<RecordedEvent>) {
    let store = env.store();
    let order = OrderId::generate();
    let p = product("SKU-A");
    let w = write_after(
        &order.stream(),
        None,
        [
            order_placed(order, &p).encode(),
            order_validated(&p).encode(),
        ],
        &meta(order),
    );
    store.append(vec![w]).await.unwrap();
    (order, store.read_stream(&order.stream(), 0).await.unwrap())
}

fn image(e: &RecordedEvent) -> serde_json::Value {
    json!({
        "streamId": {"S": e.stream_id.as_str()}, "version": {"N": e.version.to_string()},
        "eventId": {"S": e.event_id.to_string()}, "eventType": {"S": e.event_type},
        "schemaVersion": {"N": e.schema_version.to_string()},
        "occurredAt": {"N": e.occurred_at.as_millis().to_string()},
        "correlationId": {"S": e.correlation_id}, "causationId": {"S": e.causation_id},
        "payload": {"S": e.payload}, "prevHash": {"S": e.prev_hash}, "hash": {"S": e.hash},
    })
}

fn lambda_record(seq: &str, new_image: &serde_json::Value) -> serde_json::Value {
    json!({
        "eventID": format!("id-{seq}"), "eventName": "INSERT", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_764_101_620.0,
            "Keys": {"streamId": new_image["streamId"], "version": new_image["version"]},
            "NewImage": new_image, "SequenceNumber": seq, "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/OrderEventsTable/stream/2026-01-01T00:00:00.000"
    })
}

/// A stream consumer keeps per-key order, so it stops at the first record it cannot apply and
/// reports that record and every later one as `batchItemFailures`; earlier ones are done.
#[tokio::test]
async fn a_failed_record_in_a_batch_is_reported_with_every_record_after_it() {
    let env = emulator_or_skip!("a_failed_record_in_a_batch");
    let (order, events) = placed_and_validated(&env).await;
    let mut corrupt = image(&events[1]);
    corrupt["streamId"] = json!({"S": "user#1"});
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(json!({
        "Records": [
            lambda_record("100", &image(&events[0])),
            lambda_record("200", &corrupt),
            lambda_record("300", &image(&events[1])),
        ]
    }))
    .unwrap();
    let response = order_projector(&env).handle(&event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failed, ["200", "300"]);
    let view = reads(&env).get_order(order).await.unwrap().unwrap();
    assert_eq!(view.version, 1, "the record before the failure was applied");

    // The same batch, healthy: nothing to report.
    let ok: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(json!({
        "Records": [lambda_record("300", &image(&events[1]))]
    }))
    .unwrap();
    assert!(
        order_projector(&env)
            .handle(&ok)
            .await
            .batch_item_failures
            .is_empty()
    );
}

/// The poller's batches go through the same step, including records that did not decode.
#[tokio::test]
async fn apply_batch_stops_at_an_undecodable_record() {
    let env = emulator_or_skip!("apply_batch_stops_at_an_undecodable_record");
    let (_, events) = placed_and_validated(&env).await;
    let records = vec![
        ChangeRecord {
            shard_id: Some("s".into()),
            sequence_number: "1".into(),
            event: Ok(events[0].clone()),
        },
        ChangeRecord {
            shard_id: Some("s".into()),
            sequence_number: "2".into(),
            event: order_aws::codec::decode(std::collections::HashMap::<
                String,
                aws_sdk_dynamodb::types::AttributeValue,
            >::new()),
        },
    ];
    let report = order_projector(&env).apply_batch(&records).await;
    assert_eq!((report.applied, report.failed), (1, vec!["2".to_owned()]));
    assert!(report.error.is_some());
}

/// The records of one append arrive together: they are one run, stepped in order onto one read
/// of the view and stored once, ending where record-by-record application ends; a run that
/// starts with a record the view has already seen skips it and applies the rest.
#[tokio::test]
async fn one_streams_consecutive_records_are_applied_as_one_run() {
    let env = emulator_or_skip!("one_streams_consecutive_records_are_applied_as_one_run");
    let (order, events) = placed_and_validated(&env).await;
    let record = |seq: &str, e: &RecordedEvent| ChangeRecord {
        shard_id: Some("s".into()),
        sequence_number: seq.into(),
        event: Ok(e.clone()),
    };
    let projector = order_projector(&env);
    let report = projector
        .apply_batch(&[record("1", &events[0]), record("2", &events[1])])
        .await;
    assert_eq!((report.applied, report.failed.len()), (2, 0));
    let view = reads(&env).get_order(order).await.unwrap().unwrap();
    assert_eq!(view.version, 2);
    assert_eq!(view.status, OrderStatus::Validated);

    // Redelivered, with nothing new: unchanged, nothing failed.
    let again = projector
        .apply_batch(&[record("1", &events[0]), record("2", &events[1])])
        .await;
    assert_eq!((again.applied, again.failed.len()), (2, 0));

    // Another order whose view holds its first event: the run skips it and applies the second.
    let (other, more) = placed_and_validated(&env).await;
    projector.apply_batch(&[record("3", &more[0])]).await;
    let report = projector
        .apply_batch(&[record("3", &more[0]), record("4", &more[1])])
        .await;
    assert_eq!((report.applied, report.failed.len()), (2, 0));
    assert_eq!(
        reads(&env).get_order(other).await.unwrap().unwrap().version,
        2
    );
}

/// Counts the PutItem requests of a DynamoDB client.
#[derive(Debug, Clone, Default)]
struct Puts(Arc<AtomicUsize>);

impl Intercept for Puts {
    fn name(&self) -> &'static str {
        "Puts"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.input().downcast_ref::<PutItemInput>().is_some() {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// An order's steps reach the stream between other orders' records, so a batch rarely holds
/// them side by side. The records of one stream are one run wherever they sit in the batch:
/// two orders' interleaved records make one put of each view (four before, one per record),
/// and each view ends at its stream's last version.
#[tokio::test]
async fn one_streams_records_are_one_run_wherever_they_sit_in_the_batch() {
    let env = emulator_or_skip!("one_streams_records_are_one_run_wherever_they_sit");
    let (a, a_events) = placed_and_validated(&env).await;
    let (b, b_events) = placed_and_validated(&env).await;
    let puts = Puts::default();
    let projector = order_projector_watched_by(&env, puts.clone());
    let record = |seq: &str, e: &RecordedEvent| ChangeRecord {
        shard_id: Some("s".into()),
        sequence_number: seq.into(),
        event: Ok(e.clone()),
    };
    let report = projector
        .apply_batch(&[
            record("1", &a_events[0]),
            record("2", &b_events[0]),
            record("3", &a_events[1]),
            record("4", &b_events[1]),
        ])
        .await;
    assert_eq!((report.applied, report.failed.len()), (4, 0));
    assert_eq!(puts.0.load(Ordering::SeqCst), 2, "one put per order");
    for order in [a, b] {
        let view = reads(&env).get_order(order).await.unwrap().unwrap();
        assert_eq!((view.version, view.status), (2, OrderStatus::Validated));
    }
}

/// The most DynamoDB requests a client had in flight at once.
#[derive(Debug, Clone, Default)]
struct InFlight(Arc<(AtomicUsize, AtomicUsize)>);

impl Intercept for InFlight {
    fn name(&self) -> &'static str {
        "InFlight"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = self.0.0.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.1.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Runs are of different streams, so a batch's go out together: four orders' runs have their
/// view requests in flight at once (one after another, never more than one was), and each view
/// ends at its stream's last version.
#[tokio::test]
async fn a_batchs_runs_are_applied_together() {
    let env = emulator_or_skip!("a_batchs_runs_are_applied_together");
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(placed_and_validated(&env).await);
    }
    let in_flight = InFlight::default();
    let projector = order_projector_watched_by(&env, in_flight.clone());
    let records: Vec<_> = orders
        .iter()
        .flat_map(|(_, events)| events)
        .enumerate()
        .map(|(i, e)| ChangeRecord {
            shard_id: Some("s".into()),
            sequence_number: (i + 1).to_string(),
            event: Ok(e.clone()),
        })
        .collect();
    let report = projector.apply_batch(&records).await;
    assert_eq!((report.applied, report.failed.len()), (8, 0));
    let most = in_flight.0.1.load(Ordering::SeqCst);
    assert!(
        most >= 2,
        "the runs' requests went one at a time ({most} at most)"
    );
    for (order, _) in &orders {
        let view = reads(&env).get_order(*order).await.unwrap().unwrap();
        assert_eq!((view.version, view.status), (2, OrderStatus::Validated));
    }
}

/// The sweep index spreads the open orders over its shards, and the sweeper's query reads
/// every shard: each of forty stuck orders is found, whatever its shard.
#[tokio::test]
async fn the_sweeper_finds_open_orders_in_every_shard_of_the_sweep_index() {
    let env = emulator_or_skip!("the_sweeper_finds_open_orders_in_every_shard");
    let reads = reads(&env);
    let mut stuck = Vec::new();
    for _ in 0..40 {
        let (order, events) = placed_and_validated(&env).await;
        let mut placed = OrderView::fold(None, &events[..1]).unwrap().unwrap();
        placed.updated_at = Timestamp::from_millis(1_000);
        placed.placed_at = Timestamp::from_millis(1_000);
        reads.orders.put(&placed).await.unwrap();
        stuck.push(order);
    }
    let shards: BTreeSet<u32> = stuck.iter().map(|id| sweep_shard(*id)).collect();
    assert!(
        shards.len() > 4,
        "forty ids hash to a few shards only: {shards:?}"
    );
    assert!(shards.iter().all(|s| *s < SWEEP_SHARDS));

    let found = reads
        .orders
        .open_unchanged_since(&[OrderStatus::Placed], Timestamp::from_millis(2_000), 100)
        .await
        .unwrap();
    let found: BTreeSet<OrderId> = found.iter().map(|o| o.order_id).collect();
    assert_eq!(found, stuck.iter().copied().collect());
}

/// The sweep index is sparse and its key does not move: a row is in it, under one shard and
/// its placing instant, while its order is open (PLACED, then VALIDATED, or CANCELLING), and
/// leaves it when the order ends (FAILED, CANCELLED, SHIPPED, PARTIALLY_REFUNDED, REFUNDED). So the index costs two writes per order, not two per status put.
#[tokio::test]
async fn an_order_is_in_the_sweep_index_only_while_it_is_open() {
    let env = emulator_or_skip!("an_order_is_in_the_sweep_index_only_while_it_is_open");
    let (order, events) = placed_and_validated(&env).await;
    let reads = reads(&env);
    let indexed = || async {
        let out = env
            .clients
            .dynamodb()
            .scan()
            .table_name(&env.resources.order_status_table)
            .index_name(SWEEP_INDEX)
            .send()
            .await
            .unwrap();
        out.items()
            .iter()
            .map(|i| {
                let text = |k: &str| i.get(k).and_then(|v| v.as_s().ok()).cloned();
                let since = i.get(SWEEP_SINCE).and_then(|v| v.as_n().ok()).cloned();
                (text("orderId"), text(SWEEP_SHARD), since)
            })
            .collect::<Vec<_>>()
    };
    let placed = OrderView::fold(None, &events[..1]).unwrap().unwrap();
    let key = vec![(
        Some(order.to_string()),
        Some(format!("OPEN#{}", sweep_shard(order))),
        Some(placed.placed_at.as_millis().to_string()),
    )];
    reads.orders.put(&placed).await.unwrap();
    assert_eq!(indexed().await, key);

    let validated = OrderView::fold(None, &events).unwrap().unwrap();
    reads.orders.put(&validated).await.unwrap();
    assert_eq!(
        indexed().await,
        key,
        "the key stays while the order is open"
    );

    let mut ended = validated.clone();
    ended.status = OrderStatus::Failed;
    ended.version += 1;
    reads.orders.put(&ended).await.unwrap();
    assert!(indexed().await.is_empty());
    let row = env
        .clients
        .dynamodb()
        .get_item()
        .table_name(&env.resources.order_status_table)
        .key("orderId", AttributeValue::S(order.to_string()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!row.contains_key(SWEEP_SHARD) && !row.contains_key(SWEEP_SINCE));
    assert_eq!(row["status"].as_s().unwrap(), "FAILED");

    // After an order ends: CANCELLING (a completed order's cancellation, its refund pending) is
    // open again under the same key; every status after it is an end.
    let mut after = ended;
    for (status, open) in [
        (OrderStatus::Cancelling, true),
        (OrderStatus::Cancelled, false),
        (OrderStatus::Shipped, false),
        (OrderStatus::PartiallyRefunded, false),
        (OrderStatus::Refunded, false),
    ] {
        after.status = status;
        after.version += 1;
        reads.orders.put(&after).await.unwrap();
        let want = if open { key.clone() } else { Vec::new() };
        assert_eq!(indexed().await, want, "{status:?}");
        let row = reads.orders.get(&order.to_string()).await.unwrap();
        assert_eq!(row.map(|v| v.status), Some(status));
    }
}
