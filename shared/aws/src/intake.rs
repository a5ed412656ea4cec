//! POST /orders' writes on DynamoDB and SQS: the order's first event, then its OrdersQueue
//! message (a crash between them leaves the order PLACED for the sweeper, as
//! [`AppendThenEnqueue`] does).
//!
//! A new customer's data key goes in the same `TransactWriteItems` as the order's first event:
//! the key's put conditioned on `attribute_not_exists(customerId)` beside the event's on
//! `attribute_not_exists(streamId)`. Their first POST then makes one DynamoDB write instead of
//! a PutItem for the key and another for the event, one round trip less (and on the emulator,
//! one request less in its queue). A transaction bills two write units per item where the two
//! PutItems billed one each, for a customer's first order only. If someone stored a key for
//! the customer first, the transaction writes nothing and the answer is
//! [`PlaceError::KeyTaken`]: the order is sealed again under the stored key.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use order_app::place::{AppendThenEnqueue, Intake, PlaceError, Recorded};
use order_domain::append::check_append;
use order_domain::ports::{NewKey, OrderQueue, StoreError};
use order_domain::{OrderId, StreamWrite};

use crate::errors::describe;
use crate::{DynamoEventStore, DynamoKeys, SqsQueue};

/// The AWS [`Intake`]: stores a new customer's key with the order's first event.
pub struct DynamoIntake<'a, Q = SqsQueue> {
    pub store: &'a DynamoEventStore,
    pub queue: &'a Q,
    /// The key store whose `sealing_key` made the new keys given to [`Intake::record`].
    pub keys: &'a DynamoKeys,
}

impl<Q: OrderQueue> Intake for DynamoIntake<'_, Q> {
    fn stores_keys(&self) -> bool {
        true
    }

    async fn record(
        &self,
        write: StreamWrite,
        order_id: OrderId,
        new_key: Option<&NewKey>,
    ) -> Result<Recorded, PlaceError> {
        let Some(new) = new_key else {
            let plain = AppendThenEnqueue {
                store: self.store,
                queue: self.queue,
            };
            return plain.record(write, order_id, None).await;
        };
        // The order's id is new with every attempt that makes a key, so this append is the
        // first (a conflict on its stream is an error below, not an earlier attempt's write).
        self.append_with_key(write, new).await?;
        self.queue.enqueue(order_id).await?;
        Ok(Recorded::Appended)
    }
}

impl<Q> DynamoIntake<'_, Q> {
    /// The write's events and the key in one transaction; the key's action is the last.
    async fn append_with_key(&self, write: StreamWrite, new: &NewKey) -> Result<(), PlaceError> {
        let writes = [write];
        check_append(&writes)?;
        let [write] = writes;
        let mut actions = Vec::with_capacity(write.events.len() + 1);
        for event in &write.events {
            actions.push(
                TransactWriteItem::builder()
                    .put(self.store.event_put(event)?)
                    .build(),
            );
        }
        actions.push(
            TransactWriteItem::builder()
                .put(self.keys.key_put(new).await?)
                .build(),
        );
        let key_action = actions.len() - 1;
        let result = self
            .store
            .client()
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let Err(e) = result else {
            tracing::info!(key_id = %new.key.id, "data key created with the order's first event");
            return Ok(());
        };
        let unavailable = || PlaceError::Store(StoreError::Unavailable(describe(&e)));
        let Some(TransactWriteItemsError::TransactionCanceledException(t)) = e.as_service_error()
        else {
            return Err(unavailable());
        };
        let lost = |i: usize| {
            t.cancellation_reasons().get(i).is_some_and(|r| {
                matches!(
                    r.code(),
                    Some("ConditionalCheckFailed" | "TransactionConflict")
                )
            })
        };
        if lost(key_action) {
            // Someone stored the customer's key first (or is storing it now): nothing written.
            return Err(PlaceError::KeyTaken);
        }
        if (0..key_action).any(lost) {
            // The order's id is new with every attempt that makes a key (a keyed retry settles
            // its key first), so its stream cannot exist: say so rather than enqueue it.
            return Err(PlaceError::Store(StoreError::Conflict {
                stream: write.stream_id.to_string(),
                expected_version: write.expected_version,
            }));
        }
        Err(unavailable())
    }
}
