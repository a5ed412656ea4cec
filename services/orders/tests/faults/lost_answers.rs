//! A conditional write whose answer is lost: the proxy drops the answer of the first DynamoDB
//! `PutItem` after moto applied it, the SDK retries the same write, and the retry's condition
//! finds the record the first try wrote. The writer must know that record for its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fault_proxy::{FaultConfig, FaultKind, FaultProxy};
use order_aws::config::load_sdk_config;
use order_aws::{DynamoDedup, DynamoIdempotency};
use order_domain::dedup::PUBLISH_LEASE_MS;
use order_domain::ports::{Claim, IdempotencyStore, Published, Topic};
use order_domain::{OrderId, Timestamp};
use order_testkit::support::{Emulator, emulator};

/// A proxy that drops the answer of the first `dynamodb.PutItem` after the emulator acted, and
/// a DynamoDB client that goes through it.
async fn dropping_first_put(env: &Emulator) -> (FaultProxy, aws_sdk_dynamodb::Client) {
    let config = FaultConfig {
        drop_after: 1.0,
        only_call: Some("dynamodb.PutItem".into()),
        max_faults: Some(1),
        ..FaultConfig::default()
    };
    let (_, proxy) = FaultProxy::start(&env.endpoint, config)
        .await
        .expect("the fault proxy starts");
    // On the client's own config: the environment's AWS_ENDPOINT_URL outranks the shared one.
    let config = aws_sdk_dynamodb::config::Builder::from(
        &load_sdk_config().await.expect("the SDK configuration"),
    )
    .endpoint_url(proxy.url())
    .build();
    (proxy, aws_sdk_dynamodb::Client::from_conf(config))
}

/// The idempotency claim of a POST: without knowing its own record, the request refused
/// itself with 409 for the whole lease (30 s in the stack's fault test).
#[tokio::test]
async fn an_idempotency_claim_whose_answer_was_lost_still_holds_the_key() {
    let Some(env) =
        emulator("an_idempotency_claim_whose_answer_was_lost_still_holds_the_key").await
    else {
        return;
    };
    let (proxy, client) = dropping_first_put(&env).await;
    let store = DynamoIdempotency::new(client, &env.resources.idempotency_table);
    let id = OrderId::generate();
    let claim = store
        .claim("k", "f", id, Timestamp::now(), 30_000)
        .await
        .expect("the claim is answered");
    assert_eq!(
        proxy
            .counts()
            .of_call("dynamodb.PutItem", FaultKind::DropAfter),
        1,
        "the first PutItem's answer was dropped: {}",
        proxy.counts()
    );
    assert_eq!(claim, Claim::Claimed { order_id: id });
    let other = store
        .claim("k", "f", OrderId::generate(), Timestamp::now(), 30_000)
        .await
        .unwrap();
    assert!(
        matches!(other, Claim::InProgress { .. }),
        "another request is refused: {other:?}"
    );
}

/// A notification's PENDING claim: without knowing its own token, the publish waited, failed
/// as "being published by another attempt", and went out only after the redelivery that came
/// once the lease lapsed.
#[tokio::test]
async fn a_dedup_claim_whose_answer_was_lost_still_publishes_once_at_once() {
    let Some(env) =
        emulator("a_dedup_claim_whose_answer_was_lost_still_publishes_once_at_once").await
    else {
        return;
    };
    let (proxy, client) = dropping_first_put(&env).await;
    let dedup = DynamoDedup::new(client, &env.resources.notification_dedup_table);
    let published = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let counter = published.clone();
    let outcome = dedup
        .deliver_once(Topic::OrderAlerts, "order-1#confirmation", || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert_eq!(
        proxy
            .counts()
            .of_call("dynamodb.PutItem", FaultKind::DropAfter),
        1,
        "the claim's answer was dropped: {}",
        proxy.counts()
    );
    assert_eq!(outcome.expect("published, not refused"), Published::Sent);
    assert_eq!(published.load(Ordering::SeqCst), 1);
    assert!(
        started.elapsed() < Duration::from_millis(PUBLISH_LEASE_MS),
        "published without waiting out its own lease: {:?}",
        started.elapsed()
    );
    let again = dedup
        .deliver_once(Topic::OrderAlerts, "order-1#confirmation", || async {
            panic!("a second publish of the same message")
        })
        .await
        .unwrap();
    assert_eq!(again, Published::Duplicate, "the record was marked SENT");
}
