//! How each connection is tuned: the settings every connection gets, and the writer's own
//! (journal mode, durability, caches).

use std::time::Duration;

use rusqlite::Connection;

use super::Durability;

/// Settings every connection to the database gets, reader or writer.
///
/// The query planner stability guarantee (QPSG) keeps a prepared statement's plan when new
/// values are bound. Without it, SQLite re-prepares a statement on every run whose plan could
/// depend on a bound value (`version > ?2` qualifies), and the profile of the pipeline showed
/// parsing SQL as its largest single cost. Our plans come from the schema's keys, not from
/// values, so nothing is lost.
pub fn tune_connection(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The writer's page cache, in KiB: ~1,000 pages of 4 KiB, which hold what the writer touches
/// (the tables' right edges, the rows of the orders in flight; it reads almost nothing back).
///
/// Kept small because SQLite walks the whole of its page-cache hash table at every commit
/// after a B-tree rebalance: `balance_nonroot` renumbers pages through a temporary number (the
/// lock-byte page, 262,145 at 4 KiB), the cache then holds a key far past the database's end,
/// and the COMMIT's truncate to the database's size scans every slot. Rows that grow when
/// updated (an execution's saved state, caught in the act with a debugger) rebalance pages
/// often. With 16 MB (a 4,096-slot table) that scan was 2.8 % of the pipeline's CPU
/// (`pcache1TruncateUnsafe`); with 4 MB, 0.9 %, and no more page reads (BENCHMARKS.md, "After
/// issue 16, ninth part").
const WRITER_CACHE_KIB: i64 = 4_000;

pub(super) fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    tune_connection(conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        },
    )?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    Ok(())
}
