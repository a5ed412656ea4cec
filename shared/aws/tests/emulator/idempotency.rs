//! Idempotency records on DynamoDB, what is particular to them: the `ttl` attribute that lets
//! DynamoDB delete old rows. Claims, replays, mismatches, leases and releases are the contract
//! suite in `order-testkit`, run on this store too.

use aws_sdk_dynamodb::types::AttributeValue;
use order_aws::DynamoIdempotency;
use order_domain::ports::{Claim, IdempotencyStore};
use order_domain::{OrderId, Timestamp};

use order_testkit::emulator_or_skip;
use order_testkit::support::Emulator;

fn store(env: &Emulator) -> DynamoIdempotency {
    DynamoIdempotency::new(
        env.clients.dynamodb().clone(),
        &env.resources.idempotency_table,
    )
}

async fn ttl_of(env: &Emulator, key: &str) -> u64 {
    let item = env
        .clients
        .dynamodb()
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

/// TTL in epoch seconds (DynamoDB ignores milliseconds there: the row would live forever).
#[tokio::test]
async fn a_completed_record_expires_by_ttl_in_epoch_seconds() {
    let env = emulator_or_skip!("a_completed_record_expires_by_ttl_in_epoch_seconds");
    let s = store(&env);
    let now = Timestamp::now();
    let id = OrderId::generate();
    s.claim("k", "f1", id, now, 30_000).await.unwrap();
    s.complete("k", id, now, 86_400_000).await.unwrap();
    assert_eq!(
        ttl_of(&env, "k").await,
        (now.as_millis() + 86_400_000).div_ceil(1000)
    );
}

/// An in-progress row outlives its lease (so a retry the next day still finds the order id a
/// crashed attempt chose), but not forever.
#[tokio::test]
async fn an_in_progress_record_is_kept_past_its_lease_for_the_retention() {
    let env = emulator_or_skip!("an_in_progress_record_is_kept_past_its_lease");
    let s = store(&env);
    let t0 = Timestamp::from_millis(Timestamp::now().as_millis() - 60_000);
    let first = OrderId::generate();
    s.claim("k", "f", first, t0, 30_000).await.unwrap();
    let now = Timestamp::now();
    assert_eq!(
        s.claim("k", "f", OrderId::generate(), now, 30_000)
            .await
            .unwrap(),
        Claim::Claimed { order_id: first }
    );
    let ttl = ttl_of(&env, "k").await;
    assert!(ttl * 1000 > now.as_millis() + 30_000);
    assert!(
        ttl * 1000
            <= now.as_millis()
                + 30_000
                + order_domain::idempotency::IN_PROGRESS_RETENTION_MS
                + 1000
    );
}
