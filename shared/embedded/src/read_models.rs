//! Read models on SQLite (order_status, inventory) and the projection step that keeps them:
//! a batch of change-feed events folded with the shared step (`order_read_models::advance_batch`)
//! on any connection (the embedded host uses a reader), then each moved view written once and
//! the checkpoint moved in the writer's transaction.

use order_app::ReadModels;
use order_app::query::{KnownProducts, StatusCounts};
use order_domain::events::DecodeError;
use order_domain::order::OrderStatus;
use order_domain::ports::PortError;
use order_domain::{CustomerId, OrderId, ProductId, RecordedEvent};
use order_read_models::{
    InventoryView, OrderCursor, OrderPage, OrderView, View, ViewMemory, ViewStore, ViewWrite,
    advance_batch,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, now_ms};
use crate::store::stream_events;

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

mod stuck;

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

/// What the embedded projections remember of the views they wrote
/// (`order_read_models::ViewMemory`, the rules the AWS projector's `Remembered` keeps): the
/// next batch of a stream they wrote starts from the view instead of reading its row back and
/// decoding its JSON, which was about 3 % of the server's CPU at capacity. The projection
/// worker keeps one for its life; a fold takes the views it steps out of it, and
/// [`Written::remember`] gives back the ones whose write committed.
#[derive(Debug, Default)]
pub struct ProjectionMemory {
    orders: ViewMemory<OrderView>,
    inventory: ViewMemory<InventoryView>,
}

impl ProjectionMemory {
    /// How many views are remembered now (both projections).
    pub fn len(&self) -> usize {
        self.orders.len() + self.inventory.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The order view remembered under `order_id` (a copy; tests and diagnostics).
    pub fn order(&self, order_id: &str) -> Option<OrderView> {
        self.orders.get(order_id)
    }
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

/// Which read model a projection worker keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    OrderStatus,
    Inventory,
}

impl Projection {
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderStatus => OrderView::NAME,
            Self::Inventory => InventoryView::NAME,
        }
    }

    /// Applies a batch and moves the checkpoint to its last position, in the caller's
    /// transaction (remembering nothing: every view it steps is read from its row).
    pub fn apply_batch<E: std::borrow::Borrow<(i64, RecordedEvent)>>(
        self,
        c: &Connection,
        batch: &[E],
    ) -> rusqlite::Result<()> {
        self.fold_batch(c, batch, &ProjectionMemory::default())?
            .write(c)
            .map(drop)
    }

    /// Folds a batch into the views it moves, in memory, reading but writing nothing: an
    /// order's several events in one batch cost one read and one write, not one of each per
    /// event (the projections were a fifth of the writer thread's time). A batch this
    /// projection cannot apply (an event that does not decode) fails here, before any write,
    /// so the caller needs no savepoint to undo it. Each moved view is encoded here too, so
    /// that [`Folded::write`] only runs the upserts.
    ///
    /// It writes nothing, so it runs on a reader connection as well as in the writer's
    /// transaction: the embedded host folds on a reader, off the one writer thread, and sends
    /// the writer only the writes. A reader's snapshot holds every view this projection wrote
    /// before (its jobs run one after another, each answered after its commit), and the views
    /// have no other writer in the server.
    ///
    /// A view remembered in `memory` is taken from it instead of read from its row (it is
    /// what the row held after this projection's last write of it, or older, which the step
    /// copes with: see `order_read_models::remembered`).
    pub fn fold_batch<E: std::borrow::Borrow<(i64, RecordedEvent)>>(
        self,
        c: &Connection,
        batch: &[E],
        memory: &ProjectionMemory,
    ) -> rusqlite::Result<Folded> {
        let records: Vec<&RecordedEvent> = batch.iter().map(|e| &e.borrow().1).collect();
        let moved = match self {
            Self::OrderStatus => Moved::Orders(encoded(fold_moved(c, &records, memory)?)?),
            Self::Inventory => Moved::Inventory(encoded(fold_moved(c, &records, memory)?)?),
        };
        Ok(Folded {
            projection: self,
            moved,
            last: batch.last().map(|e| e.borrow().0),
        })
    }
}

/// A batch one projection has folded: the views it moved and the feed position it reached.
pub struct Folded {
    projection: Projection,
    moved: Moved,
    last: Option<i64>,
}

/// Each moved view with its JSON.
enum Moved {
    Orders(Vec<(OrderView, String)>),
    Inventory(Vec<(InventoryView, String)>),
}

fn encoded<V: SqliteRow>(views: Vec<V>) -> rusqlite::Result<Vec<(V, String)>> {
    views
        .into_iter()
        .map(|v| encode(&v).map(|text| (v, text)))
        .collect()
}

impl Folded {
    /// The projection that folded it.
    pub fn projection(&self) -> Projection {
        self.projection
    }

    /// Writes each moved view once (the version-guarded upsert) and moves the checkpoint.
    /// Answers what landed, for the caller to remember once the transaction has committed.
    pub fn write(self, c: &Connection) -> rusqlite::Result<Written> {
        let written = match self.moved {
            Moved::Orders(views) => Written::Orders(put_all(c, views)?),
            Moved::Inventory(views) => Written::Inventory(put_all(c, views)?),
        };
        if let Some(last) = self.last {
            set_checkpoint(c, self.projection.name(), last)?;
        }
        Ok(written)
    }
}

/// What a [`Folded::write`] did to each view: the ones it stored, and the keys of the ones
/// whose row was ahead (the version guard refused them).
#[derive(Debug)]
pub enum Written {
    Orders(Settled<OrderView>),
    Inventory(Settled<InventoryView>),
}

/// One projection's views after a write: stored, or refused by a row that was ahead.
#[derive(Debug)]
pub struct Settled<V> {
    pub stored: Vec<V>,
    pub refused: Vec<String>,
}

impl Written {
    /// Remembers the views stored and forgets the refused keys (their rows are ahead: the next
    /// batch reads them). Only for a write whose transaction committed.
    pub fn remember(self, memory: &ProjectionMemory) {
        match self {
            Self::Orders(settled) => settled.remember(&memory.orders),
            Self::Inventory(settled) => settled.remember(&memory.inventory),
        }
    }
}

impl<V: View> Settled<V> {
    fn remember(self, memory: &ViewMemory<V>) {
        for key in &self.refused {
            memory.forget(key);
        }
        for view in self.stored {
            memory.remember(view);
        }
    }
}

fn put_all<V: SqliteRow>(c: &Connection, views: Vec<(V, String)>) -> rusqlite::Result<Settled<V>> {
    let mut settled = Settled {
        stored: Vec::with_capacity(views.len()),
        refused: Vec::new(),
    };
    for (v, text) in views {
        match put_encoded(c, &v, &text)? {
            ViewWrite::Written => settled.stored.push(v),
            ViewWrite::Stale => settled.refused.push(v.row_key()),
        }
    }
    Ok(settled)
}

/// A fold's failure: SQLite's, or an event that does not decode (reported as SQLite's); either
/// comes before the projection's first write.
struct BatchError(rusqlite::Error);

impl From<DecodeError> for BatchError {
    fn from(e: DecodeError) -> Self {
        Self(rusqlite::Error::ToSqlConversionFailure(e.into()))
    }
}

impl From<rusqlite::Error> for BatchError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e)
    }
}

fn fold_moved<V: SqliteRow>(
    c: &Connection,
    records: &[&RecordedEvent],
    memory: &ProjectionMemory,
) -> rusqlite::Result<Vec<V>> {
    let memory = V::memory(memory);
    advance_batch::<V, BatchError>(
        records.iter().copied(),
        |key| match memory.take(key) {
            Some(view) => Ok(Some(view)),
            None => Ok(get_view(c, key)?),
        },
        |record, after| Ok(stream_events(c, record.stream_id.as_str(), after)?),
    )
    .map_err(|BatchError(e)| e)
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
