//! A test's own tables on the emulator: projecting the log into them as the Streams
//! projectors would, tampering with items, the replay command on them, and dropping them.

use std::collections::HashMap;
use std::process::Command;

use order_aws::codec;
use order_aws::read_models::{InventoryTable, OrderStatusTable};
use order_aws::{AwsClients, AwsResources, DynamoEventStore, Projector, Target};
use order_domain::ports::EventStore;
use order_domain::{RecordedEvent, StreamId};
use order_replay::dynamo::DynamoReplay;
use order_replay::dynamo::aws_sdk_dynamodb::types::AttributeValue;
use order_testkit::server::Ran;
use order_testkit::support::Emulator;

use crate::run::{Run, mixed_run};

/// A test's own tables on the emulator.
pub struct Aws {
    pub clients: AwsClients,
    pub resources: AwsResources,
    pub store: DynamoEventStore,
}

impl From<Emulator> for Aws {
    fn from(env: Emulator) -> Self {
        let store = env.store();
        Self {
            clients: env.clients,
            resources: env.resources,
            store,
        }
    }
}

impl Aws {
    pub fn projectors(&self) -> [Projector; 2] {
        let db = self.clients.dynamodb();
        [
            Projector::new(
                self.store.clone(),
                Target::OrderStatus(OrderStatusTable::new(
                    db.clone(),
                    &self.resources.order_status_table,
                )),
            ),
            Projector::new(
                self.store.clone(),
                Target::Inventory(InventoryTable::new(
                    db.clone(),
                    &self.resources.inventory_table,
                )),
            ),
        ]
    }

    pub async fn events(&self, stream: &StreamId) -> Vec<RecordedEvent> {
        self.store.read_stream(stream, 0).await.unwrap()
    }

    /// Projects every event of `run` except the last `hold_back` of `held` (what the Streams
    /// projectors would have done), so the live read models exist.
    pub async fn project(&self, run: &Run, held: Option<(&StreamId, usize)>) {
        let projectors = self.projectors();
        for stream in &run.streams {
            let mut events = self.events(stream).await;
            if let Some((s, n)) = held
                && s == stream
            {
                events.truncate(events.len() - n);
            }
            for e in &events {
                for p in &projectors {
                    p.apply(e).await.unwrap();
                }
            }
        }
    }

    /// A mixed run, fully projected.
    pub async fn projected_run(&self) -> Run {
        let run = mixed_run(&self.store).await;
        self.project(&run, None).await;
        run
    }

    pub async fn total_events(&self, run: &Run) -> usize {
        let mut n = 0;
        for s in &run.streams {
            n += self.events(s).await.len();
        }
        n
    }

    /// `orders replay --backend aws args...` on this test's tables.
    pub fn replay(&self, args: &[&str]) -> Ran {
        Command::new(env!("CARGO_BIN_EXE_orders"))
            .args(["replay", "--backend", "aws"])
            .args(args)
            .envs(self.resources.env_pairs())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
            .into()
    }

    pub async fn get_event_item(
        &self,
        stream: &StreamId,
        version: u64,
    ) -> HashMap<String, AttributeValue> {
        self.clients
            .dynamodb()
            .get_item()
            .table_name(&self.resources.events_table)
            .set_key(Some(codec::key(stream, version)))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    pub async fn put_item(&self, table: &str, item: HashMap<String, AttributeValue>) {
        self.clients
            .dynamodb()
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    pub async fn delete_item(&self, table: &str, key: HashMap<String, AttributeValue>) {
        self.clients
            .dynamodb()
            .delete_item()
            .table_name(table)
            .set_key(Some(key))
            .send()
            .await
            .unwrap();
    }

    /// Deletes the test's tables (a passing test leaves the shared emulator as small as it
    /// found it; a failing one leaves them to look at).
    pub async fn drop_tables(self) {
        let r = &self.resources;
        for table in [
            &r.events_table,
            &r.order_status_table,
            &r.inventory_table,
            &r.idempotency_table,
        ] {
            let _ = self
                .clients
                .dynamodb()
                .delete_table()
                .table_name(table)
                .send()
                .await;
        }
    }

    pub fn tables(&self) -> DynamoReplay {
        DynamoReplay::new(
            self.clients.dynamodb().clone(),
            &self.resources.events_table,
            &self.resources.order_status_table,
            &self.resources.inventory_table,
        )
    }
}

/// A string attribute.
pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}
