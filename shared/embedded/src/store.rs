//! The event store on SQLite, and the change feed read by global position.

use std::sync::Arc;

use order_domain::append::check_append;
use order_domain::decoded::DecodedCache;
use order_domain::ports::{DecideError, EventStore, StoreError};
use order_domain::trace::TraceText;
use order_domain::{
    EventId, RecordedEvent, SharedStr, StreamId, StreamWrite, Timestamp, TraceParent,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::watch;

use crate::cache::StreamCache;
use crate::db::{CommittedFeed, Db, DbError, FeedEvent, WriteError};

const COLUMNS: &str = "position, stream_id, version, event_id, event_type, schema_version, occurred_at, \
                       correlation_id, causation_id, payload, prev_hash, hash, trace_parent";

/// The event log in SQLite. Appends wake change-feed consumers through a watch of the last
/// committed position.
#[derive(Clone)]
pub struct SqliteEventStore {
    db: Db,
    head: Arc<watch::Sender<i64>>,
    /// Streams as this process wrote them: loads of a live order skip the database.
    cache: StreamCache,
}

#[allow(clippy::needless_pass_by_value)] // a `map_err` adapter: it receives the error by value
fn db_err(e: DbError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Column `i` of `row` as text, where SQLite holds it (no `String` made).
pub fn column_text<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

/// Reads one row into `(position, event)`.
pub fn row_to_event(row: &Row<'_>) -> rusqlite::Result<(i64, RecordedEvent)> {
    let corrupt = |i: usize, msg: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, msg.into())
    };
    // Text read where SQLite holds it: one allocation per field kept, none for those parsed.
    let text = |i: usize| column_text(row, i);
    let shared = |i: usize| text(i).map(SharedStr::from);
    let occurred: i64 = row.get(6)?;
    // Diagnostic metadata: absent (a reader selecting the columns of before version 6) or
    // unreadable, it is dropped; it never fails the read.
    let trace_parent = row
        .get_ref(12)
        .ok()
        .and_then(|v| v.as_str_or_null().ok().flatten())
        .and_then(|t| TraceParent::parse(t).ok());
    Ok((
        row.get(0)?,
        RecordedEvent {
            stream_id: StreamId::parse(text(1)?).map_err(|e| corrupt(1, e.0))?,
            version: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
            event_id: EventId::parse(text(3)?).map_err(|e| corrupt(3, e.0))?,
            event_type: shared(4)?,
            schema_version: row.get(5)?,
            occurred_at: Timestamp::from_millis(u64::try_from(occurred).unwrap_or(0)),
            correlation_id: shared(7)?,
            causation_id: shared(8)?,
            payload: shared(9)?,
            prev_hash: shared(10)?,
            hash: shared(11)?,
            trace_parent,
            decoded: DecodedCache::NONE,
        },
    ))
}

/// The stream's events after `after`, in version order, on any connection.
pub fn stream_events(
    conn: &Connection,
    stream: &str,
    after: u64,
) -> rusqlite::Result<Vec<RecordedEvent>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM events WHERE stream_id = ?1 AND version > ?2 ORDER BY version"
    ))?;
    let rows = stmt.query_map(
        params![stream, i64::try_from(after).unwrap_or(i64::MAX)],
        row_to_event,
    )?;
    rows.map(|r| r.map(|(_, e)| e)).collect()
}

/// The last event of a stream, on any connection.
pub fn stream_head(conn: &Connection, stream: &str) -> rusqlite::Result<Option<RecordedEvent>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM events WHERE stream_id = ?1 ORDER BY version DESC LIMIT 1"
    ))?;
    stmt.query_row([stream], row_to_event)
        .optional()
        .map(|o| o.map(|(_, e)| e))
}

/// Events after global position `after`, oldest first, at most `limit`.
pub fn events_after(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, RecordedEvent)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
    ))?;
    let rows = stmt.query_map(
        params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
        row_to_event,
    )?;
    rows.collect()
}

/// Appends inside the writer's transaction writes the domain's [`check_append`] has passed (so
/// this store refuses exactly the appends DynamoDB refuses); `Err(Conflict)` leaves nothing
/// behind. Each write's expected version is checked against the stream cache's head when it
/// knows the stream (it then holds what the database does), else against the database.
/// Returns the positions written, in the order of the writes' events.
fn append_checked(
    conn: &Connection,
    writes: &[StreamWrite],
    cache: &StreamCache,
) -> Result<Vec<i64>, StoreError> {
    let sql_err = |e: rusqlite::Error| StoreError::Unavailable(e.to_string());
    // Every stream's version first, then the inserts: a refusal comes before the job's first
    // write, so the job needs no savepoint to leave nothing behind (`Db::write_direct`).
    for w in writes {
        let head = match cache.head_version(w.stream_id.as_str()) {
            Some(version) => version,
            None => conn
                .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?1")
                .and_then(|mut s| s.query_row([w.stream_id.as_str()], |r| r.get::<_, i64>(0)))
                .map(|v| u64::try_from(v).unwrap_or(0))
                .map_err(sql_err)?,
        };
        if head != w.expected_version {
            return Err(StoreError::Conflict {
                stream: w.stream_id.to_string(),
                expected_version: w.expected_version,
            });
        }
    }
    let mut positions = Vec::with_capacity(writes.iter().map(|w| w.events.len()).sum());
    for w in writes {
        for e in &w.events {
            let position = insert_event(conn, e).map_err(|err| match err {
                // The unique (stream, version) key is the final arbiter.
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::Conflict {
                        stream: w.stream_id.to_string(),
                        expected_version: w.expected_version,
                    }
                }
                other => sql_err(other),
            })?;
            positions.push(position);
        }
    }
    Ok(positions)
}

/// Appends inside the writer's job (after [`check_append`]) and hands the events to what mirrors the
/// writes in memory: the stream cache, and the committed feed (published only if the job and
/// its commit succeed). Returns the last position written, 0 when nothing was.
pub(crate) fn append_and_stage(
    conn: &Connection,
    writes: Vec<StreamWrite>,
    cache: &StreamCache,
    feed: &CommittedFeed,
) -> Result<i64, StoreError> {
    if check_append(&writes)? == 0 {
        return Ok(0);
    }
    append_checked_and_stage(conn, writes, cache, feed)
}

/// [`append_and_stage`] for writes [`check_append`] has passed.
fn append_checked_and_stage(
    conn: &Connection,
    writes: Vec<StreamWrite>,
    cache: &StreamCache,
    feed: &CommittedFeed,
) -> Result<i64, StoreError> {
    let positions = append_checked(conn, &writes, cache)?;
    let Some(&last) = positions.last() else {
        return Ok(0);
    };
    // Each event is allocated once, shared by the cache and the feed.
    let mut positions = positions.into_iter();
    let mut staged: Vec<FeedEvent> = Vec::with_capacity(positions.len());
    for w in writes {
        let start = staged.len();
        staged.extend(
            w.events
                .into_iter()
                .zip(&mut positions)
                .map(|(e, p)| Arc::new((p, e))),
        );
        cache.appended(w.stream_id.as_str(), w.expected_version, &staged[start..]);
    }
    feed.stage(staged);
    Ok(last)
}

/// Inserts one event row as is (no version check: the callers check) and returns its global
/// position. Also what synthetic logs for benchmarks and replay tests are written with.
pub fn insert_event(conn: &Connection, e: &RecordedEvent) -> rusqlite::Result<i64> {
    let trace = e.trace_parent.as_ref().map(TraceParent::to_text);
    conn.prepare_cached(
        "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, occurred_at, \
         correlation_id, causation_id, payload, prev_hash, hash, trace_parent) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        e.stream_id.as_str(),
        i64::try_from(e.version).unwrap_or(i64::MAX),
        e.event_id.encode(&mut [0; ulid::ULID_LEN]),
        e.event_type.as_str(),
        e.schema_version,
        i64::try_from(e.occurred_at.as_millis()).unwrap_or(i64::MAX),
        e.correlation_id.as_str(),
        e.causation_id.as_str(),
        e.payload.as_str(),
        e.prev_hash.as_str(),
        e.hash.as_str(),
        trace.as_ref().map(TraceText::as_str),
    ])?;
    Ok(conn.last_insert_rowid())
}

impl SqliteEventStore {
    pub fn new(db: Db) -> Self {
        let cache = StreamCache::default();
        let on_failure = cache.clone();
        db.on_commit_failure(move || on_failure.clear());
        Self {
            db,
            head: Arc::new(watch::Sender::new(0)),
            cache,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn cache(&self) -> &StreamCache {
        &self.cache
    }

    /// A receiver that changes whenever events are committed (its value: the last position).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    pub(crate) fn committed(&self, position: i64) {
        if position > 0 {
            self.head.send_if_modified(|p| {
                if position > *p {
                    *p = position;
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Events after global `position`, at most `limit` (the change feed), owned.
    pub async fn read_after(
        &self,
        position: i64,
        limit: usize,
    ) -> Result<Vec<(i64, RecordedEvent)>, StoreError> {
        Ok(self
            .read_feed(position, limit)
            .await?
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect())
    }

    /// Events after global `position`, at most `limit` (the change feed), shared: from the
    /// events of the last commits when they hold every one ([`CommittedFeed`]), else from the
    /// database.
    pub async fn read_feed(
        &self,
        position: i64,
        limit: usize,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        if let Some(events) = self.db.feed().read_after(position, limit) {
            return Ok(events);
        }
        let rows = self
            .db
            .read(move |c| events_after(c, position, limit))
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(Arc::new).collect())
    }

    /// How many events the log holds, over every stream (for replay and audits).
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.db
            .read(|c| c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(db_err)
    }
}

impl EventStore for SqliteEventStore {
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if let Some(events) = self.cache.history_after(stream.as_str(), after_version) {
            return Ok(events);
        }
        let stream = stream.as_str().to_owned();
        self.db
            .read(move |c| stream_events(c, &stream, after_version))
            .await
            .map_err(db_err)
    }

    async fn read_heads(
        &self,
        streams: &[StreamId],
    ) -> Result<Vec<Option<RecordedEvent>>, StoreError> {
        let cached: Option<Vec<_>> = streams
            .iter()
            .map(|s| self.cache.head(s.as_str()))
            .collect();
        if let Some(heads) = cached {
            return Ok(heads.into_iter().map(Some).collect());
        }
        let streams: Vec<String> = streams.iter().map(|s| s.as_str().to_owned()).collect();
        self.db
            .read(move |c| streams.iter().map(|s| stream_head(c, s)).collect())
            .await
            .map_err(db_err)
    }

    async fn append(&self, writes: Vec<StreamWrite>) -> Result<(), StoreError> {
        // Refused or empty appends answer without waiting for the writer.
        let events = check_append(&writes)?;
        if events == 0 {
            return Ok(());
        }
        let (cache, feed) = (self.cache.clone(), self.db.feed().clone());
        let job = move |c: &Connection| append_checked_and_stage(c, writes, &cache, &feed);
        let written = self.db.write_direct(job).await;
        match written {
            Ok(pos) => {
                self.committed(pos);
                Ok(())
            }
            Err(WriteError::Job(e)) => Err(e),
            Err(WriteError::Db(e)) => Err(db_err(e)),
        }
    }

    /// Runs the whole read-decide-append inside the writer's transaction: no other writer can
    /// come between the read and the append, so it never conflicts (the flash-sale case).
    async fn decide_and_append<T, E, F>(
        &self,
        streams: Vec<StreamId>,
        mut decide: F,
    ) -> Result<T, DecideError<E>>
    where
        F: FnMut(&[Option<RecordedEvent>]) -> Result<(Vec<StreamWrite>, T), E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (cache, feed) = (self.cache.clone(), self.db.feed().clone());
        // The heads are read and the decision made before the first insert: no savepoint.
        let result = self
            .db
            .write_direct(move |c| {
                let heads = streams
                    .iter()
                    .map(|s| match cache.head(s.as_str()) {
                        Some(known) => Ok(Some(known)),
                        None => stream_head(c, s.as_str()),
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|e| DecideError::Store(StoreError::Unavailable(e.to_string())))?;
                let (writes, outcome) = decide(&heads).map_err(DecideError::Refused)?;
                let pos = append_and_stage(c, writes, &cache, &feed).map_err(DecideError::Store)?;
                Ok((pos, outcome))
            })
            .await;
        match result {
            Ok((pos, outcome)) => {
                self.committed(pos);
                Ok(outcome)
            }
            Err(WriteError::Job(e)) => Err(e),
            Err(WriteError::Db(e)) => Err(DecideError::Store(db_err(e))),
        }
    }
}

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod feed_tests;
