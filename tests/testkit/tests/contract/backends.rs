//! How each backend's adapters are built for one contract case.

use order_aws::{DynamoEventStore, DynamoIdempotency};
use order_embedded::idempotency::SqliteIdempotency;
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
pub async fn sqlite_idempotency(_test: &'static str) -> Option<Fixture<SqliteIdempotency>> {
    let db = sqlite();
    Some(Fixture::new(SqliteIdempotency::new(db.db.clone())).keeping(db))
}

pub async fn dynamodb_idempotency(test: &'static str) -> Option<Fixture<DynamoIdempotency>> {
    let env = emulator(test).await?;
    Some(Fixture::new(DynamoIdempotency::new(
        env.clients.dynamodb.clone(),
        &env.resources.idempotency_table,
    )))
}
