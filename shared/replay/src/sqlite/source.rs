//! The reading side of the embedded replay: one pass over `events` in `(stream_id, version)`
//! order (the UNIQUE index serves it, so SQLite streams rows without sorting), merged with the
//! live tables read in key order, all inside one read transaction (one WAL snapshot), so the
//! log, the live rows and the projections' checkpoints are seen at the same instant.
//!
//! Stream ids sort as `order#<ULID>` then `product#<id>`, exactly as `order_status.order_id`
//! and `inventory.product_id` sort, so each stream meets its live row in a merge join, and a
//! live row passed over without a stream is an orphan. No lookup per stream, no second pass.
//!
//! Rows are filled in place into an [`EventRow`] the [`Sink`] lends, so reading allocates
//! nothing per event.

use order_domain::StreamId;
use rusqlite::{Connection, Rows};
use serde_json::Value;

use super::ReplayError;
use super::row::{EVENT_COLUMNS, EventRow};
use crate::compare::LiveRow;
use crate::fold::ReplayOptions;
use crate::view::Model;

/// What the reader hands on, in log order.
pub(crate) trait Sink {
    /// The row to fill with the next stored event.
    fn next_row(&mut self) -> &mut EventRow;
    /// The row last lent was filled with the current stream's next event; `projected` if its
    /// projection has applied it.
    fn event(&mut self, projected: bool) -> Result<(), ReplayError>;
    /// A row of the current stream that is not a readable event.
    fn unreadable(
        &mut self,
        stream: Option<StreamId>,
        raw_stream: &str,
        version: String,
        detail: String,
    ) -> Result<(), ReplayError>;
    /// The current stream ended; its live row, if it has one.
    fn end(&mut self, live: Option<LiveRow>) -> Result<(), ReplayError>;
    /// A live row that no stream feeds.
    fn orphan(&mut self, model: Model, row: LiveRow) -> Result<(), ReplayError>;
}

/// The last position each projection has applied (0 if it never ran).
fn checkpoint(conn: &Connection, model: Model) -> rusqlite::Result<i64> {
    order_embedded::read_models::checkpoint(conn, model.name())
}

/// A live table read in key order, one row ahead.
struct LiveCursor<'s> {
    model: Model,
    rows: Rows<'s>,
    peeked: Option<LiveRow>,
}

impl<'s> LiveCursor<'s> {
    fn new(model: Model, mut rows: Rows<'s>) -> rusqlite::Result<Self> {
        let peeked = next_live(model, &mut rows)?;
        Ok(Self {
            model,
            rows,
            peeked,
        })
    }

    /// Sends every row keyed before `key` as an orphan, and returns the row keyed `key`.
    fn seek(&mut self, key: &str, sink: &mut dyn Sink) -> Result<Option<LiveRow>, ReplayError> {
        while let Some(row) = self.peeked.take() {
            if row.key.as_str() < key {
                self.peeked = next_live(self.model, &mut self.rows)?;
                sink.orphan(self.model, row)?;
            } else if row.key == key {
                self.peeked = next_live(self.model, &mut self.rows)?;
                return Ok(Some(row));
            } else {
                self.peeked = Some(row);
                break;
            }
        }
        Ok(None)
    }

    fn drain(&mut self, sink: &mut dyn Sink) -> Result<(), ReplayError> {
        while let Some(row) = self.peeked.take() {
            self.peeked = next_live(self.model, &mut self.rows)?;
            sink.orphan(self.model, row)?;
        }
        Ok(())
    }
}

pub(crate) const ORDER_STATUS_SQL: &str = "SELECT order_id, version, view, status, updated_at, \
     customer_id, placed_at FROM order_status ORDER BY order_id";
pub(crate) const ORDER_STATUS_ROW_SQL: &str = "SELECT order_id, version, view, status, \
     updated_at, customer_id, placed_at FROM order_status WHERE order_id = ?1";
pub(crate) const INVENTORY_SQL: &str =
    "SELECT product_id, version, view, available FROM inventory ORDER BY product_id";

/// Reads one live row (columns as in [`ORDER_STATUS_SQL`] / [`INVENTORY_SQL`]).
pub(crate) fn live_row(model: Model, row: &rusqlite::Row<'_>) -> rusqlite::Result<LiveRow> {
    let version: i64 = row.get(1)?;
    let columns = match model {
        Model::OrderStatus => vec![
            ("status", Value::from(row.get::<_, String>(3)?)),
            ("version", Value::from(version)),
            ("updated_at", Value::from(row.get::<_, i64>(4)?)),
            ("customer_id", Value::from(row.get::<_, String>(5)?)),
            ("placed_at", Value::from(row.get::<_, i64>(6)?)),
        ],
        Model::Inventory => vec![
            ("available", Value::from(row.get::<_, i64>(3)?)),
            ("version", Value::from(version)),
        ],
    };
    Ok(LiveRow {
        key: row.get(0)?,
        version: u64::try_from(version).unwrap_or(0),
        view: row.get(2)?,
        columns,
    })
}

fn next_live(model: Model, rows: &mut Rows<'_>) -> rusqlite::Result<Option<LiveRow>> {
    rows.next()?.map(|r| live_row(model, r)).transpose()
}

/// The stream being read: its raw id (as stored, for grouping) and where its row lives.
struct Current {
    raw: String,
    target: Option<(Model, String)>,
    checkpoint: i64,
}

/// Reads the whole log (and, unless `as_of`, the live tables) into `sink`.
pub(crate) fn read(
    conn: &Connection,
    options: &ReplayOptions,
    sink: &mut dyn Sink,
) -> Result<(), ReplayError> {
    // Deferred: the snapshot is taken by the first read below and kept for every statement.
    conn.execute_batch("BEGIN")?;
    let result = read_in_snapshot(conn, options, sink);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn read_in_snapshot(
    conn: &Connection,
    options: &ReplayOptions,
    sink: &mut dyn Sink,
) -> Result<(), ReplayError> {
    let compare = options.as_of.is_none();
    let checkpoints = [
        checkpoint(conn, Model::OrderStatus)?,
        checkpoint(conn, Model::Inventory)?,
    ];
    let mut order_stmt = conn.prepare(ORDER_STATUS_SQL)?;
    let mut inventory_stmt = conn.prepare(INVENTORY_SQL)?;
    let mut live = if compare {
        Some([
            LiveCursor::new(Model::OrderStatus, order_stmt.query([])?)?,
            LiveCursor::new(Model::Inventory, inventory_stmt.query([])?)?,
        ])
    } else {
        None
    };
    let mut events = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM events ORDER BY stream_id, version"
    ))?;
    let mut rows = events.query([])?;
    let mut current: Option<Current> = None;
    let mut end = |current: Option<Current>, sink: &mut dyn Sink| -> Result<(), ReplayError> {
        let Some(c) = current else { return Ok(()) };
        let row = match (&mut live, &c.target) {
            (Some(cursors), Some((model, key))) => {
                cursors[usize::from(*model == Model::Inventory)].seek(key, sink)?
            }
            _ => None,
        };
        sink.end(row)
    };
    while let Some(row) = rows.next()? {
        let raw = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        if current.as_ref().is_none_or(|c| c.raw != raw) {
            end(current.take(), sink)?;
            let stream = StreamId::parse(raw).ok();
            let target = stream.as_ref().and_then(Model::of_stream);
            let checkpoint = match &target {
                Some((Model::Inventory, _)) => checkpoints[1],
                Some((Model::OrderStatus, _)) => checkpoints[0],
                None => i64::MAX,
            };
            current = Some(Current {
                raw: raw.to_owned(),
                target,
                checkpoint,
            });
        }
        let checkpoint = current.as_ref().map_or(i64::MAX, |c| c.checkpoint);
        let slot = sink.next_row();
        match slot.fill(row) {
            Ok(()) => {
                let projected = slot.position() <= checkpoint;
                sink.event(projected)?;
            }
            Err(e) => {
                let raw = current.as_ref().map(|c| c.raw.as_str()).unwrap_or_default();
                let version = match row.get_ref(2) {
                    Ok(rusqlite::types::ValueRef::Integer(v)) => v.to_string(),
                    Ok(other) => format!("{other:?}"),
                    Err(e) => e.to_string(),
                };
                sink.unreadable(StreamId::parse(raw).ok(), raw, version, e.to_string())?;
            }
        }
    }
    end(current.take(), sink)?;
    if let Some(cursors) = &mut live {
        for c in cursors {
            c.drain(sink)?;
        }
    }
    Ok(())
}
