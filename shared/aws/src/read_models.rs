//! The read models on DynamoDB: OrderStatusTable (`orderId`) and InventoryTable (`ProductID`).
//!
//! Only the stream projectors write them (design.md §9: never from the command path), each put
//! guarded by `attribute_not_exists(pk) OR version < :v`, so a repeated or older stream record
//! never moves a view backwards. Reads are strongly consistent. Each row keeps the whole view
//! as JSON in `view`, plus the attributes the contract indexes or shows (`status`, `updatedAt`,
//! `available`).
//!
//! The sweeper's index on OrderStatusTable is sparse: its key attributes (`sweepStatus`,
//! `sweepSince`) are on a row only while the order is PLACED, so an order enters the index
//! once and leaves it once (2 index writes per order) instead of the index following every
//! status put (a delete and a put each time `updatedAt` moves).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use order_app::ReadModels;
use order_domain::order::OrderStatus;
use order_domain::ports::PortError;
use order_domain::{OrderId, ProductId, Timestamp};
use order_read_models::{InventoryView, OrderView};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{AwsClients, ConfigError, INVENTORY_TABLE, ORDER_STATUS_TABLE, require_env};
use crate::errors::port_error;

/// The name of OrderStatusTable's sparse index on (`sweepStatus`, `sweepSince`), which only
/// the sweeper reads. (It replaces the dense `byStatus` index: an index's keys cannot change
/// in place, so the new keys get a new name and CloudFormation swaps the two.)
pub const SWEEP_INDEX: &str = "bySweepStatus";
/// The sweep index's partition key: the status, present only while the sweeper needs the row.
pub const SWEEP_STATUS: &str = "sweepStatus";
/// The sweep index's sort key: when the row entered that status (ms), oldest first.
pub const SWEEP_SINCE: &str = "sweepSince";

/// The sweep index's key attributes for `view`: `Some` only while the order is PLACED, the
/// one status the sweeper re-drives (design.md §4). Every writer of OrderStatusTable rows
/// (the projector, audit replay's repair) adds them, so the index stays sparse and exact.
pub fn sweep_attributes(view: &OrderView) -> Option<[(String, AttributeValue); 2]> {
    (view.status == OrderStatus::Placed).then(|| {
        [
            (SWEEP_STATUS.to_owned(), s(view.status.as_str())),
            (SWEEP_SINCE.to_owned(), n(view.updated_at.as_millis())),
        ]
    })
}

/// What a version-guarded put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewWrite {
    Written,
    /// The table already held this version or a newer one: nothing changed (not an error).
    Stale,
}

type Item = HashMap<String, AttributeValue>;

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn view_json<V: Serialize>(view: &V) -> Result<AttributeValue, PortError> {
    serde_json::to_string(view)
        .map(AttributeValue::S)
        .map_err(|e| PortError(format!("encoding a view: {e}")))
}

fn decode_view<V: DeserializeOwned>(table: &str, item: &Item) -> Result<V, PortError> {
    let text = item
        .get("view")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| PortError(format!("{table}: a row without its `view`")))?;
    serde_json::from_str(text).map_err(|e| PortError(format!("{table}: unreadable view: {e}")))
}

/// A consistent GetItem of one row's view.
async fn get_view<V: DeserializeOwned>(
    client: &Client,
    table: &str,
    key: (&str, String),
) -> Result<Option<V>, PortError> {
    let out = client
        .get_item()
        .table_name(table)
        .key(key.0, s(key.1))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| port_error(table, &e))?;
    out.item.map(|i| decode_view(table, &i)).transpose()
}

/// A PutItem that only lands if the row is absent or older than `version`.
async fn put_guarded(
    client: &Client,
    table: &str,
    key_attr: &str,
    version: u64,
    item: Item,
) -> Result<ViewWrite, PortError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk) OR #v < :v")
        .expression_attribute_names("#pk", key_attr)
        .expression_attribute_names("#v", "version")
        .expression_attribute_values(":v", n(version))
        .send()
        .await;
    match result {
        Ok(_) => Ok(ViewWrite::Written),
        Err(e) => match e.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(ViewWrite::Stale),
            _ => Err(port_error(table, &e)),
        },
    }
}

/// OrderStatusTable: one row per order (PK `orderId`).
#[derive(Debug, Clone)]
pub struct OrderStatusTable {
    client: Client,
    table: String,
}

impl OrderStatusTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `ORDER_STATUS_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.dynamodb.clone(),
            require_env(ORDER_STATUS_TABLE)?,
        ))
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The order's view, strongly consistent.
    pub async fn get(&self, id: OrderId) -> Result<Option<OrderView>, PortError> {
        get_view(&self.client, &self.table, ("orderId", id.to_string())).await
    }

    /// Stores `view` unless the table holds its version or a newer one.
    #[tracing::instrument(skip_all, fields(order_id = %view.order_id, version = view.version))]
    pub async fn put(&self, view: &OrderView) -> Result<ViewWrite, PortError> {
        let mut item = HashMap::from([
            ("orderId".to_owned(), s(view.order_id.to_string())),
            ("status".to_owned(), s(view.status.as_str())),
            ("version".to_owned(), n(view.version)),
            ("updatedAt".to_owned(), n(view.updated_at.as_millis())),
            ("view".to_owned(), view_json(view)?),
        ]);
        // A PutItem replaces the whole row, so a row that leaves PLACED leaves the index.
        item.extend(sweep_attributes(view).into_iter().flatten());
        put_guarded(&self.client, &self.table, "orderId", view.version, item).await
    }

    /// Orders still PLACED whose row has not changed since before `now - older_than_ms`, oldest
    /// first, at most `limit` (the sweeper re-drives them). Reads the sparse sweep index, which
    /// is eventually consistent: the sweeper's start is idempotent, so a stale answer is safe.
    pub async fn placed_before(
        &self,
        now: Timestamp,
        older_than_ms: u64,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        let cutoff = now.as_millis().saturating_sub(older_than_ms);
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(SWEEP_INDEX)
                .key_condition_expression("#st = :st AND #u < :u")
                .expression_attribute_names("#st", SWEEP_STATUS)
                .expression_attribute_names("#u", SWEEP_SINCE)
                .expression_attribute_values(":st", s(OrderStatus::Placed.as_str()))
                .expression_attribute_values(":u", n(cutoff))
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(&self.table, &e))?;
            out.extend(page.items().iter().filter_map(|i| {
                i.get("orderId")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|t| OrderId::parse(t).ok())
            }));
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

/// InventoryTable: stock per product (PK `ProductID`).
#[derive(Debug, Clone)]
pub struct InventoryTable {
    client: Client,
    table: String,
}

impl InventoryTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `INVENTORY_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.dynamodb.clone(),
            require_env(INVENTORY_TABLE)?,
        ))
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The product's view, strongly consistent.
    pub async fn get(&self, id: &ProductId) -> Result<Option<InventoryView>, PortError> {
        get_view(
            &self.client,
            &self.table,
            ("ProductID", id.as_str().to_owned()),
        )
        .await
    }

    /// Stores `view` unless the table holds its version or a newer one.
    #[tracing::instrument(skip_all, fields(product_id = %view.product_id, version = view.version))]
    pub async fn put(&self, view: &InventoryView) -> Result<ViewWrite, PortError> {
        let item = HashMap::from([
            ("ProductID".to_owned(), s(view.product_id.as_str())),
            ("available".to_owned(), n(view.available)),
            ("version".to_owned(), n(view.version)),
            ("view".to_owned(), view_json(view)?),
        ]);
        put_guarded(&self.client, &self.table, "ProductID", view.version, item).await
    }
}

/// Both read models, as GET /orders/{id} and GET /inventory/{id} read them.
#[derive(Debug, Clone)]
pub struct DynamoReadModels {
    pub orders: OrderStatusTable,
    pub inventory: InventoryTable,
}

impl DynamoReadModels {
    pub fn new(client: &Client, order_status_table: &str, inventory_table: &str) -> Self {
        Self {
            orders: OrderStatusTable::new(client.clone(), order_status_table),
            inventory: InventoryTable::new(client.clone(), inventory_table),
        }
    }

    /// The tables named by `ORDER_STATUS_TABLE` and `INVENTORY_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self {
            orders: OrderStatusTable::from_env(clients)?,
            inventory: InventoryTable::from_env(clients)?,
        })
    }

    /// See [`OrderStatusTable::put`].
    pub async fn put_order_view(&self, view: &OrderView) -> Result<ViewWrite, PortError> {
        self.orders.put(view).await
    }

    /// See [`InventoryTable::put`].
    pub async fn put_inventory_view(&self, view: &InventoryView) -> Result<ViewWrite, PortError> {
        self.inventory.put(view).await
    }

    /// Orders PLACED and unchanged for `older_than_ms` (the sweeper's question); see
    /// [`OrderStatusTable::placed_before`].
    pub async fn stuck_placed_orders(
        &self,
        older_than_ms: u64,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.orders
            .placed_before(Timestamp::now(), older_than_ms, limit)
            .await
    }
}

impl ReadModels for DynamoReadModels {
    async fn get_order(&self, id: OrderId) -> Result<Option<OrderView>, PortError> {
        self.orders.get(id).await
    }

    async fn get_inventory(&self, id: &ProductId) -> Result<Option<InventoryView>, PortError> {
        self.inventory.get(id).await
    }
}
