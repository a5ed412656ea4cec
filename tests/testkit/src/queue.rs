//! The [`PolledQueue`] contract: what OrdersQueue MUST do as the local consumer polls it, run
//! against the SQLite queue and SQS (on the emulator).
//!
//! Where the two differ in kind, the case says so: SQS takes visibility timeouts in whole
//! seconds and SQLite in milliseconds (the cases use whole seconds); a receive waits up to about
//! a second on both (SQS long polling; a wake-up or the next message's reappearance locally).

use std::time::Duration;

use order_domain::OrderId;
use order_domain::ports::PolledQueue;

use crate::Fixture;

/// OrdersQueue's maxReceiveCount on both hosts (the template's RedrivePolicy, the SQLite queue's
/// `SqliteQueue::orders`): the receive after that many goes to the dead-letter queue instead.
pub const MAX_RECEIVES: u32 = 5;

/// Every case of the queue contract as `#[tokio::test]`s in a module named `$backend`, on the
/// queues `$make` (a full path, e.g. `crate::backends::sqlite_queue`) builds.
#[macro_export]
macro_rules! queue_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                queue,
                [
                    an_enqueued_order_is_received_once_with_the_contracts_body,
                    a_received_message_is_invisible_until_its_visibility_timeout_passes,
                    a_deleted_message_is_not_delivered_again,
                    a_batch_delete_removes_every_message_given,
                    a_message_made_visible_again_is_redelivered_with_a_growing_receive_count,
                    a_message_received_max_receives_times_goes_to_the_dead_letter_queue,
                    depth_counts_visible_messages_but_not_those_in_flight,
                ]
            );
        }
    };
}

/// The next message, allowing a receive or two to come back empty (SQS may).
async fn receive_one<Q: PolledQueue>(queue: &Q) -> Q::Message {
    for _ in 0..3 {
        if let Some(m) = queue.receive(1).await.unwrap().into_iter().next() {
            return m;
        }
    }
    panic!("no message was received");
}

async fn nothing_visible<Q: PolledQueue>(queue: &Q) -> bool {
    queue.receive(10).await.unwrap().is_empty()
}

pub async fn an_enqueued_order_is_received_once_with_the_contracts_body<Q: PolledQueue>(
    queue: &Fixture<Q>,
) {
    let id = OrderId::generate();
    queue.enqueue(id).await.unwrap();
    let m = receive_one(&**queue).await;
    assert_eq!(Q::body(&m), format!(r#"{{"orderId":"{id}"}}"#));
    assert_eq!(Q::receive_count(&m), 1);
    assert!(!Q::message_id(&m).is_empty());
    assert!(nothing_visible(&**queue).await, "one enqueue, one message");
}

/// A received message stays hidden for the queue's visibility timeout (30 s locally, 180 s on
/// SQS); a retry sets a shorter one, after which it comes back.
pub async fn a_received_message_is_invisible_until_its_visibility_timeout_passes<Q: PolledQueue>(
    queue: &Fixture<Q>,
) {
    queue.enqueue(OrderId::generate()).await.unwrap();
    let m = receive_one(&**queue).await;
    assert!(nothing_visible(&**queue).await, "hidden while in flight");
    // Whole seconds: SQS's ChangeMessageVisibility has no finer unit.
    queue.retry_after(&m, 2_000).await.unwrap();
    assert!(
        nothing_visible(&**queue).await,
        "hidden for the new timeout"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let again = receive_one(&**queue).await;
    assert_eq!(Q::message_id(&again), Q::message_id(&m));
    assert_eq!(Q::receive_count(&again), 2);
}

pub async fn a_deleted_message_is_not_delivered_again<Q: PolledQueue>(queue: &Fixture<Q>) {
    queue.enqueue(OrderId::generate()).await.unwrap();
    let m = receive_one(&**queue).await;
    queue.delete(&m).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), (0, 0));
    assert!(nothing_visible(&**queue).await);
}

/// More messages than SQS deletes in one call (10), so a batch of batches.
pub async fn a_batch_delete_removes_every_message_given<Q: PolledQueue>(queue: &Fixture<Q>) {
    for _ in 0..12 {
        queue.enqueue(OrderId::generate()).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 12 {
        got.push(receive_one(&**queue).await);
    }
    let all: Vec<&Q::Message> = got.iter().collect();
    queue.delete_batch(&all).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), (0, 0));
    assert!(nothing_visible(&**queue).await);
}

pub async fn a_message_made_visible_again_is_redelivered_with_a_growing_receive_count<
    Q: PolledQueue,
>(
    queue: &Fixture<Q>,
) {
    queue.enqueue(OrderId::generate()).await.unwrap();
    let first = receive_one(&**queue).await;
    queue.retry_after(&first, 0).await.unwrap();
    for n in 2..=3 {
        let m = receive_one(&**queue).await;
        assert_eq!(Q::message_id(&m), Q::message_id(&first), "the same message");
        assert_eq!(Q::receive_count(&m), n);
        queue.retry_after(&m, 0).await.unwrap();
    }
}

pub async fn a_message_received_max_receives_times_goes_to_the_dead_letter_queue<Q: PolledQueue>(
    queue: &Fixture<Q>,
) {
    queue.enqueue(OrderId::generate()).await.unwrap();
    for n in 1..=MAX_RECEIVES {
        let m = receive_one(&**queue).await;
        assert_eq!(Q::receive_count(&m), n);
        queue.retry_after(&m, 0).await.unwrap();
    }
    assert!(
        nothing_visible(&**queue).await,
        "the next receive moves it to the DLQ instead"
    );
    assert_eq!(queue.depth().await.unwrap(), (0, 1));
}

pub async fn depth_counts_visible_messages_but_not_those_in_flight<Q: PolledQueue>(
    queue: &Fixture<Q>,
) {
    assert_eq!(queue.depth().await.unwrap(), (0, 0));
    for _ in 0..3 {
        queue.enqueue(OrderId::generate()).await.unwrap();
    }
    assert_eq!(queue.depth().await.unwrap(), (3, 0));
    let _in_flight = receive_one(&**queue).await;
    assert_eq!(queue.depth().await.unwrap(), (2, 0));
}

/// Receives the message on `queue` [`MAX_RECEIVES`] times without deleting it, as a consumer that
/// keeps failing would, so that it is dead-lettered; then checks it is no longer delivered.
pub async fn exhaust<Q: PolledQueue>(queue: &Q) {
    let mut receives = 0;
    while receives < MAX_RECEIVES {
        for m in queue.receive(1).await.unwrap() {
            queue.retry_after(&m, 0).await.unwrap();
            receives += 1;
        }
    }
    for _ in 0..3 {
        assert!(queue.receive(10).await.unwrap().is_empty(), "dead-lettered");
    }
}

/// An order of one MUG placed in the embedded data directory `data` while no server runs, its
/// message then given up on ([`exhaust`]): a dead letter for the next server to find.
pub async fn dead_lettered_embedded_order(data: &std::path::Path) -> OrderId {
    use order_embedded::db::{Db, Durability};
    let order = OrderId::generate();
    let db = Db::open(&data.join("orders.db"), Durability::Normal).unwrap();
    crate::events::place_as(
        &order_embedded::store::SqliteEventStore::new(db.clone()),
        order,
        &[("MUG", 1)],
        "tok_visa",
    )
    .await;
    let queue = order_embedded::queue::SqliteQueue::orders(db.clone());
    order_domain::ports::OrderQueue::enqueue(&queue, order)
        .await
        .unwrap();
    exhaust(&queue).await;
    db.close();
    order
}

/// The same on the emulator: an order of one MUG appended to `env`'s event table while no
/// consumer runs, its OrdersQueue message given up on until SQS's redrive policy moves it to
/// OrdersDeadLetterQueue.
pub async fn dead_lettered_aws_order(env: &crate::support::Emulator) -> OrderId {
    let r = &env.resources;
    let order = OrderId::generate();
    let store = order_aws::DynamoEventStore::new(env.clients.dynamodb().clone(), &r.events_table);
    crate::events::place_as(&store, order, &[("MUG", 1)], "tok_visa").await;
    let queue = order_aws::SqsPolled::new(
        env.clients.sqs().clone(),
        &r.orders_queue_url,
        r.dead_letter_queue_url.clone(),
    );
    order_domain::ports::OrderQueue::enqueue(&queue, order)
        .await
        .unwrap();
    exhaust(&queue).await;
    order
}
