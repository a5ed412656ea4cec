//! Read models on SQLite (order_status, inventory) and the projection step that keeps them:
//! a batch of change-feed events applied with the shared pure projections, and the checkpoint
//! moved, in one transaction.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use order_app::ReadModels;
use order_domain::ports::PortError;
use order_domain::{OrderId, ProductId, RecordedEvent};
use order_read_models::{INVENTORY, InventoryView, ORDER_STATUS, OrderView, Step};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, now_ms};
use crate::store::stream_events;

#[derive(Clone)]
pub struct SqliteReadModels {
    db: Db,
    /// Products seen in the inventory view. Products are never removed, so a yes is kept:
    /// validating a POST's lines then needs no read. Bounded by the catalogue (only products
    /// that exist get in).
    known_products: Arc<RwLock<HashSet<String>>>,
}

impl SqliteReadModels {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            known_products: Arc::default(),
        }
    }

    /// Every inventory row (for listings and replay comparisons).
    pub async fn all_inventory(&self) -> Result<Vec<InventoryView>, PortError> {
        self.db
            .read(|c| {
                let mut s = c.prepare_cached("SELECT view FROM inventory ORDER BY product_id")?;
                let rows = s.query_map([], |r| r.get::<_, String>(0))?;
                rows.map(|r| r.and_then(|t| decode(&t))).collect()
            })
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    /// Order ids whose status is PLACED and unchanged for `older_than_ms`, with no execution.
    pub async fn stuck_placed_orders(
        &self,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.db
            .read(move |c| {
                let mut s = c.prepare_cached(
                    "SELECT o.order_id FROM order_status o WHERE o.status = 'PLACED' AND o.updated_at < ?1 \
                     AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.name = o.order_id) LIMIT ?2",
                )?;
                let rows = s.query_map(
                    params![now_ms() - older_than_ms, i64::try_from(limit).unwrap_or(100)],
                    |r| r.get::<_, String>(0),
                )?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .map(|ids| ids.iter().filter_map(|i| OrderId::parse(i).ok()).collect())
            .map_err(|e| PortError(e.to_string()))
    }
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn encode<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

pub fn get_order_view(c: &Connection, id: &str) -> rusqlite::Result<Option<OrderView>> {
    c.prepare_cached("SELECT view FROM order_status WHERE order_id = ?1")?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|t| decode(&t))
        .transpose()
}

pub fn get_inventory_view(c: &Connection, id: &str) -> rusqlite::Result<Option<InventoryView>> {
    c.prepare_cached("SELECT view FROM inventory WHERE product_id = ?1")?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|t| decode(&t))
        .transpose()
}

fn put_order_view(c: &Connection, v: &OrderView) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO order_status (order_id, status, version, updated_at, view) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (order_id) DO UPDATE SET status = ?2, version = ?3, updated_at = ?4, view = ?5 \
         WHERE order_status.version < ?3",
    )?
    .execute(params![
        v.order_id.to_string(),
        v.status.as_str(),
        i64::try_from(v.version).unwrap_or(i64::MAX),
        i64::try_from(v.updated_at.as_millis()).unwrap_or(i64::MAX),
        encode(v)?,
    ])
    .map(|_| ())
}

fn put_inventory_view(c: &Connection, v: &InventoryView) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO inventory (product_id, available, version, view) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (product_id) DO UPDATE SET available = ?2, version = ?3, view = ?4 \
         WHERE inventory.version < ?3",
    )?
    .execute(params![
        v.product_id.as_str(),
        i64::try_from(v.available).unwrap_or(i64::MAX),
        i64::try_from(v.version).unwrap_or(i64::MAX),
        encode(v)?,
    ])
    .map(|_| ())
}

pub fn checkpoint(c: &Connection, consumer: &str) -> rusqlite::Result<i64> {
    c.prepare_cached("SELECT position FROM checkpoints WHERE consumer = ?1")?
        .query_row([consumer], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

pub fn set_checkpoint(c: &Connection, consumer: &str, position: i64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO checkpoints (consumer, position, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (consumer) DO UPDATE SET position = MAX(position, ?2), updated_at = ?3",
    )?
    .execute(params![consumer, position, now_ms()])
    .map(|_| ())
}

/// Which read model a projection worker keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    OrderStatus,
    Inventory,
}

impl Projection {
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderStatus => ORDER_STATUS,
            Self::Inventory => INVENTORY,
        }
    }

    /// Applies one delivered record with the shared pure step (skip seen, refetch past a gap).
    pub fn apply(self, c: &Connection, record: &RecordedEvent) -> rusqlite::Result<()> {
        let stream = record.stream_id.as_str();
        let bad = |e: order_domain::events::DecodeError| {
            rusqlite::Error::ToSqlConversionFailure(e.into())
        };
        match self {
            Self::OrderStatus => {
                let Some(id) = record.stream_id.order_id() else {
                    return Ok(());
                };
                let current = get_order_view(c, &id.to_string())?;
                let next = match OrderView::step(current.as_ref(), record).map_err(bad)? {
                    Step::Apply(v) => Some(v),
                    Step::Skip => None,
                    Step::NeedHistory { after_version } => {
                        OrderView::fold(current, &stream_events(c, stream, after_version)?)
                            .map_err(bad)?
                    }
                };
                next.map_or(Ok(()), |v| put_order_view(c, &v))
            }
            Self::Inventory => {
                let Some(id) = record.stream_id.product_id() else {
                    return Ok(());
                };
                let current = get_inventory_view(c, id.as_str())?;
                let next = match InventoryView::step(current.as_ref(), record).map_err(bad)? {
                    Step::Apply(v) => Some(v),
                    Step::Skip => None,
                    Step::NeedHistory { after_version } => {
                        InventoryView::fold(current, &stream_events(c, stream, after_version)?)
                            .map_err(bad)?
                    }
                };
                next.map_or(Ok(()), |v| put_inventory_view(c, &v))
            }
        }
    }

    /// Applies a batch and moves the checkpoint to its last position, in the caller's transaction.
    pub fn apply_batch(
        self,
        c: &Connection,
        batch: &[(i64, RecordedEvent)],
    ) -> rusqlite::Result<()> {
        for (_, record) in batch {
            self.apply(c, record)?;
        }
        if let Some((last, _)) = batch.last() {
            set_checkpoint(c, self.name(), *last)?;
        }
        Ok(())
    }
}

impl crate::host::StuckOrders for SqliteReadModels {
    async fn placed_before(
        &self,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.stuck_placed_orders(older_than_ms, limit).await
    }
}

impl ReadModels for SqliteReadModels {
    async fn get_order(&self, id: OrderId) -> Result<Option<OrderView>, PortError> {
        let id = id.to_string();
        self.db
            .read(move |c| get_order_view(c, &id))
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    async fn get_inventory(&self, id: &ProductId) -> Result<Option<InventoryView>, PortError> {
        let id = id.as_str().to_owned();
        self.db
            .read(move |c| get_inventory_view(c, &id))
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    async fn product_exists(&self, id: &ProductId) -> Result<bool, PortError> {
        if self
            .known_products
            .read()
            .is_ok_and(|known| known.contains(id.as_str()))
        {
            return Ok(true);
        }
        let exists = self.get_inventory(id).await?.is_some();
        if exists && let Ok(mut known) = self.known_products.write() {
            known.insert(id.as_str().to_owned());
        }
        Ok(exists)
    }
}
