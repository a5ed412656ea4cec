//! How each backend's adapters are built for one contract case.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use order_app::place::{Intake, PlaceError, Recorded};
use order_aws::{
    DynamoDedup, DynamoEventStore, DynamoIdempotency, DynamoIntake, DynamoKeys, DynamoReadModels,
    SnsNotifier, SqsPolled, TopicArns,
};
use order_domain::ports::NewKey;
use order_domain::ports::Topic;
use order_domain::{CustomerId, Email, OrderId, StreamWrite};
use order_embedded::db::{Db, Durability};
use order_embedded::idempotency::SqliteIdempotency;
use order_embedded::intake::SqliteIntake;
use order_embedded::keys::SqliteKeys;
use order_embedded::mbox::MESSAGE_ID_DOMAIN;
use order_embedded::outbox::OutboxNotifier;
use order_embedded::queue::SqliteQueue;
use order_embedded::read_models::SqliteReadModels;
use order_embedded::store::SqliteEventStore;
use order_testkit::Fixture;
use order_testkit::intake::IntakeFixture;
use order_testkit::keys::KeysFixture;
use order_testkit::notifier::{NotifierFixture, SnsDeliveries};
use order_testkit::read_models::Stores;
use order_testkit::support::{Emulator, Sqlite, emulator, sqlite};
use order_testkit::sweep::SweepStores;
use rusqlite::OptionalExtension;

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn sqlite_event_store(_test: &'static str) -> Option<Fixture<SqliteEventStore>> {
    let db = sqlite();
    Some(Fixture::new(SqliteEventStore::new(db.db.clone())).keeping(db))
}

pub async fn dynamodb_event_store(test: &'static str) -> Option<Fixture<DynamoEventStore>> {
    let env = emulator(test).await?;
    Some(Fixture::new(DynamoEventStore::new(
        env.clients.dynamodb().clone(),
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
        env.clients.dynamodb().clone(),
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
    let client = env.clients.dynamodb();
    Some(Fixture::new(Stores {
        log: DynamoEventStore::new(client.clone(), &env.resources.events_table),
        views: DynamoReadModels::new(
            client,
            &env.resources.order_status_table,
            &env.resources.inventory_table,
        ),
    }))
}

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn sqlite_sweep(
    _test: &'static str,
) -> Option<Fixture<SweepStores<SqliteEventStore, SqliteReadModels, SqliteQueue>>> {
    let db = sqlite();
    let stores = SweepStores {
        log: SqliteEventStore::new(db.db.clone()),
        views: SqliteReadModels::new(db.db.clone()),
        queue: SqliteQueue::orders(db.db.clone()),
    };
    Some(Fixture::new(stores).keeping(db))
}

pub async fn dynamodb_sweep(
    test: &'static str,
) -> Option<Fixture<SweepStores<DynamoEventStore, DynamoReadModels, SqsPolled>>> {
    let env = emulator(test).await?;
    let client = env.clients.dynamodb();
    let r = &env.resources;
    Some(Fixture::new(SweepStores {
        log: DynamoEventStore::new(client.clone(), &r.events_table),
        views: DynamoReadModels::new(client, &r.order_status_table, &r.inventory_table),
        queue: SqsPolled::new(
            env.clients.sqs().clone(),
            &r.orders_queue_url,
            r.dead_letter_queue_url.clone(),
        ),
    }))
}

/// The embedded outbox in a temp dir; deliveries are the `Message-ID`s in its mbox.
pub struct OutboxFixture {
    notifier: OutboxNotifier,
    dir: tempfile::TempDir,
}

fn subscriber() -> Email {
    Email::parse("ops@example.com").expect("valid address")
}

impl NotifierFixture for OutboxFixture {
    type Notifier = OutboxNotifier;

    fn notifier(&self) -> &OutboxNotifier {
        &self.notifier
    }

    fn restarted(&self) -> OutboxNotifier {
        OutboxNotifier::new(self.dir.path(), &subscriber()).expect("reopen the outbox")
    }

    async fn deliveries(&self, topic: Topic, dedup_id: &str) -> usize {
        let header = format!("Message-ID: <{dedup_id}@{MESSAGE_ID_DOMAIN}>");
        self.notifier
            .messages(topic)
            .iter()
            .filter(|m| m.lines().any(|l| l == header))
            .count()
    }
}

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn outbox_notifier(_test: &'static str) -> Option<Fixture<OutboxFixture>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let notifier = OutboxNotifier::new(dir.path(), &subscriber()).expect("open the outbox");
    Some(Fixture::new(OutboxFixture { notifier, dir }))
}

/// SNS with its dedup table on the emulator; deliveries are what queues subscribed to the
/// topics received.
pub struct SnsFixture {
    notifier: SnsNotifier,
    deliveries: SnsDeliveries,
    env: Emulator,
}

impl SnsFixture {
    fn build(env: &Emulator) -> SnsNotifier {
        let r = &env.resources;
        SnsNotifier::new(
            env.clients.sns().clone(),
            TopicArns {
                order_alerts: Some(r.order_alerts_topic_arn.clone()),
                order_errors: Some(r.order_errors_topic_arn.clone()),
                critical_alerts: Some(r.critical_alerts_topic_arn.clone()),
            },
            DynamoDedup::new(env.clients.dynamodb().clone(), &r.notification_dedup_table),
        )
    }
}

impl NotifierFixture for SnsFixture {
    type Notifier = SnsNotifier;

    fn notifier(&self) -> &SnsNotifier {
        &self.notifier
    }

    fn restarted(&self) -> SnsNotifier {
        Self::build(&self.env)
    }

    async fn deliveries(&self, topic: Topic, dedup_id: &str) -> usize {
        self.deliveries.count(topic, dedup_id).await
    }
}

pub async fn sns_notifier(test: &'static str) -> Option<Fixture<SnsFixture>> {
    let env = emulator(test).await?;
    Some(Fixture::new(SnsFixture {
        notifier: SnsFixture::build(&env),
        deliveries: SnsDeliveries::subscribe(&env).await,
        env,
    }))
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
        env.clients.sqs().clone(),
        &env.resources.orders_queue_url,
        env.resources.dead_letter_queue_url.clone(),
    )))
}

/// Keys in a fresh database, wrapped under its temp dir's master key.
pub struct SqliteKeysFixture {
    keys: SqliteKeys,
    db: Sqlite,
}

impl KeysFixture for SqliteKeysFixture {
    type Keys = SqliteKeys;

    fn keys(&self) -> &SqliteKeys {
        &self.keys
    }

    async fn reopened(&self) -> SqliteKeys {
        self.db.db.close();
        let db = Db::open(self.db.db.path(), Durability::Normal).expect("reopen the database");
        SqliteKeys::open(db, self.db.dir.path()).expect("reopen the key store")
    }

    fn another(&self) -> SqliteKeys {
        SqliteKeys::open(self.db.db.clone(), self.db.dir.path()).expect("open the key store")
    }

    async fn stored_form(&self, customer: &CustomerId) -> Option<Vec<u8>> {
        let id = customer.as_str().to_owned();
        self.db
            .db
            .read(move |c| {
                c.query_row(
                    "SELECT wrapped_key FROM customer_keys WHERE customer_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()
            })
            .await
            .unwrap()
    }

    async fn copy_stored(&self, from: &CustomerId, to: &CustomerId) {
        let (from, to) = (from.as_str().to_owned(), to.as_str().to_owned());
        self.db
            .db
            .write(move |c| {
                c.execute(
                    "INSERT OR REPLACE INTO customer_keys (customer_id, key_id, wrapped_key, created_at) \
                     SELECT ?2, key_id, wrapped_key, created_at FROM customer_keys WHERE customer_id = ?1",
                    [from, to],
                )
            })
            .await
            .unwrap();
    }
}

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn sqlite_keys(_test: &'static str) -> Option<Fixture<SqliteKeysFixture>> {
    let db = sqlite();
    let keys = SqliteKeys::open(db.db.clone(), db.dir.path()).expect("open the key store");
    Some(Fixture::new(SqliteKeysFixture { keys, db }))
}

/// Keys on the test's own table, wrapped by its own KMS key on the emulator.
pub struct DynamoKeysFixture {
    keys: DynamoKeys,
    env: Emulator,
}

impl DynamoKeysFixture {
    fn build(env: &Emulator) -> DynamoKeys {
        DynamoKeys::new(
            env.clients.dynamodb().clone(),
            env.clients.kms().clone(),
            &env.resources.customer_keys_table,
            &env.resources.kms_key_id,
        )
    }
}

impl KeysFixture for DynamoKeysFixture {
    type Keys = DynamoKeys;

    fn keys(&self) -> &DynamoKeys {
        &self.keys
    }

    async fn reopened(&self) -> DynamoKeys {
        Self::build(&self.env)
    }

    fn another(&self) -> DynamoKeys {
        Self::build(&self.env)
    }

    async fn stored_form(&self, customer: &CustomerId) -> Option<Vec<u8>> {
        let item = self.item(customer).await?;
        Some(item["wrappedKey"].as_b().unwrap().as_ref().to_vec())
    }

    async fn copy_stored(&self, from: &CustomerId, to: &CustomerId) {
        let mut item = self.item(from).await.expect("a stored key to copy");
        item.insert("customerId".into(), AttributeValue::S(to.as_str().into()));
        self.env
            .clients
            .dynamodb()
            .put_item()
            .table_name(&self.env.resources.customer_keys_table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

impl DynamoKeysFixture {
    async fn item(&self, customer: &CustomerId) -> Option<HashMap<String, AttributeValue>> {
        self.env
            .clients
            .dynamodb()
            .get_item()
            .table_name(&self.env.resources.customer_keys_table)
            .key("customerId", AttributeValue::S(customer.as_str().into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

pub async fn dynamodb_keys(test: &'static str) -> Option<Fixture<DynamoKeysFixture>> {
    let env = emulator(test).await?;
    Some(Fixture::new(DynamoKeysFixture {
        keys: DynamoKeysFixture::build(&env),
        env,
    }))
}

/// The embedded intake on a fresh database: the log, the queue's table and the keys in one
/// commit.
pub struct SqliteIntakeFixture {
    intake: SqliteIntake,
    keys: SqliteKeys,
    queue: SqliteQueue,
    _db: Sqlite,
}

impl IntakeFixture for SqliteIntakeFixture {
    type Store = SqliteEventStore;
    type Keys = SqliteKeys;
    type Queue = SqliteQueue;

    fn store(&self) -> &SqliteEventStore {
        &self.intake.store
    }
    fn keys(&self) -> &SqliteKeys {
        &self.keys
    }
    fn queue(&self) -> &SqliteQueue {
        &self.queue
    }
    fn stores_keys(&self) -> bool {
        self.intake.stores_keys()
    }
    async fn record(
        &self,
        write: StreamWrite,
        order: OrderId,
        new_key: Option<&NewKey>,
    ) -> Result<Recorded, PlaceError> {
        self.intake.record(write, order, new_key).await
    }
}

#[allow(clippy::unused_async)] // every backend builder has the same async shape
pub async fn sqlite_intake(_test: &'static str) -> Option<Fixture<SqliteIntakeFixture>> {
    let db = sqlite();
    let queue = SqliteQueue::orders(db.db.clone());
    let intake = SqliteIntake {
        store: SqliteEventStore::new(db.db.clone()),
        queue: queue.clone(),
    };
    let keys = SqliteKeys::open(db.db.clone(), db.dir.path()).expect("open the key store");
    Some(Fixture::new(SqliteIntakeFixture {
        intake,
        keys,
        queue,
        _db: db,
    }))
}

/// The AWS intake on the test's own tables and queue: a new key and the first event in one
/// `TransactWriteItems`, then the send.
pub struct DynamoIntakeFixture {
    store: DynamoEventStore,
    keys: DynamoKeys,
    queue: SqsPolled,
}

impl IntakeFixture for DynamoIntakeFixture {
    type Store = DynamoEventStore;
    type Keys = DynamoKeys;
    type Queue = SqsPolled;

    fn store(&self) -> &DynamoEventStore {
        &self.store
    }
    fn keys(&self) -> &DynamoKeys {
        &self.keys
    }
    fn queue(&self) -> &SqsPolled {
        &self.queue
    }
    fn stores_keys(&self) -> bool {
        self.intake().stores_keys()
    }
    async fn record(
        &self,
        write: StreamWrite,
        order: OrderId,
        new_key: Option<&NewKey>,
    ) -> Result<Recorded, PlaceError> {
        self.intake().record(write, order, new_key).await
    }
}

impl DynamoIntakeFixture {
    fn intake(&self) -> DynamoIntake<'_, SqsPolled> {
        DynamoIntake {
            store: &self.store,
            queue: &self.queue,
            keys: &self.keys,
        }
    }
}

pub async fn dynamodb_intake(test: &'static str) -> Option<Fixture<DynamoIntakeFixture>> {
    let env = emulator(test).await?;
    Some(Fixture::new(DynamoIntakeFixture {
        store: env.store(),
        keys: DynamoKeysFixture::build(&env),
        queue: SqsPolled::new(
            env.clients.sqs().clone(),
            &env.resources.orders_queue_url,
            env.resources.dead_letter_queue_url.clone(),
        ),
    }))
}
