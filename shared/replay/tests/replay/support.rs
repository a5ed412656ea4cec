//! A fresh generated log per test, and direct SQL to tamper with it.

use std::path::{Path, PathBuf};

use order_domain::Timestamp;
use order_replay::synthetic::{Generated, generate};
use order_replay::{ReplayOptions, Summary};
use rusqlite::Connection;

/// The generated log's first instant; events follow 3 ms apart.
pub const START_MS: u64 = 1_767_225_600_000;

/// A generated log in its own temporary folder.
pub struct Log {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub generated: Generated,
}

impl Log {
    /// At least `events` events over 5 products.
    pub fn new(events: u64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("orders.db");
        let generated =
            generate(&path, events, 5, Timestamp::from_millis(START_MS)).expect("generated");
        Self {
            _dir: dir,
            path,
            generated,
        }
    }

    pub fn conn(&self) -> Connection {
        Connection::open(&self.path).expect("open")
    }

    /// Runs SQL that changes the database directly (tampering, corruption).
    pub fn sql(&self, sql: &str) {
        self.conn().execute_batch(sql).expect(sql);
    }

    /// A single text value.
    pub fn text(&self, sql: &str) -> String {
        self.conn().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    pub fn int(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    /// The first stream whose last event is an `event_type` (an order that ended with it and
    /// had nothing happen since).
    pub fn stream_ending_with(&self, event_type: &str) -> String {
        self.text(&format!(
            "SELECT stream_id FROM events e WHERE event_type = '{event_type}' \
             AND version = (SELECT MAX(version) FROM events WHERE stream_id = e.stream_id) \
             ORDER BY position LIMIT 1"
        ))
    }

    pub fn replay(&self, options: ReplayOptions) -> Summary {
        replay_at(&self.path, options)
    }
}

pub fn replay_at(path: &Path, options: ReplayOptions) -> Summary {
    order_replay::sqlite::replay(path, &options, &mut ()).expect("replay runs")
}

pub fn verify() -> ReplayOptions {
    ReplayOptions {
        verify: true,
        ..ReplayOptions::default()
    }
}

pub fn rebuild() -> ReplayOptions {
    ReplayOptions {
        rebuild: true,
        ..ReplayOptions::default()
    }
}

impl Log {
    /// Appends `events` to `stream` as the pipeline would: sealed onto its head, so the chain
    /// verifies, one instant after the log's last event. What they say is up to the test (a
    /// log whose events contradict each other is what the audit is for).
    pub fn append(&self, stream: &str, events: &[(&str, u32, String)]) {
        let conn = self.conn();
        let (version, hash) = conn
            .query_row(
                "SELECT version, hash FROM events WHERE stream_id = ?1 ORDER BY version DESC LIMIT 1",
                [stream],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .unwrap_or((0, order_domain::GENESIS_HASH.to_owned()));
        let last = self.int("SELECT MAX(occurred_at) FROM events");
        let meta = order_domain::EventMeta {
            correlation_id: "audit-test".into(),
            causation_id: "audit-test".into(),
            occurred_at: Timestamp::from_millis(u64::try_from(last + 1).unwrap()),
            trace_parent: None,
        };
        let stream = order_domain::StreamId::parse(stream).unwrap();
        let (mut version, mut prev) = (
            u64::try_from(version).unwrap(),
            order_domain::SharedStr::from(hash),
        );
        for (event_type, schema, payload) in events {
            let e = order_domain::RecordedEvent::seal(
                stream.clone(),
                version,
                &prev,
                (*event_type, *schema, payload.clone()),
                &meta,
            );
            order_embedded::store::insert_event(&conn, &e).unwrap();
            (version, prev) = (e.version, e.hash);
        }
    }
}
