//! The customers' data keys on SQLite (`customer_keys`), each wrapped under the data
//! directory's [`MasterKey`]: the embedded [`KeyStore`].
//!
//! - `sealing_key` reads the customer's row; a customer without one gets a fresh random key,
//!   not stored yet. Storing it ([`insert_key`]: `save_key`, or the embedded intake in the
//!   same job as the customer's first order) inserts it only if still absent, and on a
//!   conflict reads the stored row in the same write job, so of concurrent new keys (the
//!   writer runs jobs one at a time) the first stored is everyone's; `current_key` is the two
//!   steps.
//! - `forget` deletes the row with `PRAGMA secure_delete` on (SQLite zeroes the freed bytes
//!   in the page instead of leaving them in free space; inserts run with it too, see
//!   [`with_secure_delete`]), then truncates the WAL, which still holds the page as it was
//!   before the delete. Afterwards neither file holds the wrapped key.
//!   A repeat `forget` (0 keys) truncates again, so it is also the way to finish a forget
//!   whose truncation failed.

mod master;
#[cfg(test)]
mod tests;

pub use master::{KeysError, MASTER_KEY_FILE, MasterKey, WRAPPED_LEN, random_key};

use std::path::Path;
use std::sync::Arc;

use order_app::vault::wrap::new_data_key;
use order_domain::CustomerId;
use order_domain::ports::{DataKey, KeyStore, NewKey, PortError, SealingKey};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, now_ms};

/// The embedded key store; cheap to clone.
#[derive(Clone)]
pub struct SqliteKeys {
    db: Db,
    master: Arc<MasterKey>,
}

fn port_err(e: &impl std::fmt::Display) -> PortError {
    PortError(format!("key store: {e}"))
}

/// The customer's key id and wrapped key, if they have a key.
fn stored(c: &Connection, customer: &str) -> rusqlite::Result<Option<(String, Vec<u8>)>> {
    c.prepare_cached("SELECT key_id, wrapped_key FROM customer_keys WHERE customer_id = ?1")?
        .query_row([customer], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Runs `f` with `PRAGMA secure_delete` on: whatever space it frees in a page, and any page
/// it frees, is zeroed. Deletes need it, and so do inserts: an insert that splits a page
/// moves rows to a new one and leaves their old bytes in the old page's free space, where a
/// later delete of the row (now elsewhere) would not reach them. The writer's other jobs keep
/// the cheaper default.
fn with_secure_delete<T>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    // Cached statements: a customer's first order pays for this on the single writer thread,
    // where compiling three pragmas each time cost more than the insert itself.
    let before: i64 = c
        .prepare_cached("PRAGMA secure_delete")?
        .query_row([], |r| r.get(0))?;
    c.prepare_cached("PRAGMA secure_delete = 1")?
        .query_row([], |r| r.get::<_, i64>(0))?;
    let result = f(c);
    let restore = if before == 0 {
        "PRAGMA secure_delete = 0"
    } else {
        "PRAGMA secure_delete = 1"
    };
    c.prepare_cached(restore)?
        .query_row([], |r| r.get::<_, i64>(0))?;
    result
}

impl SqliteKeys {
    /// Keys in `db`, wrapped under the master key of `data_dir` (`DATA_DIR/keys/master.key`,
    /// created on first open).
    pub fn open(db: Db, data_dir: &Path) -> Result<Self, KeysError> {
        Ok(Self::new(db, MasterKey::load_or_create(data_dir)?))
    }

    pub fn new(db: Db, master: MasterKey) -> Self {
        Self {
            db,
            master: Arc::new(master),
        }
    }

    fn unwrap_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, PortError> {
        self.master
            .unwrap(customer, key_id, wrapped)
            .map_err(|e| port_err(&e))
    }
}

/// Stores `new` unless its customer has a key, and returns the customer's stored key id and
/// wrapped key (ours, or the one stored first). With `secure_delete` on (see
/// [`with_secure_delete`]). A write job's body: [`SqliteKeys::save_key`] runs it alone, the
/// embedded intake together with the order's first event.
pub(crate) fn insert_key(c: &Connection, new: &NewKey) -> rusqlite::Result<(String, Vec<u8>)> {
    let customer = new.customer.as_str();
    let inserted = with_secure_delete(c, |c| {
        c.prepare_cached(
            "INSERT INTO customer_keys (customer_id, key_id, wrapped_key, created_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (customer_id) DO NOTHING",
        )?
        .execute(params![customer, new.key.id, new.wrapped, now_ms()])
    })?;
    // A row inserted is ours (the writer runs one job at a time): only a conflict needs to
    // read which key was stored first. This runs on the single writer thread, once per new
    // customer.
    if inserted == 1 {
        return Ok((new.key.id.clone(), new.wrapped.clone()));
    }
    stored(c, customer)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

impl KeyStore for SqliteKeys {
    async fn current_key(&self, customer: &CustomerId) -> Result<DataKey, PortError> {
        match self.sealing_key(customer).await? {
            SealingKey::Stored(key) => Ok(key),
            SealingKey::New(new) => self.save_key(new).await,
        }
    }

    async fn sealing_key(&self, customer: &CustomerId) -> Result<SealingKey, PortError> {
        let id = customer.as_str().to_owned();
        let found = self
            .db
            .read(move |c| stored(c, &id))
            .await
            .map_err(|e| port_err(&e))?;
        if let Some((key_id, wrapped)) = found {
            return self
                .unwrap_key(customer, &key_id, &wrapped)
                .map(SealingKey::Stored);
        }
        let key = new_data_key().map_err(|e| port_err(&e))?;
        let wrapped = self.master.wrap(customer, &key).map_err(|e| port_err(&e))?;
        Ok(SealingKey::New(NewKey {
            customer: customer.clone(),
            key,
            wrapped,
        }))
    }

    async fn save_key(&self, new: NewKey) -> Result<DataKey, PortError> {
        let job = new.clone();
        let (key_id, wrapped) = self
            .db
            .write(move |c| insert_key(c, &job))
            .await
            .map_err(|e| port_err(&format!("{e:?}")))?;
        if key_id == new.key.id {
            tracing::info!(key_id, "data key created");
            return Ok(new.key);
        }
        // Another caller stored the customer's key first: theirs is the key.
        self.unwrap_key(&new.customer, &key_id, &wrapped)
    }

    async fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> Result<Option<DataKey>, PortError> {
        let (id, kid) = (customer.as_str().to_owned(), key_id.to_owned());
        let wrapped: Option<Vec<u8>> = self
            .db
            .read(move |c| {
                c.prepare_cached(
                    "SELECT wrapped_key FROM customer_keys WHERE customer_id = ?1 AND key_id = ?2",
                )?
                .query_row([id, kid], |r| r.get(0))
                .optional()
            })
            .await
            .map_err(|e| port_err(&e))?;
        wrapped
            .map(|w| self.unwrap_key(customer, key_id, &w))
            .transpose()
    }

    async fn forget(&self, customer: &CustomerId) -> Result<u32, PortError> {
        let id = customer.as_str().to_owned();
        let deleted = self
            .db
            .write(move |c| {
                with_secure_delete(c, |c| {
                    c.prepare_cached("DELETE FROM customer_keys WHERE customer_id = ?1")?
                        .execute([id])
                })
            })
            .await
            .map_err(|e| port_err(&format!("{e:?}")))?;
        self.db.checkpoint_truncate().await.map_err(|e| {
            port_err(&format!(
                "key deleted, but its bytes may remain in the WAL ({e}); forget again to finish"
            ))
        })?;
        if deleted > 0 {
            tracing::info!(deleted, "data keys destroyed");
        }
        Ok(u32::try_from(deleted).unwrap_or(u32::MAX))
    }
}
