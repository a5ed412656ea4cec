//! Reading `events` rows into one reused event.
//!
//! `order_embedded::store::row_to_event` builds a new `RecordedEvent` per row: eight fresh
//! strings and a parsed stream id. A replay reads millions of rows and looks at each once, so it
//! refills one event in place instead: its text fields own their buffers ([`SharedStr::set`])
//! and keep their capacity, and the stream id is parsed only when the stream changes. The rules are `row_to_event`'s own (same columns, same
//! validation, same defaults); a test holds the two to the same result on every row.

use order_domain::{EventId, RecordedEvent, SharedStr, StreamId, Timestamp};
use order_embedded::store::column_text as text;
use rusqlite::Row;
use rusqlite::types::Type;

/// The same columns, in the same order, as `order_embedded::store::row_to_event` reads.
pub const EVENT_COLUMNS: &str = "position, stream_id, version, event_id, event_type, \
    schema_version, occurred_at, correlation_id, causation_id, payload, prev_hash, hash";

/// One event, refilled row after row.
#[derive(Debug)]
pub struct EventRow {
    event: RecordedEvent,
    position: i64,
}

fn corrupt(i: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, Type::Text, msg.into())
}

impl Default for EventRow {
    fn default() -> Self {
        Self {
            event: RecordedEvent {
                // Never read before the first fill replaces it.
                stream_id: StreamId::parse("product#-").unwrap_or_else(|_| unreachable!()),
                version: 0,
                event_id: EventId::generate(),
                event_type: SharedStr::default(),
                schema_version: 0,
                occurred_at: Timestamp::from_millis(0),
                correlation_id: SharedStr::default(),
                causation_id: SharedStr::default(),
                payload: SharedStr::default(),
                prev_hash: SharedStr::default(),
                hash: SharedStr::default(),
                trace_parent: None,
                decoded: order_domain::decoded::DecodedCache::NONE,
            },
            position: 0,
        }
    }
}

impl EventRow {
    /// Refills the event from a row of [`EVENT_COLUMNS`]. On `Err` the event is left partly
    /// filled and must not be used until the next successful fill.
    pub fn fill(&mut self, row: &Row<'_>) -> rusqlite::Result<()> {
        let e = &mut self.event;
        self.position = row.get(0)?;
        let stream = text(row, 1)?;
        if stream != e.stream_id.as_str() {
            e.stream_id = StreamId::parse(stream).map_err(|err| corrupt(1, err.0))?;
        }
        e.version = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
        e.event_id = EventId::parse(text(row, 3)?).map_err(|err| corrupt(3, err.0))?;
        e.event_type.set(text(row, 4)?);
        e.schema_version = row.get(5)?;
        e.occurred_at = Timestamp::from_millis(u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0));
        e.correlation_id.set(text(row, 7)?);
        e.causation_id.set(text(row, 8)?);
        e.payload.set(text(row, 9)?);
        e.prev_hash.set(text(row, 10)?);
        e.hash.set(text(row, 11)?);
        Ok(())
    }

    /// The event of the last successful fill.
    pub fn event(&self) -> &RecordedEvent {
        &self.event
    }

    /// Its position in the log (the change feed's order).
    pub fn position(&self) -> i64 {
        self.position
    }
}
