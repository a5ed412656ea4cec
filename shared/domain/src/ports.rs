//! The ports: traits through which the application reaches storage, queues, workflows, buses,
//! notifications and the payment gateway. Each host (embedded SQLite, AWS) implements them.
//!
//! Futures are `Send` so the same use case runs on a multi-threaded runtime in both hosts.
//! Error contracts are stated on each method: callers depend on them.

use std::future::Future;

use serde_json::Value;

use crate::envelope::{RecordedEvent, StreamWrite};
use crate::order::{ChargeResult, OrderStatus};
use crate::time::Timestamp;
use crate::values::{Email, Money, OrderId, PaymentToken, StreamId};

pub use crate::append::MAX_APPEND_ITEMS;
pub use crate::idempotency::Claim;
pub use dead_letters::{DeadLetter, DeadLetters, Redrive};
pub use keys::{DataKey, KeyStore, NewKey, SealingKey};

mod dead_letters;
mod keys;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another writer moved the stream past `expected_version` first. Reload and decide again.
    #[error("conflict on {stream}: it is no longer at version {expected_version}")]
    Conflict {
        stream: String,
        expected_version: u64,
    },
    /// An append of more than [`MAX_APPEND_ITEMS`] items, counted by
    /// [`append_items`](crate::append::append_items) (one per event, one per event-less guard
    /// write): wider than DynamoDB's atomic write. Never split: a split is not atomic.
    #[error("an append of {items} items exceeds the atomic limit of {MAX_APPEND_ITEMS}")]
    TooLarge { items: usize },
    /// The store could not be reached or timed out; the same call may succeed later.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read, or an append would corrupt the log (events that do not
    /// continue their stream's versions, see [`check_append`](crate::append::check_append)):
    /// a bug or tampering; retrying will not help.
    #[error("event store data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Conflict { .. } | Self::Unavailable(_))
    }
}

/// The outcome of [`EventStore::decide_and_append`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError<E> {
    /// The decision itself refused (returned `Err`); nothing was appended.
    #[error("decision refused")]
    Refused(E),
    #[error(transparent)]
    Store(StoreError),
}

/// The append-only event log.
pub trait EventStore: Send + Sync + 'static {
    /// Events of `stream` with version > `after_version`, in version order, strongly consistent.
    /// An absent stream is an empty list.
    fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// The last event of each of `streams` (in the same order), strongly consistent.
    fn read_heads(
        &self,
        streams: &[StreamId],
    ) -> impl Future<Output = Result<Vec<Option<RecordedEvent>>, StoreError>> + Send;

    /// Appends all `writes` atomically, after [`check_append`](crate::append::check_append).
    /// A write without events is a guard: it appends nothing but makes the append conflict if
    /// its stream moved. An append without any event writes and checks nothing.
    ///
    /// # Errors
    /// MUST return `Conflict` if another writer moved any stream past its `expected_version`
    /// (nothing is written then), `TooLarge` above [`MAX_APPEND_ITEMS`] items and `Corrupt` for
    /// events that do not continue their stream's versions (both before anything is sent).
    /// An `expected_version` ahead of the stream is a caller bug that only the embedded store
    /// detects (as `Conflict`); every caller reads the head first, and streams never shrink.
    fn append(
        &self,
        writes: Vec<StreamWrite>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads the last event of each of `streams` (strongly consistent), lets `decide` turn those
    /// heads into writes, and appends them atomically; on a conflict on one of `streams` it
    /// decides again on fresh heads, a bounded number of times. An embedded store may run the
    /// whole thing inside one write transaction, so it never conflicts on them. A write to a
    /// stream it did not read (one the caller loaded itself) carries the caller's version: a
    /// conflict there is answered at once, since deciding again on the same input cannot help.
    ///
    /// # Errors
    /// `Refused(e)` when `decide` returns `Err(e)`; `Store(Conflict)` when retries ran out, or
    /// at once for a stream not in `streams`.
    fn decide_and_append<T, E, F>(
        &self,
        streams: Vec<StreamId>,
        decide: F,
    ) -> impl Future<Output = Result<T, DecideError<E>>> + Send
    where
        F: FnMut(&[Option<RecordedEvent>]) -> Result<(Vec<StreamWrite>, T), E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

/// OrdersQueue: hands placed orders to StartOrderProcessing.
pub trait OrderQueue: Send + Sync + 'static {
    /// Enqueues the order. Duplicates are allowed (the consumer is idempotent).
    fn enqueue(&self, order_id: OrderId) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Whether a start request started a new execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    /// An execution with the order's name exists: treated as success (at-least-once delivery).
    AlreadyStarted,
}

/// OrderProcessingStateMachine: one execution per order, named by the order id.
pub trait WorkflowStarter: Send + Sync + 'static {
    fn start(
        &self,
        order_id: OrderId,
        input: Value,
    ) -> impl Future<Output = Result<StartOutcome, PortError>> + Send;
}

/// The SNS topics of the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Order confirmations (OrderAlertsTopic).
    OrderAlerts,
    /// Failed orders (OrderErrorNotificationTopic).
    OrderErrors,
    /// Alarms (CriticalAlertsTopic).
    CriticalAlerts,
}

impl Topic {
    /// The topic's logical name in the template.
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderAlerts => "OrderAlertsTopic",
            Self::OrderErrors => "OrderErrorNotificationTopic",
            Self::CriticalAlerts => "CriticalAlertsTopic",
        }
    }

    pub fn all() -> [Self; 3] {
        [Self::OrderAlerts, Self::OrderErrors, Self::CriticalAlerts]
    }
}

/// A message to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Deterministic id (the causing event's id): a redelivered publish is dropped downstream.
    pub dedup_id: String,
    pub subject: String,
    pub body: String,
    /// Who the message is about and for, beyond the topic's own subscribers (the customer).
    pub recipients: Vec<Email>,
    /// The order's W3C trace context (a span of the step that sends it), carried as the
    /// message's `traceparent` header or attribute; `None` outside an order's trace.
    pub trace_parent: Option<crate::TraceParent>,
    /// The customer's key the recipients' addresses were opened with, where they came from an
    /// order's sealed data: a copy of the message kept for later (an email SNS could not
    /// deliver, dead-lettered) is not sent again once that key is destroyed. `None` for
    /// messages to the topic's subscribers only.
    pub opened_with: Option<CustomerKeyRef>,
}

/// A customer's data key, by id: what a message built from their sealed data depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerKeyRef {
    pub customer: crate::CustomerId,
    pub key_id: String,
}

/// What a notifier did with a message: the caller counts sent and deduplicated emails apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The message went out (its `(topic, dedup id)` had not been sent before, or a lapsed
    /// claim on it was taken over).
    Sent,
    /// A redelivery of a message already sent: dropped.
    Duplicate,
}

pub trait Notifier: Send + Sync + 'static {
    /// Sends `message` on `topic` once per `(topic, dedup id)`, and says whether this call
    /// sent it or dropped it as a redelivery.
    fn publish(
        &self,
        topic: Topic,
        message: Notification,
    ) -> impl Future<Output = Result<Published, PortError>> + Send;
}

/// An event on the bus (EventBridge semantics: rules match on `detail_type`).
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    /// The log's event id: deterministic, so a retried put is recognisably the same event.
    pub id: String,
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
}

pub trait EventBus: Send + Sync + 'static {
    fn put(&self, events: Vec<BusEvent>) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A gateway failure that may pass: retried by the workflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payment gateway unavailable: {0}")]
pub struct GatewayUnavailable(pub String);

/// The card payment gateway. Both calls are idempotent on `idempotency_key`: a repeated call
/// returns the first call's result and moves no money twice.
pub trait PaymentGateway: Send + Sync + 'static {
    /// `attempt` is the workflow's retry count for this step (0 first), which the simulated
    /// gateway uses to make `tok_error` fail transiently and then succeed.
    fn charge(
        &self,
        idempotency_key: &str,
        token: &PaymentToken,
        amount: Money,
        attempt: u32,
    ) -> impl Future<Output = Result<ChargeResult, GatewayUnavailable>> + Send;

    /// Gives `amount` of a captured payment back; returns the gateway's refund id. The same
    /// `idempotency_key` is the same refund, however often it is asked for. `attempt` is the
    /// workflow's retry count, as for [`PaymentGateway::charge`].
    fn refund(
        &self,
        idempotency_key: &str,
        payment_id: &str,
        amount: Money,
        attempt: u32,
    ) -> impl Future<Output = Result<String, GatewayUnavailable>> + Send;
}

/// Idempotency records for POST /orders. An in-progress record has a lease that expires, so a
/// crashed request never blocks its retries forever.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for a request whose body has `fingerprint`, as
    /// [`judge`](crate::idempotency::judge) rules on the key's record at `now`; a claim holds
    /// the key for `lease_ms`.
    ///
    /// # Errors
    /// Only store failures (a malformed record among them); every business outcome is a
    /// [`Claim`].
    fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        candidate: OrderId,
        now: Timestamp,
        lease_ms: u64,
    ) -> impl Future<Output = Result<Claim, PortError>> + Send;

    /// Marks the key's request done (kept for `ttl_ms` from `now`), if the attempt `claimant`
    /// (the candidate its claim brought) still holds the key
    /// ([`may_finish`](crate::idempotency::may_finish)); else does nothing: an attempt that
    /// took the lease over finishes the key itself.
    fn complete(
        &self,
        key: &str,
        claimant: OrderId,
        now: Timestamp,
        ttl_ms: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Gives the key's lease up early (the request failed), keeping its order id for the retry,
    /// if the attempt `claimant` still holds it; else does nothing, so a stale attempt never
    /// ends the lease of the attempt that took it over.
    fn release(
        &self,
        key: &str,
        claimant: OrderId,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

// What the local runtime's generic workers need from a backend beyond the use cases' ports: a
// queue they can poll, and a way to find orders left open (which the sweeper Lambda needs too).
// The SQLite adapters implement these, and so do the AWS adapters (SQS, the OrderStatus table)
// when `orders serve --backend aws` runs the same workers against AWS resources.

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

/// An open order whose view has not moved for a while, as the read model last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOrder {
    pub order_id: OrderId,
    /// PLACED, VALIDATED or PAID: never a terminal status.
    pub status: OrderStatus,
    /// When the view last changed (its last event occurred).
    pub since: Timestamp,
}

/// Finds the orders the sweeper must look at: open ones whose view has not moved for a while.
/// It reads a read model (eventually consistent), so every answer is re-checked against the
/// order's stream, or acted on idempotently, by the caller (`order_app::sweep`).
pub trait StuckOrders: Send + Sync + Clone + 'static {
    /// Open orders whose view is in one of `statuses` (PLACED, VALIDATED or PAID; a terminal
    /// status finds nothing) and has not changed since before `before`, oldest first, at most
    /// `limit`.
    fn open_unchanged_since(
        &self,
        statuses: &[OrderStatus],
        before: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OpenOrder>, PortError>> + Send;

    /// Of `orders`, found past the sweeper's close limit, those it may close: all of them,
    /// unless the host knows an order is still to be started by its own consumer (the local
    /// runner, restarted after a stop longer than the limit, with the order's message waiting
    /// on OrdersQueue), which it leaves out for the redrive question instead.
    fn closable(
        &self,
        orders: Vec<OpenOrder>,
    ) -> impl Future<Output = Result<Vec<OpenOrder>, PortError>> + Send {
        async { Ok(orders) }
    }
}
