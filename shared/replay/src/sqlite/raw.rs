//! The raw rate replay is measured against, and the log's size.

use std::path::Path;
use std::time::{Duration, Instant};

use order_domain::events::decode;

use super::row::{EVENT_COLUMNS, EventRow};
use super::{ReplayError, open_reader};

/// What the raw baseline read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRead {
    pub events: u64,
    pub undecodable: u64,
    pub elapsed: Duration,
}

/// The raw rate replay is measured against: every row of `events` read in storage order (with
/// the same in-place row reader replay uses) and decoded with `order_domain::events::decode`,
/// nothing else.
pub fn read_and_decode(path: &Path) -> Result<RawRead, ReplayError> {
    let started = Instant::now();
    let conn = open_reader(path)?;
    let mut stmt = conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events"))?;
    let mut rows = stmt.query([])?;
    let mut event = EventRow::default();
    let (mut events, mut undecodable) = (0, 0);
    while let Some(row) = rows.next()? {
        event.fill(row)?;
        events += 1;
        if decode(event.event()).is_err() {
            undecodable += 1;
        }
    }
    Ok(RawRead {
        events,
        undecodable,
        elapsed: started.elapsed(),
    })
}

/// The same, reading each row into a new event with `order_embedded::store::row_to_event`.
pub fn read_and_decode_owned(path: &Path) -> Result<RawRead, ReplayError> {
    let started = Instant::now();
    let conn = open_reader(path)?;
    let mut stmt = conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events"))?;
    let mut rows = stmt.query([])?;
    let (mut events, mut undecodable) = (0, 0);
    while let Some(row) = rows.next()? {
        let (_, event) = order_embedded::store::row_to_event(row)?;
        events += 1;
        if decode(&event).is_err() {
            undecodable += 1;
        }
    }
    Ok(RawRead {
        events,
        undecodable,
        elapsed: started.elapsed(),
    })
}

/// How many events the log holds (for a progress bar's length).
pub fn count_events(path: &Path) -> Result<u64, ReplayError> {
    let conn = open_reader(path)?;
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
