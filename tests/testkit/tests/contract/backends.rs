//! How each backend's adapters are built for one contract case.

use order_aws::{DynamoEventStore, SqsPolled};
use order_embedded::queue::SqliteQueue;
use order_embedded::store::SqliteEventStore;
use order_testkit::Fixture;
use order_testkit::support::{emulator, sqlite};

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn sqlite_event_store(_test: &'static str) -> Option<Fixture<SqliteEventStore>> {
    let db = sqlite();
    Some(Fixture::new(SqliteEventStore::new(db.db.clone())).keeping(db))
}

pub async fn dynamodb_event_store(test: &'static str) -> Option<Fixture<DynamoEventStore>> {
    let env = emulator(test).await?;
    Some(Fixture::new(DynamoEventStore::new(
        env.clients.dynamodb.clone(),
        &env.resources.events_table,
    )))
}

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn sqlite_queue(_test: &'static str) -> Option<Fixture<SqliteQueue>> {
    let db = sqlite();
    Some(Fixture::new(SqliteQueue::orders(db.db.clone())).keeping(db))
}

pub async fn sqs_queue(test: &'static str) -> Option<Fixture<SqsPolled>> {
    let env = emulator(test).await?;
    assert_eq!(
        order_aws::provision::MAX_RECEIVE_COUNT,
        order_testkit::queue::MAX_RECEIVES
    );
    Some(Fixture::new(SqsPolled::new(
        env.clients.sqs.clone(),
        &env.resources.orders_queue_url,
        env.resources.dead_letter_queue_url.clone(),
    )))
}
