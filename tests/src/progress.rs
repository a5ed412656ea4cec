//! Watching a local server's log for ended orders, incrementally (from the last position seen),
//! so that waiting for completion costs the server's machine almost nothing however long the
//! log grows. Shared by `pipeline-bench`'s loops and its overload run.

use std::path::Path;
use std::time::Duration;

/// Terminal events (OrderCompleted, OrderFailed) and all events counted so far.
pub struct Progress {
    conn: rusqlite::Connection,
    position: i64,
    done: usize,
    events: usize,
}

impl Progress {
    /// Opens the server's database (`DATA_DIR/orders.db`) read-only.
    ///
    /// # Errors
    /// The database cannot be opened.
    pub fn open(db: &Path) -> anyhow::Result<Self> {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(Self {
            conn,
            position: 0,
            done: 0,
            events: 0,
        })
    }

    /// `(orders ended, events)` so far.
    ///
    /// # Errors
    /// The read failed.
    pub fn poll(&mut self) -> anyhow::Result<(usize, usize)> {
        let (done, events, last): (i64, i64, Option<i64>) = self.conn.query_row(
            "SELECT COUNT(*) FILTER (WHERE event_type IN ('OrderCompleted', 'OrderFailed')), \
             COUNT(*), MAX(position) FROM events WHERE position > ?1",
            [self.position],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        self.done += usize::try_from(done)?;
        self.events += usize::try_from(events)?;
        if let Some(last) = last {
            self.position = last;
        }
        Ok((self.done, self.events))
    }
}
