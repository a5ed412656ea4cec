//! What the local runtime's generic workers need from a backend beyond the domain's ports:
//! a queue they can poll, and a way to find orders left PLACED. The embedded SQLite adapters
//! implement these, and so do the AWS adapters (SQS, the OrderStatus table) when `orders serve
//! --backend aws` runs the same workers against AWS resources.

use std::future::Future;

use order_domain::OrderId;
use order_domain::ports::{OrderQueue, PortError};

/// A queue the local StartOrderProcessing consumer polls (SQLite queue or SQS).
pub trait PolledQueue: OrderQueue + Clone {
    type Message: Send + Sync + 'static;

    /// Waits briefly (about a second at most) for visible messages; returns at most `max`.
    fn receive(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Self::Message>, PortError>> + Send;
    fn body(message: &Self::Message) -> &str;
    fn message_id(message: &Self::Message) -> String;
    fn receive_count(message: &Self::Message) -> u32;
    fn delete(&self, message: &Self::Message)
    -> impl Future<Output = Result<(), PortError>> + Send;
    /// Deletes handled messages together (SQS's DeleteMessageBatch; one commit locally). The
    /// default deletes them one by one. A message whose delete fails comes back after its
    /// visibility timeout, which the consumer treats as a duplicate.
    fn delete_batch(
        &self,
        messages: &[&Self::Message],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        async move {
            for m in messages {
                self.delete(m).await?;
            }
            Ok(())
        }
    }
    /// Makes a received message visible again after `delay_ms` (a retry with backoff).
    fn retry_after(
        &self,
        message: &Self::Message,
        delay_ms: i64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// `(visible messages, messages in the dead-letter queue)`.
    fn depth(&self) -> impl Future<Output = Result<(u64, u64), PortError>> + Send;
}

/// Finds orders that may have been accepted but never enqueued.
pub trait StuckOrders: Send + Sync + Clone + 'static {
    /// Orders PLACED and unchanged for at least `older_than_ms`.
    fn placed_before(
        &self,
        older_than_ms: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, PortError>> + Send;
}
