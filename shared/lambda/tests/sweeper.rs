//! OrderSweeperLambda's handler on the emulator: the schedule's event as EventBridge delivers
//! it, the adapters the binary wires (the events table, OrderStatusTable's sweep index, the
//! real OrdersQueue).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::gateway::SimulatedGateway;
use order_app::seed::seed_inventory;
use order_app::sweep::{SweepPolicy, Sweeper};
use order_app::tasks::{process_payment, validate_order};
use order_app::vault::NoKeys;
use order_aws::{OrderStatusTable, SqsPolled, SqsQueue};
use order_domain::ports::{EventStore, PolledQueue};
use order_domain::{OrderId, Timestamp};
use order_lambda::sweep::handle_scheduled;
use order_read_models::{OrderView, View};
use order_testkit::emulator_or_skip;
use order_testkit::events::{place, seed_product};
use order_testkit::tasks::input;
use serde_json::{Value, json};

fn scheduled_event() -> EventBridgeEvent<Value> {
    let path = format!(
        "{}/../../services/order-sweeper/fixtures/scheduled-event.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn event_types<E: EventStore>(store: &E, id: OrderId) -> Vec<String> {
    let history = store.read_stream(&id.stream(), 0).await.unwrap();
    history.into_iter().map(|e| e.event_type.into()).collect()
}

/// A PLACED order whose enqueue was lost goes onto the real OrdersQueue past the redrive
/// limit; past the close limit, the PLACED order that redrives did not move is failed, and a
/// PAID order whose execution died is refunded and failed (both PROCESSING_ERROR); a second
/// run appends nothing more.
#[tokio::test]
async fn the_sweeper_redrives_a_placed_order_and_closes_a_paid_one_once() {
    let env = emulator_or_skip!("the_sweeper_redrives_a_placed_order_and_closes_a_paid_one");
    let r = &env.resources;
    let store = env.store();
    let reads = OrderStatusTable::new(env.clients.dynamodb().clone(), &r.order_status_table);
    let queue = SqsQueue::new(env.clients.sqs().clone(), &r.orders_queue_url);
    let polled = SqsPolled::new(env.clients.sqs().clone(), &r.orders_queue_url, None);

    seed_inventory(&store, &[seed_product("SWEPT", 1500, 10)])
        .await
        .unwrap();
    let placed = place(&store, &[("SWEPT", 1)], "tok_visa").await;
    let paid = place(&store, &[("SWEPT", 1)], "tok_visa").await;
    validate_order(&store, input(paid, None)).await.unwrap();
    process_payment(&store, &SimulatedGateway, &NoKeys, input(paid, None))
        .await
        .unwrap();
    for id in [placed, paid] {
        let history = store.read_stream(&id.stream(), 0).await.unwrap();
        let view = OrderView::fold(None, &history).unwrap().unwrap();
        reads.put(&view).await.unwrap();
    }

    let ports = Sweeper {
        reads: &reads,
        store: &store,
        gateway: &SimulatedGateway,
        queue: &queue,
    };
    let policy = SweepPolicy::default();
    let in_ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap();
    let at = |ms: u64| Timestamp::from_millis(Timestamp::now().as_millis() + ms + 60_000);
    let (between, later) = (
        at(in_ms(policy.redrive_after)),
        at(in_ms(policy.close_after)),
    );
    let event = scheduled_event();

    let first = handle_scheduled(ports, &policy, &event, between)
        .await
        .unwrap();
    assert_eq!(
        first,
        json!({"redriven": 1, "closed": 0, "left": 0, "failed": 0})
    );
    let messages = polled.receive(10).await.unwrap();
    let bodies: Vec<&str> = messages.iter().map(SqsPolled::body).collect();
    assert_eq!(bodies.len(), 1);
    let body: Value = serde_json::from_str(bodies[0]).unwrap();
    assert_eq!(body["orderId"], placed.to_string());
    for m in &messages {
        polled.delete(m).await.unwrap();
    }
    assert_eq!(event_types(&store, placed).await, ["OrderPlaced"]);

    let closing = handle_scheduled(ports, &policy, &event, later)
        .await
        .unwrap();
    assert_eq!(
        closing,
        json!({"redriven": 0, "closed": 2, "left": 0, "failed": 0})
    );
    let failed = [
        "OrderPlaced",
        "OrderValidated",
        "PaymentCaptured",
        "OrderFailing",
        "PaymentRefunded",
        "OrderFailed",
    ];
    assert_eq!(event_types(&store, paid).await, failed);
    let history = store.read_stream(&paid.stream(), 0).await.unwrap();
    assert!(history[5].payload.contains("PROCESSING_ERROR"));
    let placed_failed = ["OrderPlaced", "OrderFailed"];
    assert_eq!(event_types(&store, placed).await, placed_failed);

    let second = handle_scheduled(ports, &policy, &event, later)
        .await
        .unwrap();
    assert_eq!(
        second,
        json!({"redriven": 0, "closed": 0, "left": 2, "failed": 0})
    );
    assert_eq!(event_types(&store, paid).await, failed);
    assert_eq!(event_types(&store, placed).await, placed_failed);
    assert!(polled.receive(10).await.unwrap().is_empty());
}
