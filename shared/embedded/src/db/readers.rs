//! The readers: a small pool of read-only connections, each reading a WAL snapshot off the
//! async threads, concurrently with the writer.

use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::connection::tune_connection;
use super::{Db, DbError};

/// How many reads run at once: a few per core. More would only queue inside SQLite and the
/// kernel, and every extra connection pays for parsing the schema again.
pub(super) fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (n.get() * 2).clamp(4, 16))
}

impl Db {
    /// Runs `f` on a reader connection (a WAL snapshot) off the async threads. At most
    /// [`reader_count`] reads run at once, each on a pooled connection that keeps its prepared
    /// statements.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _slot = self
            .inner
            .read_slots
            .acquire()
            .await
            .map_err(|_| DbError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().ok().and_then(|mut r| r.pop());
            let conn = if let Some(c) = conn {
                c
            } else {
                let c = Connection::open_with_flags(
                    &inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                tune_connection(&c)?;
                c
            };
            let result = f(&conn);
            // A read whose caller went away frees its permit before its connection comes back,
            // so the pool can briefly hold more than the permits; it never keeps more.
            if let Ok(mut readers) = inner.readers.lock()
                && readers.len() < inner.read_slots_total
            {
                readers.push(conn);
            }
            result.map_err(DbError::from)
        })
        .await
        .map_err(|_| DbError::Closed)?
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, Durability};

    /// A hot read with a range on a bound value (the stream query) runs from its cached plan:
    /// binding new values must not make SQLite parse the SQL again.
    #[tokio::test]
    async fn reads_reuse_their_prepared_statements_across_new_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let sql =
            "SELECT payload FROM events WHERE stream_id = ?1 AND version > ?2 ORDER BY version";
        let mut reprepared = 0;
        for after in 0..20_i64 {
            reprepared = db
                .read(move |c| {
                    let mut s = c.prepare_cached(sql)?;
                    let n = s
                        .query_map(rusqlite::params!["order-x", after], |_| Ok(()))?
                        .count();
                    assert_eq!(n, 0);
                    Ok(s.get_status(rusqlite::StatementStatus::RePrepare))
                })
                .await
                .unwrap()
                .max(reprepared);
        }
        assert_eq!(
            reprepared, 0,
            "the statement was parsed again after a new binding"
        );
        db.close();
    }
}
