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
    conn.pragma_update(None, "cache_size", -16_000)?;
    Ok(())
}
