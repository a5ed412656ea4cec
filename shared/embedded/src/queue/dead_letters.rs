//! The SQLite queue's dead letters: rows whose `queue` is the dead-letter queue's name. A
//! redrive moves the row back (same id, fresh receive count) in one statement guarded by its
//! current queue, so a second redrive of the same id changes nothing.

use order_domain::ports::{DeadLetter, DeadLetters, PortError, Redrive};
use rusqlite::{Row, params};

use super::{SqliteQueue, port};
use crate::db::now_ms;

const SELECT: &str = "SELECT id, body, sent_at, receive_count FROM queue_messages WHERE queue = ?1";

impl SqliteQueue {
    fn letter(&self, r: &Row<'_>) -> rusqlite::Result<DeadLetter> {
        Ok(DeadLetter {
            id: r.get::<_, i64>(0)?.to_string(),
            body: r.get(1)?,
            queue: self.dlq.to_owned(),
            source_queue: self.name.to_owned(),
            sent_at_ms: Some(r.get(2)?),
            receive_count: Some(r.get(3)?),
        })
    }
}

impl DeadLetters for SqliteQueue {
    async fn list(&self) -> Result<Vec<DeadLetter>, PortError> {
        let this = self.clone();
        self.db
            .read(move |c| {
                c.prepare_cached(&format!("{SELECT} ORDER BY id"))?
                    .query_map([this.dlq], |r| this.letter(r))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .map_err(port)
    }

    async fn show(&self, id: &str) -> Result<Option<DeadLetter>, PortError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let this = self.clone();
        self.db
            .read(move |c| {
                let mut stmt = c.prepare_cached(&format!("{SELECT} AND id = ?2"))?;
                let mut rows = stmt.query_map(params![this.dlq, id], |r| this.letter(r))?;
                rows.next().transpose()
            })
            .await
            .map_err(port)
    }

    async fn redrive(&self, id: &str) -> Result<Redrive, PortError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(Redrive::NotDeadLettered);
        };
        let (queue, dlq) = (self.name, self.dlq);
        let moved = self
            .db
            .write_direct(move |c| {
                c.prepare_cached(
                    "UPDATE queue_messages SET queue = ?2, visible_at = ?4, receive_count = 0, receipt = NULL WHERE id = ?1 AND queue = ?3",
                )?
                .execute(params![id, queue, dlq, now_ms()])
            })
            .await
            .map_err(|e| port(format!("{e:?}")))?;
        if moved == 0 {
            return Ok(Redrive::NotDeadLettered);
        }
        self.sent();
        Ok(Redrive::Redriven)
    }
}
