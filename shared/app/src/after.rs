//! What happens to an order after it was placed, as its customer or an admin asks: cancel it,
//! record its shipment, refund some of it. Each use case decides on the order's stream and
//! appends with the stream's version, so two requests decided on the same version cannot both
//! land: the loser decides again on what the winner wrote. That is what keeps twenty concurrent
//! refunds of one line from giving back more than was paid, without a lock.
//!
//! Money moves only in the refund workflow (`tasks::process_refund`), never here: these use
//! cases record the request, and the workflow is started from the request's event (the bus's
//! RefundRequested on both hosts), so a crash between the append and the start loses nothing.

use std::time::Duration;

use order_domain::order::{
    Order, OrderCommand, OrderError, OrderState, OrderStatus, Refund, RefundRequest,
};
use order_domain::ports::{EventStore, StoreError};
use order_domain::{OrderEvent, OrderId};

use crate::stream::{LoadError, load, meta_for, seal};

/// How often a request is decided again after losing the stream to another writer. Concurrent
/// requests for one order win one at a time, so this bounds how many can queue on one order.
pub const MAX_ATTEMPTS: usize = 64;

/// Why a request was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum AfterError {
    /// No such order, or not the caller's (answered alike, so an id reveals nothing).
    #[error("order not found")]
    NotFound,
    /// The order's state refuses the request (see [`OrderError`]).
    #[error(transparent)]
    Refused(OrderError),
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The order kept changing under the request for [`MAX_ATTEMPTS`] decisions.
    #[error("the order kept changing; try again")]
    Busy,
}

/// The customer cancels order `id` (`may_act` says whether the caller may act for the order's
/// customer). Answers the order's state after the request: CANCELLING while the workflow or the
/// cancellation's refund carries it out, CANCELLED once done.
///
/// # Errors
/// [`AfterError::NotFound`] for someone else's order; `Refused` with `AlreadyShipped`,
/// `RefundInProgress`, `NothingToRefund` or `Closed` (a failed order).
pub async fn cancel<S: EventStore>(
    store: &S,
    id: OrderId,
    may_act: impl Fn(&str) -> bool,
    reason: &str,
) -> Result<OrderState, AfterError> {
    let command = OrderCommand::RequestCancellation {
        reason: reason.to_owned(),
    };
    decide(store, id, &may_act, &command).await
}

/// An admin records the shipment of completed order `id`.
///
/// # Errors
/// `Refused` with `NotCompleted`, `AlreadyShipped` (another carrier or tracking id) or `Closed`.
pub async fn ship<S: EventStore>(
    store: &S,
    id: OrderId,
    carrier: &str,
    tracking_id: &str,
) -> Result<OrderState, AfterError> {
    let command = OrderCommand::Ship {
        carrier: carrier.to_owned(),
        tracking_id: tracking_id.to_owned(),
    };
    decide(store, id, &|_: &str| true, &command).await
}

/// An admin asks to refund lines of completed order `id`. Answers the refund as recorded: the
/// new one, or the one an earlier request with the same Idempotency-Key recorded.
///
/// # Errors
/// `Refused` with `ExceedsLine`, `NotInOrder`, `IdempotencyKeyReused`, `NotCompleted` or
/// `Closed`.
pub async fn request_refund<S: EventStore>(
    store: &S,
    id: OrderId,
    request: RefundRequest,
) -> Result<(OrderState, Refund), AfterError> {
    let key = request.idempotency_key.clone();
    let state = decide(
        store,
        id,
        &|_: &str| true,
        &OrderCommand::RequestRefund(request),
    )
    .await?;
    let refund = match &state {
        OrderState::Completed(c) => c.after.refund_by_key(&key).cloned(),
        _ => None,
    };
    // Only a decision that recorded the refund, or found it recorded, gets here.
    let refund = refund.ok_or(AfterError::Refused(OrderError::NotCompleted {
        status: state.status(),
    }))?;
    Ok((state, refund))
}

/// Loads the order, checks the caller may act for it, decides `command`, appends; on a conflict,
/// waits a moment and decides again on the new head.
async fn decide<S: EventStore>(
    store: &S,
    id: OrderId,
    may_act: &impl Fn(&str) -> bool,
    command: &OrderCommand,
) -> Result<OrderState, AfterError> {
    for attempt in 0..MAX_ATTEMPTS {
        let (order, history) = load(store, id).await?;
        let owner = order
            .state
            .placed()
            .map(|p| p.customer_id.as_str().to_owned());
        if !owner.is_some_and(|o| may_act(&o)) {
            return Err(AfterError::NotFound);
        }
        let events = order.decide(command).map_err(AfterError::Refused)?;
        if events.is_empty() {
            return Ok(order.state);
        }
        match append(store, id, &order, &history, &events).await {
            Ok(state) => return Ok(state),
            Err(StoreError::Conflict { .. }) => {
                tracing::debug!(order_id = %id, attempt, "lost the order's stream, deciding again");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(AfterError::Load(e.into())),
        }
    }
    Err(AfterError::Busy)
}

async fn append<S: EventStore>(
    store: &S,
    id: OrderId,
    order: &Order,
    history: &[order_domain::RecordedEvent],
    events: &[OrderEvent],
) -> Result<OrderState, StoreError> {
    let write = seal(
        &id.stream(),
        order.version,
        &order.head_hash,
        events,
        &meta_for(id, history),
    );
    store.append(vec![write]).await?;
    crate::metrics::appended(
        events,
        crate::metrics::Before::of(history),
        order_domain::Timestamp::now(),
    );
    Ok(events
        .iter()
        .fold(order.state.clone(), order_domain::order::evolve))
}

/// A short wait that grows with the attempts and is spread so the losers of one round do not
/// all come back together (at most 8 ms).
fn backoff(attempt: usize) -> Duration {
    let cap = 1u64 << attempt.min(3);
    Duration::from_micros(fastrand::u64(0..cap * 1000))
}

/// Whether a status is one a cancellation of the order has reached.
pub fn is_cancellation(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Cancelling | OrderStatus::Cancelled)
}
