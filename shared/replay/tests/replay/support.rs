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

    /// The stream of the first order that ended with `event_type`.
    pub fn stream_ending_with(&self, event_type: &str) -> String {
        self.text(&format!(
            "SELECT stream_id FROM events WHERE event_type = '{event_type}' ORDER BY position LIMIT 1"
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
