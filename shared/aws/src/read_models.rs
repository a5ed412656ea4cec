//! The read models on DynamoDB: OrderStatusTable (`orderId`) and InventoryTable (`ProductID`).
//!
//! Only the stream projectors write them (never the command path, which answers from the log
//! and leaves the views to the projection step), each put guarded by
//! `attribute_not_exists(pk) OR version < :v`, so a repeated or older stream record never
//! moves a view backwards. Reads are strongly consistent. Each row keeps the whole view
//! as JSON in `view`, plus the attributes the contract indexes or shows (`status`, `updatedAt`,
//! `available`).
//!
//! The sweeper's index on OrderStatusTable ([`SWEEP_INDEX`]) is sparse and sharded: its key
//! attributes are on a row only while the order is open, and do not move while it stays open,
//! so an order enters the index once and leaves it once (2 index writes per order) instead of
//! the index following every status put (a delete and a put each time `updatedAt` moves).
//!
//! The customer index ([`CUSTOMER_INDEX`], GET /orders) is dense: every order row carries
//! `customerId` and `placedKey` (the placing instant and the id as one sortable string,
//! [`OrderCursor::placed_key`]), which never change, and the index projects those keys
//! only, so an order enters it once (its first put) and no later status put writes to it; a
//! page is one Query of the index and one BatchGetItem of its rows.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use order_app::ReadModels;
use order_app::query::KnownProducts;
use order_domain::order::OrderStatus;
use order_domain::ports::{OpenOrder, PortError, StuckOrders};
use order_domain::{CustomerId, OrderId, ProductId, Timestamp};
use order_read_models::{
    InventoryView, OrderCursor, OrderPage, OrderView, View, ViewStore, ViewWrite,
};

use crate::config::{AwsClients, ConfigError, INVENTORY_TABLE, ORDER_STATUS_TABLE, require_env};
use crate::errors::{port_error, written};

mod by_customer;
mod counts;
mod sweep;
pub use by_customer::{CUSTOMER_ID, CUSTOMER_INDEX, PLACED_KEY};
use sweep::sweep_attributes;
pub use sweep::{SWEEP_INDEX, SWEEP_SHARD, SWEEP_SHARDS, SWEEP_SINCE, sweep_keys, sweep_shard};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// BatchGetItem's limit of keys per request.
const BATCH_GET_KEYS: usize = 100;

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn view_json<V: View>(view: &V) -> Result<String, PortError> {
    serde_json::to_string(view).map_err(|e| PortError(format!("encoding a view: {e}")))
}

fn decode_view<V: View>(table: &str, item: &Item) -> Result<V, PortError> {
    let text = item
        .get("view")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| PortError(format!("{table}: a row without its `view`")))?;
    serde_json::from_str(text).map_err(|e| PortError(format!("{table}: unreadable view: {e}")))
}

/// How a view is kept in its table: the key attribute, the table's environment variable,
/// and the item the projector writes (the view as JSON in `view`, beside the attributes the
/// contract indexes or shows).
pub trait DynamoRow: View {
    /// The partition key's attribute.
    const KEY: &'static str;
    /// The environment variable naming the table.
    const TABLE_ENV: &'static str;

    /// The item for this view, `view` being its JSON.
    fn item(&self, view: String) -> Item;
}

impl DynamoRow for OrderView {
    const KEY: &'static str = "orderId";
    const TABLE_ENV: &'static str = ORDER_STATUS_TABLE;

    fn item(&self, view: String) -> Item {
        let mut item = HashMap::from([
            (Self::KEY.to_owned(), s(self.order_id.to_string())),
            ("status".to_owned(), s(self.status.as_str())),
            ("version".to_owned(), n(self.version)),
            ("updatedAt".to_owned(), n(self.updated_at.as_millis())),
            ("view".to_owned(), s(view)),
        ]);
        // A PutItem replaces the whole row, so a row whose order ends leaves the index.
        item.extend(sweep_attributes(self).into_iter().flatten());
        // An index key cannot be an empty string; a customer id never is (the domain refuses
        // one), but a row without it is better than a projector stuck on a refused put.
        if !self.customer_id.is_empty() {
            item.insert(CUSTOMER_ID.to_owned(), s(self.customer_id.as_str()));
            item.insert(PLACED_KEY.to_owned(), s(OrderCursor::of(self).placed_key()));
        }
        item
    }
}

impl DynamoRow for InventoryView {
    const KEY: &'static str = "ProductID";
    const TABLE_ENV: &'static str = INVENTORY_TABLE;

    fn item(&self, view: String) -> Item {
        HashMap::from([
            (Self::KEY.to_owned(), s(self.product_id.as_str())),
            ("available".to_owned(), n(self.available)),
            ("version".to_owned(), n(self.version)),
            ("view".to_owned(), s(view)),
        ])
    }
}

/// A read-model table: one row per view key, version-guarded puts, consistent reads.
#[derive(Debug)]
pub struct ViewTable<V> {
    client: Client,
    table: String,
    view: PhantomData<fn() -> V>,
}

// Not derived: a derive would ask `V: Clone` of the marker.
impl<V> Clone for ViewTable<V> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            table: self.table.clone(),
            view: PhantomData,
        }
    }
}

/// OrderStatusTable: one row per order (PK `orderId`).
pub type OrderStatusTable = ViewTable<OrderView>;
/// InventoryTable: stock per product (PK `ProductID`).
pub type InventoryTable = ViewTable<InventoryView>;

impl<V: DynamoRow> ViewTable<V> {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            view: PhantomData,
        }
    }

    /// The table named by the view's environment variable ([`DynamoRow::TABLE_ENV`]).
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.dynamodb().clone(),
            require_env(V::TABLE_ENV)?,
        ))
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The view under `key` (order id, product id), strongly consistent.
    pub async fn get(&self, key: &str) -> Result<Option<V>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(V::KEY, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(&self.table, &e))?;
        out.item.map(|i| decode_view(&self.table, &i)).transpose()
    }

    /// Stores `view` unless the table holds its version or a newer one: a PutItem that only
    /// lands if the row is absent or older.
    pub async fn put(&self, view: &V) -> Result<ViewWrite, PortError> {
        self.put_if(view, "attribute_not_exists(#pk) OR #v < :v")
            .await
    }

    /// Stores `view` unless the table holds a newer one: at an equal version it replaces the
    /// row (audit replay's repair of a corrupted row; never a projector's write).
    pub async fn replace_unless_newer(&self, view: &V) -> Result<ViewWrite, PortError> {
        self.put_if(view, "attribute_not_exists(#pk) OR #v <= :v")
            .await
    }

    /// A PutItem of `view`'s item under `condition` (on `#pk`, `#v` and `:v`, the version).
    #[tracing::instrument(skip_all, fields(table = %self.table, version = view.version()))]
    async fn put_if(&self, view: &V, condition: &str) -> Result<ViewWrite, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(view.item(view_json(view)?)))
            .condition_expression(condition)
            .expression_attribute_names("#pk", V::KEY)
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(view.version()))
            .send()
            .await;
        match written(result) {
            Ok(true) => Ok(ViewWrite::Written),
            Ok(false) => Ok(ViewWrite::Stale),
            Err(e) => Err(port_error(&self.table, &e)),
        }
    }
}

impl ViewTable<OrderView> {
    /// The rows of `keys` (each `orderId` alone), strongly consistent, with `orderId` and
    /// `attributes` only, in no particular order; a key without a row is left out. Asked
    /// [`BATCH_GET_KEYS`] at a time; keys DynamoDB leaves unprocessed (throttling) are asked
    /// again after a growing pause. The sweeper reads its candidates' `status` and `updatedAt`
    /// this way, GET /orders its page's `view`s: both indexes project keys only.
    async fn rows(&self, keys: Vec<Item>, attributes: &[&str]) -> Result<Vec<Item>, PortError> {
        let mut rows = Vec::with_capacity(keys.len());
        let mut keys = keys.into_iter();
        loop {
            let mut batch: Vec<Item> = keys.by_ref().take(BATCH_GET_KEYS).collect();
            if batch.is_empty() {
                return Ok(rows);
            }
            let mut round = 0_u32;
            while !batch.is_empty() {
                if round > 0 {
                    tokio::time::sleep(Duration::from_millis(25 << round.min(6))).await;
                }
                round += 1;
                let mut request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut batch)))
                    .consistent_read(true)
                    .expression_attribute_names("#pk", OrderView::KEY);
                let mut projection = "#pk".to_owned();
                for (i, name) in attributes.iter().enumerate() {
                    let placeholder = format!("#a{i}");
                    projection.push_str(", ");
                    projection.push_str(&placeholder);
                    request = request.expression_attribute_names(placeholder, *name);
                }
                let request = request
                    .projection_expression(projection)
                    .build()
                    .map_err(|e| PortError(format!("{}: {e}", self.table)))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| port_error(&self.table, &e))?;
                if let Some(found) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                    rows.extend(found);
                }
                if let Some(left) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    batch = left.keys;
                }
            }
        }
    }
}

impl<V: DynamoRow> ViewStore<V> for ViewTable<V> {
    async fn get(&self, key: &str) -> Result<Option<V>, PortError> {
        ViewTable::get(self, key).await
    }

    async fn put(&self, view: &V) -> Result<ViewWrite, PortError> {
        ViewTable::put(self, view).await
    }
}

/// Both read models, as GET /orders/{id} and GET /inventory/{id} read them.
#[derive(Debug, Clone)]
pub struct DynamoReadModels {
    pub orders: OrderStatusTable,
    pub inventory: InventoryTable,
    /// Products seen in the inventory table (a yes is kept: [`KnownProducts`]).
    known_products: KnownProducts,
}

impl DynamoReadModels {
    pub fn new(client: &Client, order_status_table: &str, inventory_table: &str) -> Self {
        Self {
            orders: OrderStatusTable::new(client.clone(), order_status_table),
            inventory: InventoryTable::new(client.clone(), inventory_table),
            known_products: KnownProducts::default(),
        }
    }

    /// The tables named by `ORDER_STATUS_TABLE` and `INVENTORY_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self {
            orders: OrderStatusTable::from_env(clients)?,
            inventory: InventoryTable::from_env(clients)?,
            known_products: KnownProducts::default(),
        })
    }
}

/// The sweeper's question, answered by OrderStatusTable's sharded sweep index.
impl StuckOrders for DynamoReadModels {
    async fn open_unchanged_since(
        &self,
        statuses: &[OrderStatus],
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OpenOrder>, PortError> {
        self.orders
            .open_unchanged_since(statuses, before, limit)
            .await
    }
}

impl ReadModels for DynamoReadModels {
    async fn get_order(&self, id: OrderId) -> Result<Option<OrderView>, PortError> {
        self.orders.get(&id.to_string()).await
    }

    async fn get_inventory(&self, id: &ProductId) -> Result<Option<InventoryView>, PortError> {
        self.inventory.get(id.as_str()).await
    }

    async fn product_exists(&self, id: &ProductId) -> Result<bool, PortError> {
        let lookup = async { Ok(self.get_inventory(id).await?.is_some()) };
        self.known_products.exists(id, lookup).await
    }

    /// Reads the eventually consistent customer index: see [`OrderStatusTable::by_customer`].
    async fn list_orders(
        &self,
        customer: &CustomerId,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, PortError> {
        self.orders.by_customer(customer, limit, after).await
    }

    /// Scans OrderStatusTable: see [`OrderStatusTable::count_by_status`].
    async fn count_by_status(&self) -> Result<order_app::query::StatusCounts, PortError> {
        self.orders.count_by_status().await
    }
}

/// Each view to its table, so the projection step can write either through one store.
impl<V: DynamoRow> ViewStore<V> for DynamoReadModels
where
    Self: TableOf<V>,
{
    async fn get(&self, key: &str) -> Result<Option<V>, PortError> {
        self.table_of().get(key).await
    }

    async fn put(&self, view: &V) -> Result<ViewWrite, PortError> {
        self.table_of().put(view).await
    }
}

/// The table of [`DynamoReadModels`] that keeps `V`.
pub trait TableOf<V> {
    fn table_of(&self) -> &ViewTable<V>;
}

impl TableOf<OrderView> for DynamoReadModels {
    fn table_of(&self) -> &ViewTable<OrderView> {
        &self.orders
    }
}

impl TableOf<InventoryView> for DynamoReadModels {
    fn table_of(&self) -> &ViewTable<InventoryView> {
        &self.inventory
    }
}
