//! Idempotency records of POST /orders: claim, complete, mismatch, in progress, and leases
//! that expire so a crashed request never blocks its retries (design.md §9).

use aws_sdk_dynamodb::types::AttributeValue;
use order_aws::DynamoIdempotency;
use order_domain::ports::{Claim, IdempotencyStore};
use order_domain::{OrderId, Timestamp};

use crate::common::Emulator;
use crate::emulator_or_skip;

fn store(env: &Emulator) -> DynamoIdempotency {
    DynamoIdempotency::new(
        env.clients.dynamodb.clone(),
        &env.resources.idempotency_table,
    )
}

async fn ttl_of(env: &Emulator, key: &str) -> u64 {
    let item = env
        .clients
        .dynamodb
        .get_item()
        .table_name(&env.resources.idempotency_table)
        .key("idempotencyKey", AttributeValue::S(key.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    item["ttl"].as_n().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_key_is_claimed_once_then_answers_in_progress_completed_or_mismatch() {
    let env = emulator_or_skip!("a_key_is_claimed_once");
    let s = store(&env);
    let now = Timestamp::now();
    let id = OrderId::generate();
    assert_eq!(
        s.claim("k", "f1", id, now, 30_000).await.unwrap(),
        Claim::Claimed { order_id: id }
    );
    assert_eq!(
        s.claim("k", "f1", OrderId::generate(), now, 30_000)
            .await
            .unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        s.claim("k", "f2", OrderId::generate(), now, 30_000)
            .await
            .unwrap(),
        Claim::Mismatch
    );
    s.complete("k", now, 86_400_000).await.unwrap();
    assert_eq!(
        s.claim("k", "f1", OrderId::generate(), now, 30_000)
            .await
            .unwrap(),
        Claim::Completed { order_id: id }
    );
    assert_eq!(
        s.claim("k", "f2", OrderId::generate(), now, 30_000)
            .await
            .unwrap(),
        Claim::Mismatch
    );
    // TTL in epoch seconds (DynamoDB ignores milliseconds there: the row would live forever).
    assert_eq!(
        ttl_of(&env, "k").await,
        (now.as_millis() + 86_400_000).div_ceil(1000)
    );
}

/// A request that crashed while IN_PROGRESS: once its lease expires the key is free again for
/// a retry with the same body, which keeps the order id the first attempt chose.
#[tokio::test]
async fn an_expired_in_progress_lease_is_taken_over_keeping_its_order_id() {
    let env = emulator_or_skip!("an_expired_in_progress_lease_is_taken_over");
    let s = store(&env);
    let t0 = Timestamp::from_millis(Timestamp::now().as_millis() - 60_000);
    let first = OrderId::generate();
    assert_eq!(
        s.claim("k", "f", first, t0, 30_000).await.unwrap(),
        Claim::Claimed { order_id: first }
    );
    let now = Timestamp::now();
    assert_eq!(
        s.claim("k", "f", OrderId::generate(), now, 30_000)
            .await
            .unwrap(),
        Claim::Claimed { order_id: first }
    );
    // The takeover holds a fresh lease.
    assert_eq!(
        s.claim("k", "f", OrderId::generate(), now, 30_000)
            .await
            .unwrap(),
        Claim::InProgress
    );
    // An in-progress row outlives its lease (so the order id survives), but not forever.
    let ttl = ttl_of(&env, "k").await;
    assert!(ttl * 1000 > now.as_millis() + 30_000);
    assert!(
        ttl * 1000
            <= now.as_millis() + 30_000 + order_aws::idempotency::IN_PROGRESS_RETENTION_MS + 1000
    );
}

#[tokio::test]
async fn a_released_key_can_be_claimed_again_at_once_with_the_same_order_id() {
    let env = emulator_or_skip!("a_released_key_can_be_claimed_again");
    let s = store(&env);
    let now = Timestamp::now();
    let id = OrderId::generate();
    s.claim("k", "f", id, now, 30_000).await.unwrap();
    s.release("k").await.unwrap();
    let later = Timestamp::from_millis(Timestamp::now().as_millis() + 1);
    assert_eq!(
        s.claim("k", "f", OrderId::generate(), later, 30_000)
            .await
            .unwrap(),
        Claim::Claimed { order_id: id }
    );
    // Completing or releasing an unknown key creates nothing.
    s.complete("never-claimed", now, 1000).await.unwrap();
    s.release("never-claimed").await.unwrap();
    let fresh = OrderId::generate();
    assert_eq!(
        s.claim("never-claimed", "f", fresh, now, 30_000)
            .await
            .unwrap(),
        Claim::Claimed { order_id: fresh }
    );
}

/// A completed record past its retention frees the key even before TTL deletes the row
/// (DynamoDB's TTL deletion lags, by up to days).
#[tokio::test]
async fn an_expired_completed_record_frees_the_key() {
    let env = emulator_or_skip!("an_expired_completed_record_frees_the_key");
    let s = store(&env);
    let t0 = Timestamp::from_millis(Timestamp::now().as_millis() - 10_000);
    let old = OrderId::generate();
    s.claim("k", "f", old, t0, 1_000).await.unwrap();
    s.complete("k", t0, 1_000).await.unwrap();
    let new = OrderId::generate();
    assert_eq!(
        s.claim("k", "other body", new, Timestamp::now(), 30_000)
            .await
            .unwrap(),
        Claim::Claimed { order_id: new }
    );
}

/// Two requests with one key arrive together: the conditional put lets one claim it; the
/// other is told the request is in progress.
#[tokio::test]
async fn two_concurrent_claims_of_one_key_let_exactly_one_through() {
    let env = emulator_or_skip!("two_concurrent_claims_of_one_key");
    let s = std::sync::Arc::new(store(&env));
    let now = Timestamp::now();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let s = std::sync::Arc::clone(&s);
            tokio::spawn(async move { s.claim("k", "f", OrderId::generate(), now, 30_000).await })
        })
        .collect();
    let mut claims = Vec::new();
    for t in tasks {
        claims.push(t.await.unwrap().unwrap());
    }
    assert_eq!(
        claims
            .iter()
            .filter(|c| matches!(c, Claim::Claimed { .. }))
            .count(),
        1,
        "{claims:?}"
    );
    assert!(claims.contains(&Claim::InProgress));
}
