//! The projection step on SQLite: a batch of change-feed events folded into the views it moves
//! (`order_read_models::advance_batch`, on any connection: the embedded host uses a reader),
//! starting from the views the worker remembers ([`ProjectionMemory`]), then each moved view
//! written once and the checkpoint moved in the writer's transaction ([`Folded::write`]).

use order_domain::RecordedEvent;
use order_domain::events::DecodeError;
use order_read_models::{InventoryView, OrderView, View, ViewMemory, ViewWrite, advance_batch};
use rusqlite::Connection;

use super::{SqliteRow, encode, get_view, put_encoded, set_checkpoint};
use crate::store::stream_events;

/// What the embedded projections remember of the views they wrote
/// (`order_read_models::ViewMemory`, the rules the AWS projector's `Remembered` keeps): the
/// next batch of a stream they wrote starts from the view instead of reading its row back and
/// decoding its JSON, which was about 3 % of the server's CPU at capacity. The projection
/// worker keeps one for its life; a fold takes the views it steps out of it, and
/// [`Written::remember`] gives back the ones whose write committed.
#[derive(Debug, Default)]
pub struct ProjectionMemory {
    pub(super) orders: ViewMemory<OrderView>,
    pub(super) inventory: ViewMemory<InventoryView>,
}

impl ProjectionMemory {
    /// The order view remembered under `order_id` (a copy; tests and diagnostics).
    pub fn order(&self, order_id: &str) -> Option<OrderView> {
        self.orders.get(order_id)
    }
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
