-- order-pipeline embedded schema, version 10: the event log without two per-insert costs that
-- guarded nothing DynamoDB guards.
-- - `event_id` loses its UNIQUE index. Event ids are ULIDs made once per event; DynamoDB keys
--   the log on (stream, version) alone and accepts an event id twice, so this store refused
--   appends that one accepts. The index was a B-tree insert per event and about 7 % of the
--   pages each commit wrote to the WAL, and nothing looked an event up by its id.
-- - `position` loses AUTOINCREMENT. Nothing deletes from the log, so the largest position plus
--   one, SQLite's plain rowid, is the next position as it was; AUTOINCREMENT read and rewrote
--   its row in `sqlite_sequence` on every insert statement, and that page in every commit.
-- SQLite changes neither in place, so the table is made again with its rows (positions kept):
-- once, at the first start after an upgrade, about 4 s per million events (measured on a
-- 2-core VM); the old table's pages stay in the file as free pages, which later appends reuse.
CREATE TABLE events_new (
    position       INTEGER PRIMARY KEY,
    stream_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    event_id       TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    occurred_at    INTEGER NOT NULL,  -- ms since the Unix epoch
    correlation_id TEXT    NOT NULL,
    causation_id   TEXT    NOT NULL,
    payload        TEXT    NOT NULL,  -- JSON, hashed as stored
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    trace_parent   TEXT,
    UNIQUE (stream_id, version)
);
INSERT INTO events_new (position, stream_id, version, event_id, event_type, schema_version,
                        occurred_at, correlation_id, causation_id, payload, prev_hash, hash,
                        trace_parent)
    SELECT position, stream_id, version, event_id, event_type, schema_version,
           occurred_at, correlation_id, causation_id, payload, prev_hash, hash, trace_parent
    FROM events ORDER BY position;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
DELETE FROM sqlite_sequence WHERE name = 'events';
