//! The emulator's own limits, measured by `pipeline-bench --emulator` in the same run as the
//! emulator flow, so that the flow's rate can be read as a fraction of what the emulator can do.
//!
//! - [`put_item_ceiling`]: conditional PutItems on a scratch table shaped like the events table
//!   (a string key, a number sort key, a NEW_IMAGE stream), through the same SDK, one at a time
//!   and from several clients at once. moto serialises DynamoDB (our wrapper's lock), so the
//!   concurrent rate shows what the lock leaves.
//! - [`Requests`]: what the emulator served, per operation (count, time waiting for the DynamoDB
//!   lock, time in moto), from the wrapper's `GET /_order_stack/requests`; the difference over
//!   the flow divided by its orders is where an order's time went on the emulator. Another
//!   emulator (without that route) gives `None`.

// Rates are float arithmetic on counts far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};

/// The emulator's raw conditional-PutItem rate.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    /// One client, one request at a time.
    pub sequential_per_s: f64,
    /// `clients` clients at once.
    pub concurrent_per_s: f64,
    pub clients: usize,
}

impl Ceiling {
    /// The flow's DynamoDB (and Streams) requests per order, when the emulator told.
    pub fn calls_per_order(orders: usize, requests: Option<&Requests>) -> Option<f64> {
        requests.map(|r| r.dynamodb_calls() as f64 / orders.max(1) as f64)
    }

    /// Adds the ceiling's fields to the emulator flow's JSON object: the PutItem rates, the
    /// DynamoDB calls per order, the flow's rate ÷ (PutItems/s ÷ calls per order), and per
    /// operation where an order's emulator time went.
    pub fn add_json(
        &self,
        fields: &mut serde_json::Value,
        orders_per_s: f64,
        orders: usize,
        requests: Option<&Requests>,
    ) {
        let calls = Self::calls_per_order(orders, requests);
        let more = serde_json::json!({
            "put_item_per_s": self.sequential_per_s,
            "put_item_per_s_4_clients": self.concurrent_per_s,
            "put_item_clients": self.clients,
            "calls_per_order": calls,
            "ratio_to_ceiling": calls.map(|c| orders_per_s / (self.sequential_per_s / c)),
            "requests_per_order": requests.map(|r| r.per_order_json(orders)),
        });
        if let (Some(fields), serde_json::Value::Object(more)) = (fields.as_object_mut(), more) {
            fields.extend(more);
        }
    }

    /// The table rows: the PutItem rates, the ratio, and the busiest operations per order.
    pub fn print_rows(&self, orders_per_s: f64, orders: usize, requests: Option<&Requests>) {
        println!(
            "| emulator ceiling: conditional PutItem, 1 / {} clients | {:.0} / {:.0} per s |",
            self.clients, self.sequential_per_s, self.concurrent_per_s
        );
        let Some(calls) = Self::calls_per_order(orders, requests) else {
            return;
        };
        println!(
            "| emulator flow ÷ (PutItems/s ÷ {calls:.1} DynamoDB calls per order) | {:.2} |",
            orders_per_s / (self.sequential_per_s / calls)
        );
        let per_order = requests.map(|r| r.per_order_json(orders));
        for op in per_order
            .iter()
            .filter_map(|v| v.as_array())
            .flatten()
            .take(10)
        {
            println!(
                "| per order: {} | {:.2} calls, {:.2} ms in moto, {:.2} ms waiting for its lock |",
                op["operation"].as_str().unwrap_or_default(),
                op["calls"].as_f64().unwrap_or_default(),
                op["served_ms"].as_f64().unwrap_or_default(),
                op["waited_ms"].as_f64().unwrap_or_default()
            );
        }
    }
}

/// A DynamoDB client for `endpoint` with the emulator's dummy credentials.
async fn client(endpoint: &str) -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await;
    Client::new(&config)
}

/// `puts` conditional PutItems one at a time, then `puts` more from `clients` concurrent
/// clients, on a scratch table deleted afterwards.
pub async fn put_item_ceiling(
    endpoint: &str,
    puts: usize,
    clients: usize,
) -> anyhow::Result<Ceiling> {
    let client = client(endpoint).await;
    let table = format!("bench-ceiling-{}", std::process::id());
    create_table(&client, &table).await?;
    let result = async {
        let t = Instant::now();
        put_range(&client, &table, 0, puts).await?;
        let sequential_per_s = puts as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        let per = puts.div_ceil(clients.max(1));
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..clients.max(1) {
            let (client, table) = (client.clone(), table.clone());
            let from = puts + c * per;
            tasks.spawn(async move { put_range(&client, &table, from, from + per).await });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        let concurrent_per_s = (per * clients.max(1)) as f64 / t.elapsed().as_secs_f64();
        Ok(Ceiling {
            sequential_per_s,
            concurrent_per_s,
            clients,
        })
    }
    .await;
    let _ = client.delete_table().table_name(&table).send().await;
    result
}

async fn create_table(client: &Client, table: &str) -> anyhow::Result<()> {
    let attr = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(attr("pk", ScalarAttributeType::S)?)
        .attribute_definitions(attr("sk", ScalarAttributeType::N)?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// Items `from..to`, each a new key written only if absent (as an event's append is).
async fn put_range(client: &Client, table: &str, from: usize, to: usize) -> anyhow::Result<()> {
    let payload = AttributeValue::S("x".repeat(300));
    for i in from..to {
        client
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(format!("s{i}")))
            .item("sk", AttributeValue::N("1".to_owned()))
            .item("payload", payload.clone())
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
    }
    Ok(())
}

/// Operations a host makes whether or not there is work (by the end of their names).
const IDLE_POLLS: [&str; 5] = [
    "ReceiveMessage",
    "GetRecords",
    "GetQueueAttributes",
    "DescribeStream",
    "GetShardIterator",
];

/// How often [`Requests::settled`] reads the emulator's totals.
const SETTLE_POLL: Duration = Duration::from_millis(100);

/// What the emulator served for one operation.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub struct Served {
    pub count: u64,
    /// Seconds spent waiting for the wrapper's DynamoDB lock.
    pub waited_s: f64,
    /// Seconds moto took (an SQS long poll's wait included).
    pub served_s: f64,
}

/// Per operation (`DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`, `sns`...).
#[derive(Debug, Clone, Default)]
pub struct Requests(pub BTreeMap<String, Served>);

impl Requests {
    /// The wrapper's totals so far, or `None` when the emulator does not serve them.
    pub async fn fetch(endpoint: &str) -> Option<Self> {
        let url = format!("{}/_order_stack/requests", endpoint.trim_end_matches('/'));
        let r = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok().map(Self)
    }

    /// What was served between `before` and `self`.
    #[must_use]
    pub fn since(&self, before: &Self) -> Self {
        let mut out = BTreeMap::new();
        for (op, now) in &self.0 {
            let was = before.0.get(op).copied().unwrap_or_default();
            if now.count > was.count {
                out.insert(
                    op.clone(),
                    Served {
                        count: now.count - was.count,
                        waited_s: now.waited_s - was.waited_s,
                        served_s: now.served_s - was.served_s,
                    },
                );
            }
        }
        Self(out)
    }

    /// Requests other than the idle polls a quiet host keeps making (queue long polls, stream
    /// reads, the metrics' queue gauges): what the pipeline's own work costs.
    pub fn work_calls(&self) -> u64 {
        self.0
            .iter()
            .filter(|(op, _)| !IDLE_POLLS.iter().any(|idle| op.ends_with(idle)))
            .map(|(_, s)| s.count)
            .sum()
    }

    /// Polls the emulator until its [`Self::work_calls`] stop growing for `quiet`, and returns
    /// its totals then and when they last grew: after the last order ends, the emails of the
    /// orders' events are still being sent (the local rule router trails the workflow), and an
    /// order's calls are all of them. `None` when the emulator does not tell, or it never went
    /// quiet within `limit`.
    pub async fn settled(
        endpoint: &str,
        quiet: Duration,
        limit: Duration,
    ) -> Option<(Self, Instant)> {
        let started = Instant::now();
        // The totals when the work last grew (the idle polls after it are not the orders').
        let mut at_change = Self::fetch(endpoint).await?;
        let mut changed = Instant::now();
        while started.elapsed() < limit {
            tokio::time::sleep(SETTLE_POLL).await;
            let now = Self::fetch(endpoint).await?;
            if now.work_calls() != at_change.work_calls() {
                (at_change, changed) = (now, Instant::now());
            } else if changed.elapsed() >= quiet {
                return Some((at_change, changed));
            }
        }
        None
    }

    /// Requests that go through the DynamoDB lock (DynamoDB and DynamoDB Streams).
    pub fn dynamodb_calls(&self) -> u64 {
        self.0
            .iter()
            .filter(|(op, _)| op.starts_with("DynamoDB"))
            .map(|(_, s)| s.count)
            .sum()
    }

    /// Per order: `{op: {calls, waited_ms, served_ms}}`, busiest first by time served.
    pub fn per_order_json(&self, orders: usize) -> serde_json::Value {
        let n = orders.max(1) as f64;
        let mut ops: Vec<_> = self.0.iter().collect();
        ops.sort_by(|a, b| b.1.served_s.total_cmp(&a.1.served_s));
        serde_json::Value::Array(
            ops.into_iter()
                .map(|(op, s)| {
                    serde_json::json!({
                        "operation": op,
                        "calls": s.count as f64 / n,
                        "waited_ms": s.waited_s * 1e3 / n,
                        "served_ms": s.served_s * 1e3 / n,
                    })
                })
                .collect(),
        )
    }
}
