//! Read models on SQLite (order_status, inventory): their rows, the queries that read them, and
//! (in [`projection`]) the projection step that keeps them.

use order_app::ReadModels;
use order_app::query::{KnownProducts, StatusCounts};
use order_domain::order::OrderStatus;
use order_domain::ports::PortError;
use order_domain::{CustomerId, OrderId, ProductId};
use order_read_models::{
    InventoryView, OrderCursor, OrderPage, OrderView, View, ViewMemory, ViewStore, ViewWrite,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, now_ms};

#[derive(Clone)]
pub struct SqliteReadModels {
    db: Db,
    /// Products seen in the inventory view (a yes is kept: [`KnownProducts`]).
    known_products: KnownProducts,
}

impl SqliteReadModels {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            known_products: KnownProducts::default(),
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
}

pub mod projection;
mod stuck;

pub use projection::{Folded, Projection, ProjectionMemory, Settled, Written};

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn encode<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

/// How a view is kept in its table: a row per key with the view as JSON, the columns the
/// queries read beside it, and an upsert that lands only on an older row.
pub trait SqliteRow: View {
    /// Reads the view of one key (`?1`).
    const GET: &'static str;
    /// Its parameters are what [`SqliteRow::put`] binds; `version` is the third.
    const PUT: &'static str;

    /// Runs `PUT` (`stmt`) with the row's columns, `view` (the JSON) last, bound as they are
    /// (no copy of any of them). Answers the rows changed.
    fn put(&self, stmt: &mut rusqlite::Statement<'_>, view: &str) -> rusqlite::Result<usize>;

    /// Its projection's part of a [`ProjectionMemory`].
    fn memory(memory: &ProjectionMemory) -> &ViewMemory<Self>;
}

fn int(v: u64) -> Value {
    Value::Integer(i64::try_from(v).unwrap_or(i64::MAX))
}

impl SqliteRow for OrderView {
    const GET: &'static str = "SELECT view FROM order_status WHERE order_id = ?1";
    /// `customer_id` and `placed_at` never change after OrderPlaced: the insert writes them and
    /// an update leaves them alone, so the per-customer index is not rewritten on every status
    /// change (the single writer's time is the pipeline's capacity). Rows older than the columns
    /// got them from migration 3; a replay repair writes them explicitly.
    const PUT: &'static str = "INSERT INTO order_status \
         (order_id, status, version, updated_at, customer_id, placed_at, view) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (order_id) DO UPDATE SET status = ?2, \
         version = ?3, updated_at = ?4, view = ?7 \
         WHERE order_status.version < ?3";

    fn put(&self, stmt: &mut rusqlite::Statement<'_>, view: &str) -> rusqlite::Result<usize> {
        stmt.execute(params![
            self.order_id.encode(&mut [0; ulid::ULID_LEN]),
            self.status.as_str(),
            int(self.version),
            int(self.updated_at.as_millis()),
            self.customer_id,
            int(self.placed_at.as_millis()),
            view,
        ])
    }

    fn memory(memory: &ProjectionMemory) -> &ViewMemory<Self> {
        &memory.orders
    }
}

impl SqliteRow for InventoryView {
    const GET: &'static str = "SELECT view FROM inventory WHERE product_id = ?1";
    const PUT: &'static str = "INSERT INTO inventory (product_id, available, version, view) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (product_id) DO UPDATE SET available = ?2, \
         version = ?3, view = ?4 WHERE inventory.version < ?3";

    fn put(&self, stmt: &mut rusqlite::Statement<'_>, view: &str) -> rusqlite::Result<usize> {
        stmt.execute(params![
            self.product_id.as_str(),
            int(self.available),
            int(self.version),
            view,
        ])
    }

    fn memory(memory: &ProjectionMemory) -> &ViewMemory<Self> {
        &memory.inventory
    }
}

/// A customer's orders after a position, newest first: a walk of `order_status_by_customer`
/// (the row-value comparison is a range on the index's last two columns).
pub(crate) const LIST_AFTER: &str = "SELECT view FROM order_status WHERE customer_id = ?1 \
     AND (placed_at, order_id) < (?2, ?3) ORDER BY placed_at DESC, order_id DESC LIMIT ?4";
pub(crate) const LIST_FIRST: &str = "SELECT view FROM order_status WHERE customer_id = ?1 \
     ORDER BY placed_at DESC, order_id DESC LIMIT ?2";

/// Up to `fetch` of `customer`'s order views after `after`, in listing order.
fn list_views(
    c: &Connection,
    customer: &str,
    fetch: usize,
    after: Option<&OrderCursor>,
) -> rusqlite::Result<Vec<OrderView>> {
    let fetch = i64::try_from(fetch).unwrap_or(i64::MAX);
    let view_text = |r: &rusqlite::Row<'_>| r.get::<_, String>(0);
    let texts = match after {
        Some(at) => c
            .prepare_cached(LIST_AFTER)?
            .query_map(
                params![
                    customer,
                    int(at.placed_at.as_millis()),
                    at.order_id.to_string(),
                    fetch
                ],
                view_text,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => c
            .prepare_cached(LIST_FIRST)?
            .query_map(params![customer, fetch], view_text)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    texts.iter().map(|t| decode(t)).collect()
}

/// The view under `key`, decoded from the text where SQLite holds it (no copy of the row's
/// JSON first: the projection step reads a view for nearly every record it applies).
fn get_view<V: SqliteRow>(c: &Connection, key: &str) -> rusqlite::Result<Option<V>> {
    let mut stmt = c.prepare_cached(V::GET)?;
    let mut rows = stmt.query([key])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    decode(crate::store::column_text(row, 0)?).map(Some)
}

/// The version-guarded upsert: an upsert whose guard refuses it changes no row.
fn put_view<V: SqliteRow>(c: &Connection, v: &V) -> rusqlite::Result<ViewWrite> {
    put_encoded(c, v, &encode(v)?)
}

/// [`put_view`] with the view's JSON already made (`text` is `v` encoded).
fn put_encoded<V: SqliteRow>(c: &Connection, v: &V, text: &str) -> rusqlite::Result<ViewWrite> {
    let mut stmt = c.prepare_cached(V::PUT)?;
    let changed = v.put(&mut stmt, text)?;
    Ok(if changed == 0 {
        ViewWrite::Stale
    } else {
        ViewWrite::Written
    })
}

/// The order's stored view, read inside a writer or reader job.
pub fn get_order_view(c: &Connection, id: &str) -> rusqlite::Result<Option<OrderView>> {
    get_view(c, id)
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

impl ReadModels for SqliteReadModels {
    async fn get_order(&self, id: OrderId) -> Result<Option<OrderView>, PortError> {
        let id = id.to_string();
        self.db
            .read(move |c| get_view(c, &id))
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    async fn get_inventory(&self, id: &ProductId) -> Result<Option<InventoryView>, PortError> {
        let id = id.as_str().to_owned();
        self.db
            .read(move |c| get_view(c, &id))
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    async fn list_orders(
        &self,
        customer: &CustomerId,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, PortError> {
        let customer = customer.as_str().to_owned();
        let after = after.copied();
        let fetched = self
            .db
            .read(move |c| list_views(c, &customer, limit.saturating_add(1), after.as_ref()))
            .await
            .map_err(|e| PortError(e.to_string()))?;
        Ok(OrderPage::from_fetched(fetched, limit))
    }

    async fn count_by_status(&self) -> Result<StatusCounts, PortError> {
        let rows = self
            .db
            .read(|c| {
                c.prepare_cached("SELECT status, COUNT(*) FROM order_status GROUP BY status")?
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .map_err(|e| PortError(e.to_string()))?;
        let mut counts = StatusCounts::default();
        for (status, n) in rows {
            let status = OrderStatus::parse(&status)
                .ok_or_else(|| PortError(format!("order_status: unknown status {status}")))?;
            counts.add(status, u64::try_from(n).unwrap_or_default());
        }
        Ok(counts)
    }

    async fn product_exists(&self, id: &ProductId) -> Result<bool, PortError> {
        let lookup = async { Ok(self.get_inventory(id).await?.is_some()) };
        self.known_products.exists(id, lookup).await
    }
}

impl<V: SqliteRow> ViewStore<V> for SqliteReadModels {
    async fn get(&self, key: &str) -> Result<Option<V>, PortError> {
        let key = key.to_owned();
        self.db
            .read(move |c| get_view(c, &key))
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    async fn put(&self, view: &V) -> Result<ViewWrite, PortError> {
        let view = view.clone();
        self.db
            .write(move |c| put_view(c, &view))
            .await
            .map_err(|e| PortError(format!("{e:?}")))
    }
}
