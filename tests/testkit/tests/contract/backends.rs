//! How each backend's adapters are built for one contract case.

use order_aws::{DynamoEventStore, DynamoIdempotency, DynamoReadModels};
use order_embedded::idempotency::SqliteIdempotency;
use order_embedded::read_models::SqliteReadModels;
use order_embedded::store::SqliteEventStore;
use order_testkit::Fixture;
use order_testkit::read_models::Stores;
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

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn sqlite_read_models(
    _test: &'static str,
) -> Option<Fixture<Stores<SqliteEventStore, SqliteReadModels>>> {
    let db = sqlite();
    let stores = Stores {
        log: SqliteEventStore::new(db.db.clone()),
        views: SqliteReadModels::new(db.db.clone()),
    };
    Some(Fixture::new(stores).keeping(db))
}

pub async fn dynamodb_read_models(
    test: &'static str,
) -> Option<Fixture<Stores<DynamoEventStore, DynamoReadModels>>> {
    let env = emulator(test).await?;
    let client = &env.clients.dynamodb;
    Some(Fixture::new(Stores {
        log: DynamoEventStore::new(client.clone(), &env.resources.events_table),
        views: DynamoReadModels::new(
            client,
            &env.resources.order_status_table,
            &env.resources.inventory_table,
        ),
    }))
}
