//! Dead letters: messages a queue gave up on after its maximum receives (or a delivery AWS gave
//! up on: a rule's event, a stream batch, an email), which an operator looks at and redrives
//! (hands back to where they failed) once the cause is fixed.

use std::future::Future;

use super::PortError;

/// A message in a dead-letter queue, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The id a redrive names (the SQLite row id; SQS's MessageId, which dead-lettering keeps).
    pub id: String,
    pub body: String,
    /// The dead-letter queue holding it (its logical name in the template).
    pub queue: String,
    /// Where a redrive sends it back to: its source queue (OrdersQueue), or for the AWS
    /// stack's other DLQs the bus, stream range or topic it goes back through (a description).
    pub source_queue: String,
    /// When it was first sent, ms since the epoch, where the store keeps it.
    pub sent_at_ms: Option<i64>,
    /// How often it was received: before it was dead-lettered, and on SQS also every time it
    /// was looked at in the dead-letter queue (a look is a receive there).
    pub receive_count: Option<u32>,
}

/// What a redrive of one id did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Redrive {
    /// Moved back to its source queue, visible at once with a fresh receive count.
    Redriven,
    /// No dead letter has that id (never had, or already redriven): nothing was sent.
    NotDeadLettered,
    /// An email whose customer was forgotten after it was dead-lettered (its key destroyed):
    /// deleted from the queue, not sent. Only emails SNS could not deliver carry this.
    Erased,
}

/// A queue's dead letters. Redriving is idempotent: an id that is no longer dead-lettered is a
/// no-op, never a second message.
pub trait DeadLetters: Send + Sync + 'static {
    /// Every dead letter, oldest first where the store knows the order.
    fn list(&self) -> impl Future<Output = Result<Vec<DeadLetter>, PortError>> + Send;

    /// One dead letter by id; `None` when there is none with that id.
    fn show(&self, id: &str) -> impl Future<Output = Result<Option<DeadLetter>, PortError>> + Send;

    /// Moves the dead letter `id` back to its source queue.
    fn redrive(&self, id: &str) -> impl Future<Output = Result<Redrive, PortError>> + Send;
}
