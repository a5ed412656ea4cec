//! Idempotency records for POST /orders on SQLite.

use order_domain::ports::{Claim, IdempotencyStore, PortError};
use order_domain::{OrderId, Timestamp};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, now_ms};

#[derive(Clone)]
pub struct SqliteIdempotency {
    db: Db,
}

impl SqliteIdempotency {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
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
        let lease = i64::try_from(lease_ms).unwrap_or(i64::MAX);
        self.db
            .write(move |c| -> rusqlite::Result<Claim> {
                let now = ms(now);
                let existing: Option<(String, String, String, i64)> = c
                    .prepare_cached("SELECT fingerprint, order_id, state, expires_at FROM idempotency WHERE key = ?1")?
                    .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()?;
                let order_id = match existing {
                    None => candidate,
                    // A finished request whose record has expired: the key is free again.
                    Some((_, _, state, expires)) if state == "COMPLETED" && expires <= now => candidate,
                    Some((fp, _, _, _)) if fp != fingerprint => return Ok(Claim::Mismatch),
                    Some((_, id, state, _)) if state == "COMPLETED" => {
                        return Ok(parse(&id).map_or(Claim::Mismatch, |order_id| Claim::Completed { order_id }));
                    }
                    Some((_, _, _, expires)) if expires > now => return Ok(Claim::InProgress),
                    // An expired lease (a crashed or failed attempt): take it over, same order id.
                    Some((_, id, _, _)) => parse(&id).unwrap_or(candidate),
                };
                c.prepare_cached(
                    "INSERT INTO idempotency (key, fingerprint, order_id, state, expires_at) VALUES (?1, ?2, ?3, 'IN_PROGRESS', ?4) \
                     ON CONFLICT (key) DO UPDATE SET fingerprint = ?2, order_id = ?3, state = 'IN_PROGRESS', expires_at = ?4",
                )?
                .execute(params![key, fingerprint, order_id.to_string(), now + lease])?;
                Ok(Claim::Claimed { order_id })
            })
            .await
            .map_err(|e| PortError(format!("idempotency store: {e:?}")))
    }

    async fn complete(&self, key: &str, now: Timestamp, ttl_ms: u64) -> Result<(), PortError> {
        let key = key.to_owned();
        let expires = ms(now).saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE idempotency SET state = 'COMPLETED', expires_at = ?2 WHERE key = ?1",
                )?
                .execute(params![key, expires])
                .map(|_| ())
            })
            .await
            .map_err(|e| PortError(format!("idempotency store: {e:?}")))
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        let key = key.to_owned();
        self.db
            .write(move |c| {
                c.prepare_cached("UPDATE idempotency SET expires_at = ?2 WHERE key = ?1 AND state = 'IN_PROGRESS'")?
                    .execute(params![key, now_ms()])
                    .map(|_| ())
            })
            .await
            .map_err(|e| PortError(format!("idempotency store: {e:?}")))
    }
}

fn parse(id: &str) -> Option<OrderId> {
    OrderId::parse(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Durability;

    #[tokio::test]
    async fn a_key_is_claimed_once_then_answers_completed_or_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("i.db"), Durability::Normal).unwrap();
        let s = SqliteIdempotency::new(db.clone());
        let now = Timestamp::now();
        let id = OrderId::generate();
        assert_eq!(
            s.claim("k", "f1", id, now, 30_000).await.unwrap(),
            Claim::Claimed { order_id: id }
        );
        assert_eq!(
            s.claim("k", "f1", OrderId::generate(), now, 30_000)
                .await
                .unwrap(),
            Claim::InProgress
        );
        s.complete("k", now, 60_000).await.unwrap();
        assert_eq!(
            s.claim("k", "f1", OrderId::generate(), now, 30_000)
                .await
                .unwrap(),
            Claim::Completed { order_id: id }
        );
        assert_eq!(
            s.claim("k", "f2", OrderId::generate(), now, 30_000)
                .await
                .unwrap(),
            Claim::Mismatch
        );
        db.close();
    }

    #[tokio::test]
    async fn a_released_or_expired_lease_is_taken_over_with_the_same_order_id() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("i.db"), Durability::Normal).unwrap();
        let s = SqliteIdempotency::new(db.clone());
        let id = OrderId::generate();
        s.claim("k", "f", id, Timestamp::now(), 30_000)
            .await
            .unwrap();
        s.release("k").await.unwrap();
        let again = s
            .claim("k", "f", OrderId::generate(), Timestamp::now(), 30_000)
            .await
            .unwrap();
        assert_eq!(again, Claim::Claimed { order_id: id });
        db.close();
    }
}
