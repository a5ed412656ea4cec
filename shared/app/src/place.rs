//! POST /orders: append OrderPlaced and enqueue the order, honouring an `Idempotency-Key`.
//!
//! With a key, the order id is chosen once and kept in the idempotency record, so a retry after
//! any failure (even after the append, before the enqueue) reuses it: the append then conflicts
//! harmlessly on version 1 and the enqueue is done again. Without a key, a failed enqueue leaves
//! the order PLACED for the sweeper to re-drive.
//!
//! A claim holds the key for a lease, so that a request that died with it does not block its
//! retries forever: until the host's deadline for the request when it has one (a Lambda
//! invocation is stopped at its deadline, so its claim can end then, as Powertools' in-progress
//! expiry does), else [`IDEMPOTENCY_LEASE_MS`]. A refused retry is told how long the lease has
//! left ([`PlaceError::KeyInProgress`]). Each attempt names itself in the claim by a fresh
//! candidate order id, and only the attempt holding the key marks it done or gives it up
//! (`order_domain::idempotency::may_finish`): a slow attempt whose lease was taken over never
//! ends its successor's lease. Once the order is recorded the answer is 202 even if marking the
//! key done fails (the retry that takes the lease over replays it from the log).
//!
//! An `Idempotency-Key` belongs to the customer who sent it: the same key from two customers
//! is two requests ([`scoped_key`]). The personal data (email, payment token) is sealed under
//! the customer's data key before anything is written, and the request's fingerprint is an
//! HMAC under that key, so no store holds either in clear or as a digest one could test
//! guesses against.
//!
//! The two writes go through an [`Intake`]: on AWS (`order_aws::DynamoIntake`, which is
//! [`AppendThenEnqueue`] for a customer with a key) they are two requests, DynamoDB then SQS;
//! the embedded host makes both in one commit, so a POST waits for one commit and no crash can
//! fall between them.
//!
//! A new customer's data key is made without being stored ([`KeyStore::sealing_key`]). An
//! intake that can ([`Intake::stores_keys`]: both hosts') stores it in the same commit as the
//! order's first event (one SQLite commit; one DynamoDB `TransactWriteItems`), so the first
//! order waits for one write, not two; if a concurrent
//! first order of the same customer stored another key meanwhile, nothing was written and the
//! order is placed again from the start under that key ([`PlaceError::KeyTaken`]). Otherwise,
//! and for a request with an `Idempotency-Key` (its claim's fingerprint is keyed by the data
//! key, so the key must be settled before the claim, as every retry will find it), the key is
//! stored first ([`KeyStore::save_key`]).

use aws_lc_rs::hmac;
use futures_util::future::join_all;
use order_domain::events::{OrderLine, OrderPlaced};
use order_domain::order::Order;
use order_domain::personal::{Personal, PersonalData, SealedPersonal};
use order_domain::ports::{
    Claim, DataKey, EventStore, IdempotencyStore, KeyStore, NewKey, OrderQueue, PortError,
    SealingKey, StoreError,
};
use order_domain::{
    CustomerId, Email, EventMeta, OrderId, PaymentToken, StreamWrite, Timestamp, TraceParent,
};
use serde::Serialize;

use crate::query::ReadModels;
use crate::stream::seal;
pub use crate::trace::Origin;
use crate::trace::{Step, step_span};
use tracing::Instrument;

/// How long a claimed key blocks a concurrent request with the same key, on a host that gives
/// a request no deadline.
pub const IDEMPOTENCY_LEASE_MS: u64 = 30_000;
/// The shortest lease, for a request that arrives at (or past) its deadline.
pub const MIN_IDEMPOTENCY_LEASE_MS: u64 = 1_000;
/// How long a finished request's key is remembered.
pub const IDEMPOTENCY_TTL_MS: u64 = 24 * 3600 * 1000;

/// A validated POST /orders body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrder {
    pub customer_id: CustomerId,
    pub email: Email,
    pub items: Vec<OrderLine>,
    pub payment_token: PaymentToken,
}

impl PlaceOrder {
    /// A keyed digest of the request's meaning (not its bytes): the same order sent with other
    /// whitespace or key order is the same request. Keyed by the customer's data key, so the
    /// stored fingerprint cannot be used to test guesses of the email or payment token.
    pub fn fingerprint(&self, key: &DataKey) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let key = hmac::Key::new(hmac::HMAC_SHA256, &key.material);
        hex::encode(hmac::sign(&key, &canonical).as_ref())
    }

    /// The request's personal data, to be sealed.
    pub fn personal(&self) -> PersonalData {
        PersonalData {
            email: self.email.clone(),
            payment_token: self.payment_token.clone(),
        }
    }
}

/// The idempotency record's key for a customer's `Idempotency-Key`: unambiguous (the customer
/// id's length comes first), so no two (customer, key) pairs share a record.
pub fn scoped_key(customer: &CustomerId, key: &str) -> String {
    let customer = customer.as_str();
    format!("c{}:{customer}:{key}", customer.len())
}

/// A request's `Idempotency-Key`, and until when its host runs the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    /// When the host stops the request whatever happens (a Lambda invocation's deadline);
    /// `None` on a long-running server.
    pub deadline: Option<Timestamp>,
}

impl<'a> IdempotencyKey<'a> {
    /// A key whose request has no deadline.
    pub fn new(key: &'a str) -> Self {
        Self {
            key,
            deadline: None,
        }
    }

    /// The same key, for a request its host stops at `deadline`.
    #[must_use]
    pub fn until(self, deadline: Option<Timestamp>) -> Self {
        Self { deadline, ..self }
    }

    /// How long a claim made at `now` holds the key: until the deadline, after which the
    /// request is surely over, or [`IDEMPOTENCY_LEASE_MS`] without one.
    pub fn lease_ms(&self, now: Timestamp) -> u64 {
        self.deadline.map_or(IDEMPOTENCY_LEASE_MS, |d| {
            d.as_millis()
                .saturating_sub(now.as_millis())
                .max(MIN_IDEMPOTENCY_LEASE_MS)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub order_id: OrderId,
    /// True when an earlier request with the same key placed it.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("items[{index}].productId: product {product_id} does not exist")]
    UnknownProduct { index: usize, product_id: String },
    #[error("this Idempotency-Key was used with a different request body")]
    KeyReused,
    /// Another request holds the key; its lease ends in `retry_after_ms`.
    #[error("a request with this Idempotency-Key is still being processed")]
    KeyInProgress { retry_after_ms: u64 },
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Port(#[from] PortError),
    /// A concurrent order of the same customer stored another data key first; nothing was
    /// written. [`place_order`] starts over once under that key, so a caller sees this only
    /// if that happens twice in a row.
    #[error("the customer's data key changed while the order was placed")]
    KeyTaken,
}

/// What [`Intake::record`] found: whether this call appended the order's first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// This call appended it: the order is new.
    Appended,
    /// The stream had it already (an earlier attempt with the same key appended it, and this
    /// one took the key over after that attempt's lease ended): only the enqueue was made.
    AlreadyInLog,
}

/// The two writes of a placed order: its first event, then its message on OrdersQueue.
pub trait Intake: Send + Sync {
    /// Whether [`record`](Self::record) can store a new customer's data key in the same
    /// commit as the write. Those that cannot get the key stored through the key store first.
    fn stores_keys(&self) -> bool {
        false
    }

    /// Appends `write` (the order's new stream) and enqueues the order. A stream that already
    /// has the write (a retry with the same key) is not an error: the enqueue is made again.
    /// `new_key` (only ever given when [`stores_keys`](Self::stores_keys)) is the key the
    /// write is sealed under, stored with it unless the customer has a key by then, in which
    /// case nothing is written and the answer is [`PlaceError::KeyTaken`].
    fn record(
        &self,
        write: StreamWrite,
        order_id: OrderId,
        new_key: Option<&NewKey>,
    ) -> impl Future<Output = Result<Recorded, PlaceError>> + Send;
}

/// The two writes one after the other, for a store and a queue that share no transaction
/// (DynamoDB and SQS). A crash between them leaves the order PLACED for the sweeper.
pub struct AppendThenEnqueue<'a, S, Q> {
    pub store: &'a S,
    pub queue: &'a Q,
}

impl<S: EventStore, Q: OrderQueue> Intake for AppendThenEnqueue<'_, S, Q> {
    async fn record(
        &self,
        write: StreamWrite,
        order_id: OrderId,
        _new_key: Option<&NewKey>,
    ) -> Result<Recorded, PlaceError> {
        let recorded = match self.store.append(vec![write]).await {
            Ok(()) => Recorded::Appended,
            // A conflict on version 1 means an earlier attempt with this key appended it.
            Err(StoreError::Conflict { .. }) => Recorded::AlreadyInLog,
            Err(e) => return Err(e.into()),
        };
        self.queue.enqueue(order_id).await?;
        Ok(recorded)
    }
}

/// Places an order, making its two writes through `intake`.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn place_order<P, I, R, K>(
    intake: &P,
    idempotency: &I,
    reads: &R,
    keys: &K,
    request: PlaceOrder,
    idempotency_key: Option<IdempotencyKey<'_>>,
    origin: impl Into<Origin<'_>>,
) -> Result<Placed, PlaceError>
where
    P: Intake,
    I: IdempotencyStore,
    R: ReadModels,
    K: KeyStore,
{
    let origin = origin.into();
    check_products(reads, &request.items).await?;
    let order = Placement {
        intake,
        idempotency,
        keys,
        request: &request,
        idempotency_key,
        request_id: origin.request_id,
        origin,
    };
    let span = step_span(Step::Place, origin.trace_parent);
    async {
        match order.place().await {
            // Another key won the race for a new customer: once more, under the stored key.
            Err(PlaceError::KeyTaken) => order.place().await,
            result => result,
        }
    }
    .instrument(span)
    .await
}

/// Every line's product must exist. The lookups go out together: on AWS each is a GetItem
/// until the container remembers the product, so a cold container's order of five lines waited
/// five round trips one after another. The first unknown product by line is the one named, and
/// a lookup that failed before it is the answer, as when they went in turn.
pub async fn check_products<R: ReadModels>(
    reads: &R,
    items: &[OrderLine],
) -> Result<(), PlaceError> {
    let found = join_all(
        items
            .iter()
            .map(|line| reads.product_exists(&line.product_id)),
    )
    .await;
    for (index, (line, exists)) in items.iter().zip(found).enumerate() {
        if !exists? {
            return Err(PlaceError::UnknownProduct {
                index,
                product_id: line.product_id.to_string(),
            });
        }
    }
    Ok(())
}

/// One attempt at placing a validated order.
struct Placement<'a, P, I, K> {
    intake: &'a P,
    idempotency: &'a I,
    keys: &'a K,
    request: &'a PlaceOrder,
    idempotency_key: Option<IdempotencyKey<'a>>,
    request_id: &'a str,
    /// The caller's trace context, which OrderPlaced's joins.
    origin: Origin<'a>,
}

impl<P: Intake, I: IdempotencyStore, K: KeyStore> Placement<'_, P, I, K> {
    async fn place(&self) -> Result<Placed, PlaceError> {
        let request = self.request;
        let (data_key, new_key) = match self.keys.sealing_key(&request.customer_id).await? {
            SealingKey::Stored(key) => (key, None),
            // A request with an Idempotency-Key settles its key first: the claim's fingerprint
            // is keyed by it, and must be the one its retries will compute.
            SealingKey::New(new) if self.intake.stores_keys() && self.idempotency_key.is_none() => {
                (new.key.clone(), Some(new))
            }
            SealingKey::New(new) => (self.keys.save_key(new).await?, None),
        };
        let now = Timestamp::now();
        let scoped = self
            .idempotency_key
            .map(|k| scoped_key(&request.customer_id, k.key));
        // This attempt's candidate: the order id of a new claim, and the attempt's name in the
        // key's record, by which only the attempt holding the lease finishes it.
        let candidate = OrderId::generate();
        let order_id = match (self.idempotency_key, &scoped) {
            (Some(key), Some(scoped)) => {
                let claim = self
                    .idempotency
                    .claim(
                        scoped,
                        &request.fingerprint(&data_key),
                        candidate,
                        now,
                        key.lease_ms(now),
                    )
                    .await?;
                match claim {
                    Claim::Claimed { order_id } => order_id,
                    Claim::Completed { order_id } => {
                        return Ok(Placed {
                            order_id,
                            replayed: true,
                        });
                    }
                    Claim::Mismatch => return Err(PlaceError::KeyReused),
                    Claim::InProgress { retry_after_ms } => {
                        return Err(PlaceError::KeyInProgress { retry_after_ms });
                    }
                }
            }
            _ => candidate,
        };
        tracing::Span::current().record("order_id", tracing::field::display(order_id));
        let sealed = crate::vault::seal_with(
            &data_key,
            &request.customer_id,
            order_id,
            &request.personal(),
        );
        let result = match sealed {
            Ok(sealed) => {
                let write = first_write(
                    request,
                    sealed,
                    order_id,
                    (self.request_id, self.origin.order_trace()),
                    now,
                );
                let recorded = self.intake.record(write, order_id, new_key.as_ref()).await;
                // The intake stored the new key: a cache keeps it, so the customer's next
                // order (and this order's payment) need not read it back.
                if let (Ok(_), Some(new)) = (&recorded, &new_key) {
                    self.keys.key_stored(new);
                }
                recorded
            }
            Err(e) => Err(e.into()),
        };
        if let Some(key) = scoped.as_deref() {
            // The order is recorded whether or not its key is marked done: a failed mark
            // leaves the key held until its lease ends, after which a retry takes it over,
            // finds the order in the log and replays it. Answering 503 here would send the
            // client to retry into that lease for nothing.
            let finished = match &result {
                Ok(_) => {
                    self.idempotency
                        .complete(key, candidate, Timestamp::now(), IDEMPOTENCY_TTL_MS)
                        .await
                }
                Err(_) => self.idempotency.release(key, candidate).await,
            };
            if let Err(e) = finished {
                tracing::warn!(error = %e, "could not finish the idempotency key");
            }
        }
        // Counted here, once per new order: a replayed key returned above, and an attempt
        // that took over a key whose earlier attempt had appended (its lease ran out, or its
        // enqueue failed) answers as a replay too, so the order is counted, and kept open in
        // the backlog, once.
        result.map(|recorded| {
            let replayed = recorded == Recorded::AlreadyInLog;
            if !replayed {
                crate::metrics::placed();
            }
            Placed { order_id, replayed }
        })
    }
}

/// The order's first event, sealed onto its new stream.
fn first_write(
    request: &PlaceOrder,
    sealed: SealedPersonal,
    order_id: OrderId,
    (request_id, trace): (&str, TraceParent),
    now: Timestamp,
) -> StreamWrite {
    let placed = OrderPlaced {
        order_id,
        customer_id: request.customer_id.clone(),
        items: request.items.clone(),
        personal: Personal::Sealed(sealed),
    };
    let decision = Order::default().place(placed);
    let meta = EventMeta {
        correlation_id: order_id.into(),
        causation_id: request_id.into(),
        occurred_at: now,
        trace_parent: Some(trace),
    };
    seal(
        &order_id.stream(),
        0,
        order_domain::GENESIS_HASH,
        decision.events,
        &meta,
    )
}

#[cfg(test)]
mod tests;
