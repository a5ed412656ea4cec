//! Idempotency records for POST /orders on SQLite.
//!
//! A claim reads the key's record and carries out the domain's [`judge`] inside the single
//! writer's transaction, so no other claim comes between the read and the write.
//!
//! This database has one writer process (the data directory's lock), so at start every
//! IN_PROGRESS record is a claim of a process that died with requests in flight:
//! [`SqliteIdempotency::release_claims_of_a_previous_process`] ends their leases, and a client
//! retrying right after a restart gets its order instead of waiting the lease out.

use order_domain::idempotency::{IdempotencyRecord, KeyState, Verdict, judge, may_finish};
use order_domain::ports::{Claim, IdempotencyStore, PortError};
use order_domain::{OrderId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, now_ms};

#[derive(Clone)]
pub struct SqliteIdempotency {
    db: Db,
}

fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn port_err(e: &impl std::fmt::Debug) -> PortError {
    PortError(format!("idempotency store: {e:?}"))
}

/// The key's record; a row that does not parse is an error, not a free key.
fn read(c: &Connection, key: &str) -> rusqlite::Result<Option<IdempotencyRecord>> {
    let row: Option<(String, String, String, i64, Option<String>)> = c
        .prepare_cached(
            "SELECT fingerprint, order_id, state, expires_at, claimant FROM idempotency \
             WHERE key = ?1",
        )?
        .query_row([key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((fingerprint, order_id, state, expires_at, claimant)) = row else {
        return Ok(None);
    };
    let malformed = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("idempotency record {key}: bad {what}").into(),
        )
    };
    Ok(Some(IdempotencyRecord {
        fingerprint,
        order_id: OrderId::parse(&order_id).map_err(|_| malformed("order id"))?,
        state: KeyState::parse(&state).ok_or_else(|| malformed("state"))?,
        expires_at: Timestamp::from_millis(u64::try_from(expires_at).unwrap_or(0)),
        claimant: claimant
            .map(|c| OrderId::parse(&c).map_err(|_| malformed("claimant")))
            .transpose()?,
    }))
}

impl SqliteIdempotency {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Ends the lease of every IN_PROGRESS claim, keeping its order id for the retry. Only for
    /// a start, before any request is served: the claims are then those of a process that is
    /// gone (no other process writes this database). Returns how many it released.
    ///
    /// # Errors
    /// The database could not be written.
    pub async fn release_claims_of_a_previous_process(&self) -> Result<usize, PortError> {
        self.db
            .write(|c| {
                c.prepare_cached(
                    "UPDATE idempotency SET expires_at = ?1 \
                     WHERE state = 'IN_PROGRESS' AND expires_at > ?1",
                )?
                .execute([now_ms()])
            })
            .await
            .map_err(|e| port_err(&e))
    }
}

impl IdempotencyStore for SqliteIdempotency {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        candidate: OrderId,
        now: Timestamp,
        lease_ms: u64,
    ) -> Result<Claim, PortError> {
        let (key, fingerprint) = (key.to_owned(), fingerprint.to_owned());
        let expires_at = ms(now).saturating_add(i64::try_from(lease_ms).unwrap_or(i64::MAX));
        // Read, judge, then at most one write: no savepoint needed.
        self.db
            .write_direct(move |c| -> rusqlite::Result<Claim> {
                let verdict = judge(read(c, &key)?.as_ref(), &fingerprint, candidate, now);
                if let Verdict::Claim { order_id } | Verdict::TakeOver { order_id } = verdict {
                    c.prepare_cached(
                        "INSERT INTO idempotency \
                         (key, fingerprint, order_id, state, expires_at, claimant) \
                         VALUES (?1, ?2, ?3, 'IN_PROGRESS', ?4, ?5) ON CONFLICT (key) DO UPDATE \
                         SET fingerprint = ?2, order_id = ?3, state = 'IN_PROGRESS', \
                         expires_at = ?4, claimant = ?5",
                    )?
                    .execute(params![
                        key,
                        fingerprint,
                        order_id.to_string(),
                        expires_at,
                        candidate.to_string()
                    ])?;
                }
                Ok(verdict.claim())
            })
            .await
            .map_err(|e| port_err(&e))
    }

    async fn complete(
        &self,
        key: &str,
        claimant: OrderId,
        now: Timestamp,
        ttl_ms: u64,
    ) -> Result<(), PortError> {
        let key = key.to_owned();
        let expires = ms(now).saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
        self.finish(key, claimant, move |c, key| {
            c.prepare_cached(
                "UPDATE idempotency SET state = 'COMPLETED', expires_at = ?2 WHERE key = ?1",
            )?
            .execute(params![key, expires])
        })
        .await
    }

    async fn release(&self, key: &str, claimant: OrderId) -> Result<(), PortError> {
        let key = key.to_owned();
        self.finish(key, claimant, |c, key| {
            c.prepare_cached("UPDATE idempotency SET expires_at = ?2 WHERE key = ?1")?
                .execute(params![key, now_ms()])
        })
        .await
    }
}

impl SqliteIdempotency {
    /// Reads the key's record and runs `write` on it if the domain's [`may_finish`] lets the
    /// attempt `claimant` finish it, in one writer job (no claim comes between).
    async fn finish(
        &self,
        key: String,
        claimant: OrderId,
        write: impl FnOnce(&Connection, &str) -> rusqlite::Result<usize> + Send + 'static,
    ) -> Result<(), PortError> {
        self.db
            .write_direct(move |c| -> rusqlite::Result<()> {
                if may_finish(read(c, &key)?.as_ref(), claimant) {
                    write(c, &key)?;
                }
                Ok(())
            })
            .await
            .map_err(|e| port_err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Durability;

    /// The contract suite (order-testkit) covers claims; this is the embedded host's own
    /// start-up release.
    #[tokio::test]
    async fn a_restart_releases_the_claims_in_flight_keeping_their_order_ids() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("i.db"), Durability::Normal).unwrap();
        let s = SqliteIdempotency::new(db.clone());
        let now = Timestamp::now();
        let (held, done) = (OrderId::generate(), OrderId::generate());
        s.claim("held", "f", held, now, 30_000).await.unwrap();
        s.claim("done", "f", done, now, 30_000).await.unwrap();
        s.complete("done", done, now, 60_000).await.unwrap();

        assert_eq!(s.release_claims_of_a_previous_process().await.unwrap(), 1);
        let later = Timestamp::from_millis(Timestamp::now().as_millis() + 1);
        assert_eq!(
            s.claim("held", "f", OrderId::generate(), later, 30_000)
                .await
                .unwrap(),
            Claim::Claimed { order_id: held }
        );
        assert_eq!(
            s.claim("done", "f", OrderId::generate(), later, 30_000)
                .await
                .unwrap(),
            Claim::Completed { order_id: done }
        );
        db.close();
    }
}
