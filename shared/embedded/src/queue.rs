//! Queues on SQLite with SQS semantics: visibility timeout, receive count, dead-letter queue.

use std::sync::Arc;

use order_domain::OrderId;
use order_domain::ports::{OrderQueue, PortError};
use rusqlite::{Connection, params};
use tokio::sync::Notify;

use crate::db::{Db, now_ms};

mod dead_letters;

pub const ORDERS_QUEUE: &str = "OrdersQueue";
pub const ORDERS_DLQ: &str = "OrdersDeadLetterQueue";
/// How long a received message stays hidden (SQS's visibility timeout).
pub const QUEUE_VISIBILITY_MS: i64 = 30_000;

/// A received message. `receipt` is needed to delete it and is void after its next receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: i64,
    pub receipt: String,
    pub body: String,
    pub receive_count: u32,
}

/// A queue with its dead-letter queue.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Db,
    name: &'static str,
    dlq: &'static str,
    max_receives: u32,
    wake: Arc<Notify>,
}

fn port(e: impl std::fmt::Display) -> PortError {
    PortError(e.to_string())
}

impl SqliteQueue {
    /// `max_receives`: after that many receives without a delete, a message moves to the DLQ
    /// (SQS's `maxReceiveCount`).
    pub fn new(db: Db, name: &'static str, dlq: &'static str, max_receives: u32) -> Self {
        Self {
            db,
            name,
            dlq,
            max_receives,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn orders(db: Db) -> Self {
        Self::new(db, ORDERS_QUEUE, ORDERS_DLQ, 5)
    }

    pub async fn send(&self, body: String) -> Result<(), PortError> {
        let queue = self.name;
        self.db
            .write_direct(move |c| insert_message(c, queue, &body))
            .await
            .map_err(|e| port(format!("{e:?}")))?;
        self.sent();
        Ok(())
    }

    /// The queue's name (its rows' `queue` column).
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Wakes a waiting receive after a message was committed.
    pub(crate) fn sent(&self) {
        self.wake.notify_one();
    }

    /// Receives up to `max` visible messages, hiding each for `visibility_ms`. Messages received
    /// `max_receives` times already go to the DLQ instead.
    pub async fn receive(
        &self,
        max: usize,
        visibility_ms: i64,
    ) -> Result<Vec<Received>, PortError> {
        let (got, _next) = self.receive_or_next(max, visibility_ms).await?;
        Ok(got)
    }

    /// Deletes a message by its current receipt; a stale receipt deletes nothing (false).
    pub async fn delete(&self, message: &Received) -> Result<bool, PortError> {
        let (id, receipt) = (message.id, message.receipt.clone());
        self.db
            .write_direct(move |c| {
                c.prepare_cached("DELETE FROM queue_messages WHERE id = ?1 AND receipt = ?2")?
                    .execute(params![id, receipt])
                    .map(|n| n == 1)
            })
            .await
            .map_err(|e| port(format!("{e:?}")))
    }

    /// Makes a received message visible again after `delay_ms` (a retry with backoff).
    pub async fn retry_after(&self, message: &Received, delay_ms: i64) -> Result<(), PortError> {
        let (id, receipt) = (message.id, message.receipt.clone());
        self.db
            .write_direct(move |c| {
                c.prepare_cached(
                    "UPDATE queue_messages SET visible_at = ?3 WHERE id = ?1 AND receipt = ?2",
                )?
                .execute(params![id, receipt, now_ms() + delay_ms])
                .map(|_| ())
            })
            .await
            .map_err(|e| port(format!("{e:?}")))
    }

    /// `(visible, in flight)` message counts of this queue, and the DLQ's count.
    pub async fn depth(&self) -> Result<(u64, u64, u64), PortError> {
        let (queue, dlq) = (self.name, self.dlq);
        self.db
            .read(move |c| {
                let now = now_ms();
                let count = |sql: &str, q: &str| -> rusqlite::Result<u64> {
                    c.prepare_cached(sql)?
                        .query_row(params![q, now], |r| r.get::<_, i64>(0))
                        .map(|n| u64::try_from(n).unwrap_or(0))
                };
                Ok((
                    count(
                        "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2",
                        queue,
                    )?,
                    count(
                        "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND visible_at > ?2",
                        queue,
                    )?,
                    count(
                        "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND ?2 = ?2",
                        dlq,
                    )?,
                ))
            })
            .await
            .map_err(port)
    }

    /// The writer job of every receive: the messages received and, when none was visible,
    /// when the next hidden message reappears, read in the same job. A poller below capacity
    /// finds the queue empty after each message it handles, and asking a reader apart cost a
    /// hand-off to the blocking pool and back for every order.
    async fn receive_or_next(
        &self,
        max: usize,
        visibility_ms: i64,
    ) -> Result<(Vec<Received>, Option<i64>), PortError> {
        let (queue, dlq, max_receives) = (self.name, self.dlq, self.max_receives);
        self.db
            .write_direct(move |c| {
                let got = receive_on(c, queue, dlq, max_receives, max, visibility_ms)?;
                let next = if got.is_empty() {
                    next_visible_on(c, queue)?
                } else {
                    None
                };
                Ok::<_, rusqlite::Error>((got, next))
            })
            .await
            .map_err(|e| port(format!("{e:?}")))
    }
}

/// When the queue's next hidden message becomes visible, if any (ms since the epoch).
fn next_visible_on(c: &Connection, queue: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1")?
        .query_row([queue], |r| r.get(0))
}

/// The visible messages of a queue, those visible longest first: the order of the queue's
/// `(queue, visible_at, id)` index, so the `LIMIT` stops the index walk with no sort (ordered
/// by `id` alone, SQLite built a temporary B-tree for every receive). Like an SQS standard
/// queue, nothing promises the order in which messages are sent.
const RECEIVE: &str = "SELECT id, body, receive_count FROM queue_messages \
     WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3";

fn receive_on(
    c: &Connection,
    queue: &str,
    dlq: &str,
    max_receives: u32,
    max: usize,
    visibility_ms: i64,
) -> rusqlite::Result<Vec<Received>> {
    let now = now_ms();
    let candidates: Vec<(i64, String, u32)> = c
        .prepare_cached(RECEIVE)?
        .query_map(params![queue, now, i64::try_from(max).unwrap_or(10)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(candidates.len());
    for (id, body, count) in candidates {
        if count >= max_receives {
            c.prepare_cached(
                "UPDATE queue_messages SET queue = ?2, visible_at = ?3, receipt = NULL WHERE id = ?1",
            )?
            .execute(params![id, dlq, now])?;
            tracing::warn!(
                message_id = id,
                queue,
                receives = count,
                "message moved to the dead-letter queue"
            );
            continue;
        }
        let receipt = ulid::Ulid::generate().to_string();
        c.prepare_cached(
            "UPDATE queue_messages SET visible_at = ?2, receive_count = receive_count + 1, receipt = ?3 WHERE id = ?1",
        )?
        .execute(params![id, now + visibility_ms, receipt])?;
        out.push(Received {
            id,
            receipt,
            body,
            receive_count: count + 1,
        });
    }
    Ok(out)
}

impl order_domain::ports::PolledQueue for SqliteQueue {
    type Message = Received;

    async fn receive(&self, max: usize) -> Result<Vec<Received>, PortError> {
        let notified = self.wake.notified();
        let (got, next) = self.receive_or_next(max, QUEUE_VISIBILITY_MS).await?;
        if !got.is_empty() {
            return Ok(got);
        }
        // Nothing visible: wait for a send, or for the next hidden message to reappear.
        let wait = match next {
            Some(at) => u64::try_from((at - now_ms()).clamp(1, 1000)).unwrap_or(1000),
            None => 1000,
        };
        let _ = tokio::time::timeout(std::time::Duration::from_millis(wait), notified).await;
        SqliteQueue::receive(self, max, QUEUE_VISIBILITY_MS).await
    }

    fn body(message: &Received) -> &str {
        &message.body
    }

    fn message_id(message: &Received) -> String {
        message.id.to_string()
    }

    fn receive_count(message: &Received) -> u32 {
        message.receive_count
    }

    async fn delete(&self, message: &Received) -> Result<(), PortError> {
        SqliteQueue::delete(self, message).await.map(|_| ())
    }

    async fn delete_batch(&self, messages: &[&Received]) -> Result<(), PortError> {
        let keys: Vec<(i64, String)> = messages.iter().map(|m| (m.id, m.receipt.clone())).collect();
        self.db
            .write_direct(move |c| {
                let mut stmt =
                    c.prepare_cached("DELETE FROM queue_messages WHERE id = ?1 AND receipt = ?2")?;
                for (id, receipt) in &keys {
                    stmt.execute(params![id, receipt])?;
                }
                Ok::<_, rusqlite::Error>(())
            })
            .await
            .map_err(|e| port(format!("{e:?}")))
    }

    async fn retry_after(&self, message: &Received, delay_ms: i64) -> Result<(), PortError> {
        SqliteQueue::retry_after(self, message, delay_ms).await
    }

    async fn depth(&self) -> Result<(u64, u64), PortError> {
        SqliteQueue::depth(self)
            .await
            .map(|(visible, _, dlq)| (visible, dlq))
    }
}

/// Sends a message inside the writer's transaction.
pub(crate) fn insert_message(c: &Connection, queue: &str, body: &str) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO queue_messages (queue, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![queue, body, now_ms()])
    .map(|_| ())
}

/// OrdersQueue's message for an order: what StartOrderProcessing reads.
pub(crate) fn order_message(order_id: OrderId) -> String {
    format!(r#"{{"orderId":"{order_id}"}}"#)
}

impl OrderQueue for SqliteQueue {
    async fn enqueue(&self, order_id: OrderId) -> Result<(), PortError> {
        self.send(order_message(order_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Durability;
    use order_domain::ports::PolledQueue;

    /// A receive walks the queue's index and stops at its limit: no temporary B-tree.
    #[test]
    fn a_receive_sorts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db"), Durability::Normal).unwrap();
        let conn = Connection::open(dir.path().join("q.db")).unwrap();
        let ops = crate::db::opcodes(&conn, RECEIVE).unwrap();
        assert!(!ops.iter().any(|op| op == "OpenEphemeral"), "{ops:?}");
        let plan: String = conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {RECEIVE}"),
                ["q", "0", "1"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("queue_messages_ready"), "{plan}");
        db.close();
    }

    /// What the queue contract (tests/testkit) does not cover, because SQS differs: a receipt
    /// from an earlier receive deletes nothing here.
    #[tokio::test]
    async fn a_stale_receipt_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db"), Durability::Normal).unwrap();
        let q = SqliteQueue::orders(db.clone());
        q.send("m".into()).await.unwrap();
        let first = q.receive(10, 60_000).await.unwrap();
        q.retry_after(&first[0], 0).await.unwrap();
        let second = q.receive(10, 60_000).await.unwrap();
        assert_eq!(second[0].receive_count, 2);
        assert!(
            !q.delete(&first[0]).await.unwrap(),
            "a stale receipt deletes nothing"
        );
        assert_eq!(q.depth().await.unwrap(), (0, 1, 0));
        db.close();
    }

    /// A batch delete removes what it was given in one commit; a message received again since
    /// (its receipt changed) is not deleted by the old receipt.
    #[tokio::test]
    async fn a_batch_delete_removes_its_messages_but_not_one_received_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db"), Durability::Normal).unwrap();
        let q = SqliteQueue::orders(db.clone());
        for _ in 0..3 {
            q.enqueue(OrderId::generate()).await.unwrap();
        }
        let got = q.receive(10, 0).await.unwrap();
        assert_eq!(got.len(), 3);
        let again = q.receive(1, 30_000).await.unwrap();
        assert_eq!(again.len(), 1);
        let stale: Vec<&Received> = got.iter().collect();
        PolledQueue::delete_batch(&q, &stale).await.unwrap();
        assert_eq!(q.depth().await.unwrap(), (0, 1, 0));
        db.close();
    }

    /// A receive that finds nothing visible says, from the same writer job, when the next
    /// hidden message reappears, which is how long a poller then waits for a send.
    #[tokio::test]
    async fn an_empty_receive_says_when_the_next_hidden_message_reappears() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db"), Durability::Normal).unwrap();
        let q = SqliteQueue::orders(db.clone());
        let (got, next) = q.receive_or_next(10, 30_000).await.unwrap();
        assert!(got.is_empty());
        assert_eq!(next, None, "an empty queue has nothing to wait for");
        q.send("m".into()).await.unwrap();
        let before = now_ms();
        let (got, next) = q.receive_or_next(10, 30_000).await.unwrap();
        assert_eq!(
            (got.len(), next),
            (1, None),
            "a receive that found a message"
        );
        let (none, next) = q.receive_or_next(10, 30_000).await.unwrap();
        assert!(none.is_empty(), "the message is hidden");
        let at = next.expect("when the hidden message reappears");
        assert!((before + 30_000..=now_ms() + 30_000).contains(&at), "{at}");
        // Hidden for 200 ms more: a poller's receive waits for it and gets it (a receive may
        // also come back empty early, woken by the send's notice left from before).
        q.retry_after(&got[0], 200).await.unwrap();
        let mut again = Vec::new();
        for _ in 0..3 {
            again = PolledQueue::receive(&q, 10).await.unwrap();
            if !again.is_empty() {
                break;
            }
        }
        assert_eq!(again.len(), 1, "received once it reappeared");
        assert_eq!(again[0].receive_count, 2);
        db.close();
    }
}
