//! One email per bus event however often its rule delivers it: the handlers publish through
//! the notifier's dedup record keyed by the event's log id (`shared/aws/src/dedup.rs`
//! states the record's states and the crash between record and publish; these cases drive
//! them through the Lambda handlers, on the emulator).

use std::time::Duration;

use order_app::forward::bus_event;
use order_app::notify::{Confirmation, FailureNotice};
use order_app::notify_update::CustomerNotice;
use order_app::seed::seed_inventory;
use order_app::vault::NoKeys;
use order_aws::DynamoDedup;
use order_aws::dedup::dedup_key;
use order_domain::Timestamp;
use order_domain::ports::{BusEvent, EventStore, Topic};
use order_lambda::confirm::{handle_event, handle_failure_event, handle_update_event};
use order_testkit::emulator_or_skip;
use order_testkit::events::{place, seed_product};
use order_testkit::notifier::SnsDeliveries;
use order_testkit::support::Emulator;
use order_testkit::tasks::drive;

use crate::executions::{eventbridge_event, sns};
use crate::support::terminal_event;

/// A completed and a declined order on the emulator, and their terminal events as the
/// forwarder puts them on the bus, then the completed order's OrderPlaced.
async fn ended_orders(env: &Emulator) -> (BusEvent, BusEvent, BusEvent) {
    let store = env.store();
    seed_inventory(&store, &[seed_product("MUG", 900, 10)])
        .await
        .unwrap();
    let completed = place(&store, &[("MUG", 1)], "tok_visa").await;
    let declined = place(&store, &[("MUG", 1)], "tok_decline").await;
    drive(&store, completed).await;
    drive(&store, declined).await;
    let of = async |e| {
        bus_event(&store, &e)
            .await
            .unwrap()
            .expect("an event the bus carries")
    };
    let placed = store.read_stream(&completed.stream(), 0).await.unwrap()[0].clone();
    (
        of(terminal_event(&store, completed).await).await,
        of(terminal_event(&store, declined).await).await,
        of(placed).await,
    )
}

fn dedup(env: &Emulator) -> DynamoDedup {
    DynamoDedup::new(
        env.clients.dynamodb().clone(),
        &env.resources.notification_dedup_table,
    )
}

/// Delivers `event` to its rule's handler as EventBridge would, retrying a refusal (a
/// concurrent delivery's claim in flight) as EventBridge's retry policy does.
async fn deliver(env: &Emulator, event: &BusEvent) {
    let (store, notifier) = (env.store(), sns(env));
    for attempt in 0..20 {
        let delivered = eventbridge_event(event);
        let result = match event.detail_type.as_str() {
            "OrderCompleted" => handle_event(&store, &notifier, &NoKeys, delivered)
                .await
                .map(|c| assert_eq!(c, Confirmation::Sent)),
            "OrderFailed" => handle_failure_event(&store, &notifier, delivered)
                .await
                .map(|n| assert_eq!(n, FailureNotice::Sent)),
            _ => handle_update_event(&store, &notifier, &NoKeys, delivered)
                .await
                .map(|n| assert_eq!(n, CustomerNotice::Sent)),
        };
        match result {
            Ok(()) => return,
            Err(e) if attempt < 19 => {
                eprintln!("delivery refused ({e}); EventBridge retries");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("never delivered: {e}"),
        }
    }
}

#[tokio::test]
async fn order_events_delivered_twice_and_concurrently_send_one_email_each() {
    let env = emulator_or_skip!("order_events_delivered_twice_and_concurrently");
    let (completed, failed, placed) = ended_orders(&env).await;
    let inbox = SnsDeliveries::subscribe(&env).await;
    for event in [&completed, &failed, &placed] {
        deliver(&env, event).await;
        deliver(&env, event).await;
        tokio::join!(
            deliver(&env, event),
            deliver(&env, event),
            deliver(&env, event)
        );
    }
    assert_eq!(inbox.count(Topic::OrderAlerts, &completed.id).await, 1);
    assert_eq!(inbox.count(Topic::OrderErrors, &failed.id).await, 1);
    assert_eq!(
        inbox.count(Topic::OrderAlerts, &placed.id).await,
        1,
        "one \"order received\""
    );
    assert_eq!(
        inbox.count(Topic::OrderErrors, &completed.id).await,
        0,
        "a completion is no failure"
    );
}

/// A handler that died between claiming the dedup record and publishing left it PENDING. While
/// its lease lives, a redelivery is refused with an error (EventBridge retries it) and sends
/// nothing; once the lease lapses, the next delivery takes the claim over and publishes: the
/// email goes out (the dead handler never sent it), once.
#[tokio::test]
async fn a_handler_that_crashed_between_record_and_publish_blocks_until_its_lease_lapses() {
    let env = emulator_or_skip!("a_handler_that_crashed_between_record_and_publish");
    let (completed, failed, placed) = ended_orders(&env).await;
    let inbox = SnsDeliveries::subscribe(&env).await;
    for (event, topic) in [
        (&completed, Topic::OrderAlerts),
        (&failed, Topic::OrderErrors),
        (&placed, Topic::OrderAlerts),
    ] {
        // The dead handler's claim, its lease two seconds long.
        let lease_ms = 2_000;
        let claimed_at = tokio::time::Instant::now();
        let key = dedup_key(topic, &event.id);
        let lease_until = Timestamp::now().as_millis() + lease_ms;
        assert!(dedup(&env).claim(&key, "dead", lease_until).await.unwrap());
        let (store, notifier, delivered) = (env.store(), sns(&env), eventbridge_event(event));
        let refused = match event.detail_type.as_str() {
            "OrderCompleted" => handle_event(&store, &notifier, &NoKeys, delivered)
                .await
                .map(|_| ()),
            "OrderFailed" => handle_failure_event(&store, &notifier, delivered)
                .await
                .map(|_| ()),
            _ => handle_update_event(&store, &notifier, &NoKeys, delivered)
                .await
                .map(|_| ()),
        };
        let err = refused.expect_err("a live claim refuses the delivery");
        assert!(err.to_string().contains("another attempt"), "{err}");
        assert_eq!(
            inbox.count(topic, &event.id).await,
            0,
            "nothing sent while it lives"
        );

        // The lease lapses: the next delivery takes the claim over and publishes, once.
        tokio::time::sleep_until(claimed_at + Duration::from_millis(lease_ms + 100)).await;
        deliver(&env, event).await;
        deliver(&env, event).await;
        assert_eq!(
            inbox.count(topic, &event.id).await,
            1,
            "published once after the lease"
        );
    }
}
