//! The tasks of RefundProcessingStateMachine, started by a RefundRequested event (the bus on
//! both hosts):
//! - ProcessRefund asks the gateway for the refund (keyed by the refund id, so a retried task is
//!   the same refund) and appends RefundIssued, with the products' StockAdded when the refund
//!   restocks (a return), in one atomic append; a cancellation's refund appends its
//!   OrderCancelled with it.
//! - RefundFailed, after ProcessRefund's retries ran out, asks the gateway once more under the
//!   same key: the step may have failed after the gateway made the refund (the log unavailable,
//!   or the order moving, through every retry), and then the gateway answers the refund it made,
//!   which is recorded as issued. Only if the gateway still does not answer does it append
//!   RefundFailed, which frees the refund's lines to be refunded again. (A gateway that made the
//!   refund, lost its answer and then stays down is the one case left: this port has no way to
//!   ask a gateway what it did without asking it to do it.)
//!
//! Both answer from the order's state, so a redelivered task or a second execution of the same
//! refund appends nothing new and gets the same answer.

use order_domain::order::{
    Order, OrderCommand, OrderError, OrderState, Refund, RefundResult, RefundSettlement, evolve,
    return_stock,
};
use order_domain::ports::{EventStore, PaymentGateway};
use order_domain::{EventMeta, OrderId, RecordedEvent, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::with_products::{Refusal, products_at, refused, writes};
use super::{CaughtError, TaskError};
use crate::metrics::Before;
use crate::stream::{Decided, MAX_CONFLICT_RETRIES, execute, load, meta_for};

/// What the refund workflow's tasks receive.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundTaskInput {
    pub order_id: OrderId,
    pub refund_id: String,
    /// `$$.State.RetryCount`: 0 on the first attempt.
    #[serde(default)]
    pub attempt: u32,
    /// The error a Catch caught (only for `refund_failed`).
    #[serde(default)]
    pub error: Option<CaughtError>,
}

impl RefundTaskInput {
    /// Parses a task's JSON input.
    ///
    /// # Errors
    /// `InvalidInput` when it does not parse.
    pub fn parse(input: Value) -> Result<Self, TaskError> {
        serde_json::from_value(input).map_err(|e| TaskError::InvalidInput(e.to_string()))
    }
}

fn refund_of<'a>(state: &'a OrderState, refund_id: &str) -> Result<&'a Refund, TaskError> {
    match state {
        OrderState::Completed(c) => c.after.refund(refund_id),
        _ => None,
    }
    .ok_or_else(|| OrderError::UnknownRefund(refund_id.to_owned()).into())
}

fn answer(refund: &Refund) -> Result<Value, TaskError> {
    let id = &refund.request.refund_id;
    match &refund.settlement {
        RefundSettlement::Issued(i) => Ok(json!({
            "status": "ISSUED",
            "refundId": id,
            "amount": i.amount,
            "gatewayRefundId": i.gateway_refund_id,
        })),
        RefundSettlement::Failed(f) => Ok(json!({
            "status": "FAILED",
            "refundId": id,
            "message": f.message,
        })),
        RefundSettlement::Pending => Err(OrderError::NotReady {
            step: "refund",
            status: None,
        }
        .into()),
    }
}

#[tracing::instrument(skip_all, fields(order_id = %input.order_id, refund_id = %input.refund_id, attempt = input.attempt))]
pub async fn process_refund<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    input: RefundTaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    for _ in 0..=MAX_CONFLICT_RETRIES {
        let (order, history) = load(store, id).await?;
        let refund = refund_of(&order.state, &input.refund_id)?;
        match &refund.settlement {
            RefundSettlement::Issued(_) => return answer(refund),
            RefundSettlement::Failed(_) => {
                return Err(OrderError::RefundSettled(input.refund_id.clone()).into());
            }
            RefundSettlement::Pending => {}
        }
        let payment_id = order
            .state
            .paid()
            .map(|p| p.payment.payment_id.clone())
            .unwrap_or_default();
        let gateway_refund_id = gateway
            .refund(
                &input.refund_id,
                &payment_id,
                refund.request.amount,
                input.attempt,
            )
            .await
            .map_err(|e| TaskError::GatewayUnavailable(e.to_string()))?;
        let mut streams = Vec::new();
        if refund.request.restock {
            streams.extend(refund.request.lines.iter().map(|l| l.product_id.stream()));
        }
        let settle = OrderCommand::SettleRefund {
            refund_id: input.refund_id.clone(),
            result: RefundResult::Issued { gateway_refund_id },
        };
        let before = Before::of(&history);
        let meta = meta_for(id, &history);
        let result = store
            .decide_and_append(streams, move |heads| {
                decide(id, &order, &meta, &settle, heads)
            })
            .await;
        match result {
            Ok((state, events)) => {
                crate::metrics::appended(&events, before, Timestamp::now());
                return answer(refund_of(&state, &input.refund_id)?);
            }
            Err(e) => {
                if let Some(e) = refused(e) {
                    return Err(e);
                }
            }
        }
    }
    Err(TaskError::ConcurrentModification(
        "the order kept changing while its refund was recorded".to_owned(),
    ))
}

/// Decides the settlement on the heads read in the transaction: the order's events and the
/// products' returned stock in one write, and the order's state after it.
fn decide(
    id: OrderId,
    order: &Order,
    meta: &EventMeta,
    settle: &OrderCommand,
    heads: &[Option<RecordedEvent>],
) -> Result<Decided, Refusal> {
    let products = products_at(heads)?;
    let events = order.decide(settle).map_err(Refusal::Order)?;
    let returned = return_stock(&order.state, &events, &products).map_err(Refusal::Order)?;
    let writes = writes(id, (order, meta), &events, returned);
    let state = events.iter().fold(order.state.clone(), evolve);
    Ok((writes, (state, events)))
}

#[tracing::instrument(skip_all, fields(order_id = %input.order_id, refund_id = %input.refund_id))]
pub async fn refund_failed<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    input: RefundTaskInput,
) -> Result<Value, TaskError> {
    // Recording it failed frees its lines, so a refund the gateway made would be made again
    // under a new key: the gateway is asked first (idempotent on the refund id).
    let again = RefundTaskInput {
        error: None,
        ..input.clone()
    };
    match process_refund(store, gateway, again).await {
        Ok(issued) => {
            tracing::warn!("the refund was made after all: recorded as issued");
            return Ok(issued);
        }
        // The gateway still does not answer, or the refund is settled failed already (or
        // unknown: the settle below says so).
        Err(TaskError::GatewayUnavailable(_) | TaskError::OrderNotReady(_)) => {}
        // The log: RefundFailed's own retries, then the execution fails and pages a person,
        // with the refund still pending (its lines held).
        Err(e) => return Err(e),
    }
    let caught = input.error.unwrap_or_default();
    let message = if caught.cause.is_empty() {
        caught.error
    } else {
        format!("{}: {}", caught.error, caught.cause)
    };
    let settle = OrderCommand::SettleRefund {
        refund_id: input.refund_id.clone(),
        result: RefundResult::Failed { message },
    };
    let state = execute(store, input.order_id, &settle).await?;
    let refund = refund_of(&state, &input.refund_id)?;
    if refund.is_issued() {
        tracing::warn!("the refund was issued after all: nothing to fail");
    } else {
        tracing::error!("a refund could not be made; its lines may be refunded again");
    }
    answer(refund)
}
