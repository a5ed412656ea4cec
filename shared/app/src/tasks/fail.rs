//! OrderFailed: compensate (refund a captured payment), then append OrderFailed with the reason
//! the order's history gives. Answers how the order ended, which the state machine routes on;
//! the failure notice follows the OrderFailed event (`crate::notify::notify_failure`).
//!
//! A paid order's failure is recorded first (`OrderFailing`, which no reservation gets past),
//! then its charge is given back, then OrderFailed is appended: a duplicate execution of the
//! order that reaches UpdateInventory at the same moment either completes the order before
//! the failure is recorded (and nothing is refunded) or is refused after it. Refunding first
//! would give the money back for an order that a rival then completed.
//!
//! The compensation ([`compensate`]) and the decisions (`OrderCommand::BeginFailure`, then
//! `OrderCommand::Fail`) are also the sweeper's ([`fail_at_version`]), so an order closed by
//! the sweeper is given back exactly what the workflow's own OrderFailed step gives back.

use order_domain::events::PaymentRefunded;
use order_domain::order::{FailOutcome, Order, OrderCommand, OrderState};
use order_domain::ports::{EventStore, PaymentGateway, StoreError};
use order_domain::{FailureReason, OrderEvent, OrderId, RecordedEvent, Timestamp};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::metrics::Before;
use crate::stream::{execute, execute_loaded, load, meta_for, seal};
use crate::trace::{Step, in_step};

#[tracing::instrument(skip_all, fields(order_id = %input.order_id))]
pub async fn order_failed<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    let caught = input.error.unwrap_or_default();
    let error_text = if caught.cause.is_empty() {
        caught.error.clone()
    } else {
        format!("{}: {}", caught.error, caught.cause)
    };
    let (order, history) = load(store, id).await?;
    let (state, refunded) = in_step(Step::Fail, &history, async {
        // A paid order's failure goes into the log before its charge is given back, so no other
        // execution can complete it in between; if one completed it first, nothing is refunded.
        let begin = OrderCommand::BeginFailure {
            error: error_text.clone(),
        };
        let state = execute_loaded(store, id, &begin, (order, history.clone())).await?;
        let refund = compensate(gateway, id, &state, input.attempt).await?;
        let refunded = refund.is_some();
        let fail = OrderCommand::Fail {
            error: error_text,
            refund,
        };
        Ok::<_, TaskError>((execute(store, id, &fail).await?, refunded))
    })
    .await?;
    Ok(
        match state.ending().ok_or_else(|| not_ready("failure", &state))? {
            FailOutcome::AlreadyCompleted => json!({ "orderId": id, "kind": "completed" }),
            FailOutcome::Cancelled => json!({
                "orderId": id,
                "kind": "cancelled",
                "refunded": refunded,
            }),
            FailOutcome::Failed(reason) => {
                let kind = if reason == FailureReason::ProcessingError {
                    "error"
                } else {
                    "business"
                };
                json!({
                    "orderId": id,
                    "reason": reason.as_str(),
                    "kind": kind,
                    "refunded": refunded,
                })
            }
        },
    )
}

/// Gives back what an order about to fail holds: a captured payment is refunded in full. The
/// gateway's idempotency key is the order id, so a repeated call (a retried task, two
/// sweepers, the workflow and the sweeper) gets the first refund back and moves no money
/// twice. Stock needs no release: an order takes it in the same append that completes it, so
/// an open order holds none.
pub async fn compensate<G: PaymentGateway>(
    gateway: &G,
    id: OrderId,
    state: &OrderState,
    attempt: u32,
) -> Result<Option<PaymentRefunded>, TaskError> {
    let Some(p) = state.refund_due() else {
        return Ok(None);
    };
    let refund_id = gateway
        .refund(&id.to_string(), &p.payment_id, p.amount, attempt)
        .await
        .map_err(|e| TaskError::GatewayUnavailable(e.to_string()))?;
    Ok(Some(PaymentRefunded {
        payment_id: p.payment_id.clone(),
        refund_id,
        amount: p.amount,
    }))
}

/// Ends order `id`, read at its version as `order` from `history`, as FAILED the way the
/// OrderFailed step does (`OrderCommand::BeginFailure` for a paid order, [`compensate`], then
/// `OrderCommand::Fail` with `error` as the caught error), but appended only if the stream is
/// still at that version: no decision is retaken on a newer head. `Ok(None)` when another
/// writer (a workflow execution, another sweeper) moved the stream first: it won, nothing of
/// ours is appended and, if the order was paid, nothing is refunded. `Ok(Some(state))` is the
/// order's state after our appends, or as it was if it had already ended.
pub async fn fail_at_version<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    id: OrderId,
    (order, history): (&Order, &[RecordedEvent]),
    error: &str,
) -> Result<Option<OrderState>, TaskError> {
    let begin = OrderCommand::BeginFailure {
        error: error.to_owned(),
    };
    let mut order = order.clone();
    let mut written = Vec::new();
    let guard = order.decide(&begin)?;
    if !append_at(store, id, &mut order, history, &mut written, &guard).await? {
        return Ok(None);
    }
    // From here only a failer can move the stream (the guard refuses a reservation), and the
    // refund key is the order's, so a rival that finishes first has refunded the same charge.
    let refund = compensate(gateway, id, &order.state, 0).await?;
    let fail = OrderCommand::Fail {
        error: error.to_owned(),
        refund,
    };
    let events = order.decide(&fail)?;
    if !append_at(store, id, &mut order, history, &mut written, &events).await? {
        return Ok(None);
    }
    Ok(Some(order.state))
}

/// Appends `events` to `order`'s stream at its version (nothing to do when there are none)
/// and moves `order` on past them; `written` holds what earlier calls appended, so the
/// metadata chains to it. `Ok(false)` when the stream had moved.
async fn append_at<S: EventStore>(
    store: &S,
    id: OrderId,
    order: &mut Order,
    history: &[RecordedEvent],
    written: &mut Vec<RecordedEvent>,
    events: &[OrderEvent],
) -> Result<bool, TaskError> {
    if events.is_empty() {
        return Ok(true);
    }
    let before: Vec<RecordedEvent> = history.iter().chain(written.iter()).cloned().collect();
    let write = seal(
        &id.stream(),
        order.version,
        &order.head_hash,
        events,
        &meta_for(id, &before),
    );
    let sealed = write.events.clone();
    match store.append(vec![write]).await {
        Ok(()) => {
            crate::metrics::appended(events, Before::of(&before), Timestamp::now());
            for (record, event) in sealed.iter().zip(events) {
                order.apply(record.version, &record.hash, event);
            }
            written.extend(sealed);
            Ok(true)
        }
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
