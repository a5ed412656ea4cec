//! OrderFailed: compensate (refund a captured payment), then append OrderFailed with the reason
//! the order's history gives. Answers how the order ended, which the state machine routes on;
//! the failure notice follows the OrderFailed event (`crate::notify::notify_failure`).
//!
//! The compensation ([`compensate`]) and the decision (`OrderCommand::Fail`) are also the
//! sweeper's ([`fail_at_version`]), so an order closed by the sweeper is given back exactly
//! what the workflow's own OrderFailed step gives back.

use order_domain::events::PaymentRefunded;
use order_domain::order::{FailOutcome, Order, OrderCommand, OrderState, evolve};
use order_domain::ports::{EventStore, PaymentGateway, StoreError};
use order_domain::{FailureReason, OrderId, RecordedEvent, Timestamp};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::metrics::Before;
use crate::stream::{execute, load, meta_for, seal};
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
        let refund = compensate(gateway, id, &order.state, input.attempt).await?;
        let refunded = refund.is_some();
        let fail = OrderCommand::Fail {
            error: error_text,
            refund,
        };
        Ok::<_, TaskError>((execute(store, id, &fail).await?, refunded))
    })
    .await?;
    if refunded && matches!(state, OrderState::Completed(_)) {
        // Another execution of the order (Express runs one at least once) completed it
        // between this step's load and its append: the refund was made for an order that
        // completed. The sweeper's close has the same window and says the same.
        tracing::error!(
            order_id = %id,
            "refunded an order that another execution then completed: it needs a person"
        );
    }
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

/// Ends order `id`, read at its version as `order` from `history`, as FAILED the way the OrderFailed step
/// does ([`compensate`], then `OrderCommand::Fail` with `error` as the caught error), but
/// appended only if the stream is still at that version: no decision is retaken on a newer
/// head. `Ok(None)` when another writer (a workflow execution, another sweeper) moved the
/// stream first: it won, nothing of ours is appended. `Ok(Some(state))` is the order's state
/// after our append, or as it was if it had already ended.
pub async fn fail_at_version<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    id: OrderId,
    (order, history): (&Order, &[RecordedEvent]),
    error: &str,
) -> Result<Option<OrderState>, TaskError> {
    let refund = compensate(gateway, id, &order.state, 0).await?;
    let fail = OrderCommand::Fail {
        error: error.to_owned(),
        refund,
    };
    let events = order.decide(&fail)?;
    if events.is_empty() {
        return Ok(Some(order.state.clone()));
    }
    let write = seal(
        &id.stream(),
        order.version,
        &order.head_hash,
        &events,
        &meta_for(id, history),
    );
    match store.append(vec![write]).await {
        Ok(()) => {
            crate::metrics::appended(&events, Before::of(history), Timestamp::now());
            Ok(Some(events.iter().fold(order.state.clone(), evolve)))
        }
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
