//! The writes of `--rebuild`, safe beside a running server.
//!
//! Each repair is conditional and the condition is evaluated inside the write transaction, not
//! at read time: a row is written only if the live row has not moved past the rebuilt version,
//! and deleted only if the log still has nothing past what replay saw. A projection worker
//! racing with the rebuild (in this process or in the server's) therefore never loses an update;
//! whatever it applies later is skipped or applied on top by its usual version rule. Repairs go
//! in small transactions so the server's writer is never held up for long.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, params};

use crate::judge::Repair;
use crate::summary::RebuildStats;
use crate::view::{Model, View};

/// Repairs written per transaction.
const PER_TRANSACTION: usize = 256;

const PUT_ORDER: &str = "INSERT INTO order_status \
     (order_id, status, version, updated_at, customer_id, placed_at, view) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
     ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, version = excluded.version, \
     updated_at = excluded.updated_at, customer_id = excluded.customer_id, \
     placed_at = excluded.placed_at, view = excluded.view \
     WHERE order_status.version <= excluded.version";

const PUT_INVENTORY: &str = "INSERT INTO inventory (product_id, available, version, view) \
     VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (product_id) DO UPDATE SET available = excluded.available, \
     version = excluded.version, view = excluded.view \
     WHERE inventory.version <= excluded.version";

const DELETE_ORDER: &str = "DELETE FROM order_status WHERE order_id = ?1 \
     AND (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?2) <= ?3";

const DELETE_INVENTORY: &str = "DELETE FROM inventory WHERE product_id = ?1 \
     AND (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?2) <= ?3";

/// Buffers repairs and writes them in short transactions.
pub struct Repairer {
    conn: Connection,
    pending: Vec<(Repair, bool)>,
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Repairer {
    /// Opens a writing connection to the database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Self {
            conn,
            pending: Vec::with_capacity(PER_TRANSACTION),
        })
    }

    /// Queues a repair; `differs` says whether it fixes a reported difference (rather than
    /// only bringing a lagging row forward).
    pub fn push(
        &mut self,
        repair: Repair,
        differs: bool,
        stats: &mut RebuildStats,
    ) -> rusqlite::Result<()> {
        self.pending.push((repair, differs));
        if self.pending.len() >= PER_TRANSACTION {
            self.flush(stats)?;
        }
        Ok(())
    }

    /// Writes what is queued, in one transaction.
    pub fn flush(&mut self, stats: &mut RebuildStats) -> rusqlite::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut local = *stats;
        for (repair, differs) in &self.pending {
            let changed = apply(&tx, repair)?;
            match (repair, changed) {
                (Repair::Put(_), true) => local.written += 1,
                (Repair::Delete { .. }, true) => local.deleted += 1,
                (_, false) => {
                    local.kept += 1;
                    if *differs {
                        local.unresolved += 1;
                    }
                }
            }
        }
        tx.commit()?;
        *stats = local;
        self.pending.clear();
        Ok(())
    }
}

/// Applies one repair on `conn`; whether it changed the row.
pub fn apply(conn: &Connection, repair: &Repair) -> rusqlite::Result<bool> {
    let encode = |v: &View| v.to_json_text();
    let changed = match repair {
        Repair::Put(view @ View::Order(v)) => conn.prepare_cached(PUT_ORDER)?.execute(params![
            v.order_id.to_string(),
            v.status.as_str(),
            int(v.version),
            int(v.updated_at.as_millis()),
            v.customer_id.as_str(),
            int(v.placed_at.as_millis()),
            encode(view),
        ])?,
        Repair::Put(view @ View::Inventory(v)) => {
            conn.prepare_cached(PUT_INVENTORY)?.execute(params![
                v.product_id.as_str(),
                int(v.available),
                int(v.version),
                encode(view),
            ])?
        }
        Repair::Delete {
            model,
            key,
            head_version,
        } => {
            let sql = match model {
                Model::OrderStatus => DELETE_ORDER,
                Model::Inventory => DELETE_INVENTORY,
            };
            conn.prepare_cached(sql)?.execute(params![
                key,
                model.stream_of(key),
                int(*head_version)
            ])?
        }
    };
    Ok(changed > 0)
}
