//! Where each DynamoDB Streams consumer of `orders serve --backend aws` stopped: per (consumer,
//! shard) the sequence number of the last record it handled, in the host's local bookkeeping
//! database (`aws-runner.db`, next to the workflow runner's executions and the alarms' states).
//! On AWS the event source mapping keeps this; locally the host does, so a restart resumes
//! where it stopped instead of replaying the retained stream (and re-routing its terminal
//! events).
//!
//! At least once: a consumer saves after it has handled a batch, so a crash between the two
//! hands that batch out again, and only that batch.

use std::collections::HashMap;

use rusqlite::params;

use crate::db::{Db, DbError, WriteError, now_ms};

/// The positions of the stream consumers; cheap to clone.
#[derive(Clone)]
pub struct StreamPositions {
    db: Db,
}

impl StreamPositions {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// `consumer`'s positions: shard id → the last sequence number it handled.
    ///
    /// # Errors
    /// The database could not be read.
    pub async fn load(&self, consumer: &str) -> Result<HashMap<String, String>, DbError> {
        let consumer = consumer.to_owned();
        self.db
            .read(move |c| {
                c.prepare_cached(
                    "SELECT shard_id, sequence_number FROM stream_positions WHERE consumer = ?1",
                )?
                .query_map([consumer], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
            })
            .await
    }

    /// Records that `consumer` has handled each shard up to and including the sequence number
    /// given for it (one commit for all of them). Shards not listed keep their position.
    ///
    /// # Errors
    /// The database could not be written.
    pub async fn save(
        &self,
        consumer: &str,
        handled: Vec<(String, String)>,
    ) -> Result<(), DbError> {
        if handled.is_empty() {
            return Ok(());
        }
        let consumer = consumer.to_owned();
        self.db
            .write_direct(move |c| {
                let mut upsert = c.prepare_cached(
                    "INSERT INTO stream_positions (consumer, shard_id, sequence_number, updated_at) \
                     VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (consumer, shard_id) DO UPDATE SET \
                     sequence_number = excluded.sequence_number, updated_at = excluded.updated_at",
                )?;
                let now = now_ms();
                for (shard, seq) in &handled {
                    upsert.execute(params![consumer, shard, seq, now])?;
                }
                Ok::<_, rusqlite::Error>(())
            })
            .await
            .map_err(|e| match e {
                WriteError::Job(e) => DbError::Sqlite(e),
                WriteError::Db(e) => e,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Durability;

    fn pos(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    /// Positions are per consumer and per shard, move forward on each save, survive a reopen,
    /// and a shard a save does not mention keeps its position.
    #[tokio::test]
    async fn positions_are_kept_per_consumer_and_shard_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aws-runner.db");
        let db = Db::open(&path, Durability::Normal).unwrap();
        let positions = StreamPositions::new(db.clone());
        assert!(positions.load("router").await.unwrap().is_empty());

        positions
            .save("router", pos(&[("shard-1", "100"), ("shard-2", "200")]))
            .await
            .unwrap();
        positions
            .save("inventory", pos(&[("shard-1", "105")]))
            .await
            .unwrap();
        positions
            .save("router", pos(&[("shard-1", "300")]))
            .await
            .unwrap();
        positions.save("router", Vec::new()).await.unwrap();
        db.close();

        let db = Db::open(&path, Durability::Normal).unwrap();
        let positions = StreamPositions::new(db.clone());
        let router = positions.load("router").await.unwrap();
        assert_eq!(router.len(), 2);
        assert_eq!(router["shard-1"], "300");
        assert_eq!(router["shard-2"], "200");
        let inventory = positions.load("inventory").await.unwrap();
        assert_eq!(inventory.len(), 1);
        assert_eq!(inventory["shard-1"], "105");
        assert!(positions.load("order-status").await.unwrap().is_empty());
        db.close();
    }
}
