//! POST /orders' two writes in one commit: the order's first event and its OrdersQueue message.
//!
//! On AWS these are a DynamoDB put and an SQS send, one after the other, and a crash between
//! them leaves the order PLACED for the sweeper. Here the log and the queue are tables of one
//! database, so one writer job makes both: the POST waits for one commit instead of two, and
//! the gap does not exist. A new customer's data key is stored by the same job, so their
//! first order waits for one commit, not two.

use order_app::place::{Intake, PlaceError, Recorded};
use order_domain::ports::{NewKey, PortError, StoreError};
use order_domain::{OrderId, StreamWrite};

use crate::db::WriteError;
use crate::keys::insert_key;
use crate::queue::{SqliteQueue, insert_message, order_message};
use crate::store::{SqliteEventStore, append_and_stage};

/// The embedded [`Intake`].
#[derive(Clone)]
pub struct SqliteIntake {
    pub store: SqliteEventStore,
    pub queue: SqliteQueue,
}

impl Intake for SqliteIntake {
    fn stores_keys(&self) -> bool {
        true
    }

    async fn record(
        &self,
        write: StreamWrite,
        order_id: OrderId,
        new_key: Option<&NewKey>,
    ) -> Result<Recorded, PlaceError> {
        let (queue, cache) = (self.queue.name(), self.store.cache().clone());
        let feed = self.store.db().feed().clone();
        let writes = vec![write];
        let new_key = new_key.cloned();
        let job = move |c: &rusqlite::Connection| {
            if let Some(new) = &new_key {
                let (stored, _) = insert_key(c, new)
                    .map_err(|e| PlaceError::Port(PortError(format!("key store: {e}"))))?;
                if stored != new.key.id {
                    return Err(PlaceError::KeyTaken);
                }
            }
            let (position, recorded) = match append_and_stage(c, writes, &cache, &feed) {
                Ok(p) => (p, Recorded::Appended),
                // An earlier attempt with the same key appended it: enqueue again.
                Err(StoreError::Conflict { .. }) => (0, Recorded::AlreadyInLog),
                Err(e) => return Err(PlaceError::Store(e)),
            };
            // A failure here comes after the append: the writer rolls the whole commit back,
            // and forgets the stream cache and the staged feed with it.
            insert_message(c, queue, &order_message(order_id))
                .map_err(|e| PlaceError::Port(PortError(format!("enqueue: {e}"))))?;
            Ok((position, recorded))
        };
        // Its refusals (a key another request stored first) come before its first write.
        match self.store.db().write_direct(job).await {
            Ok((position, recorded)) => {
                self.store.committed(position);
                self.queue.sent();
                Ok(recorded)
            }
            Err(WriteError::Job(e)) => Err(e),
            Err(WriteError::Db(e)) => {
                Err(PlaceError::Store(StoreError::Unavailable(e.to_string())))
            }
        }
    }
}

#[cfg(test)]
mod tests;
