//! `--order`: one order's timeline, its state now or then, and its live row against the log.

use std::path::Path;

use order_domain::OrderId;
use rusqlite::OptionalExtension;

use order_embedded::store::row_to_event;

use super::row::EVENT_COLUMNS;
use super::source::{ORDER_STATUS_ROW_SQL, live_row};
use super::{ReplayError, open_reader};
use crate::fold::{ReplayOptions, StreamFold};
use crate::judge::judge;
pub use crate::report::OrderReport;
use crate::timeline::timeline;
use crate::view::Model;

/// The timeline of one order, its state now or at `options.as_of`, and (without `as_of`) its
/// live row compared with the log. `None` when the log has no such order.
pub fn order_report(
    path: &Path,
    order_id: OrderId,
    options: &ReplayOptions,
) -> Result<Option<OrderReport>, ReplayError> {
    let conn = open_reader(path)?;
    conn.execute_batch("BEGIN")?;
    let stream = order_id.stream();
    let checkpoint = order_embedded::read_models::checkpoint(&conn, Model::OrderStatus.name())?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?1 ORDER BY version"
    ))?;
    let rows: Vec<(i64, _)> = stmt
        .query_map([stream.as_str()], row_to_event)?
        .collect::<rusqlite::Result<_>>()?;
    if rows.is_empty() {
        return Ok(None);
    }
    let live = if options.as_of.is_none() {
        conn.query_row(ORDER_STATUS_ROW_SQL, [order_id.to_string()], |r| {
            live_row(Model::OrderStatus, r)
        })
        .optional()?
    } else {
        None
    };
    let mut fold = StreamFold::new(stream, options);
    for (position, event) in &rows {
        fold.push(event, *position <= checkpoint);
    }
    let folded = fold.finish();
    let verdict = judge(&folded, live.as_ref(), options);
    let events: Vec<_> = rows.into_iter().map(|(_, e)| e).collect();
    Ok(Some(OrderReport {
        timeline: timeline(order_id, &events, options.as_of, options.verify),
        live,
        difference: verdict.difference,
        pending: folded.pending,
    }))
}
