//! OrderFailed: compensate (refund a captured payment), then append OrderFailed with the reason
//! the order's history gives. Answers how the order ended, which the state machine routes on;
//! the failure notice follows the OrderFailed event (`crate::notify::notify_failure`).

use order_domain::FailureReason;
use order_domain::events::PaymentRefunded;
use order_domain::order::{FailOutcome, OrderCommand};
use order_domain::ports::{EventStore, PaymentGateway};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::stream::{execute, load};

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
    let (order, _) = load(store, id).await?;
    let refund = match order.state.refund_due() {
        Some(p) => {
            let refund_id = gateway
                .refund(&id.to_string(), &p.payment_id, p.amount)
                .await
                .map_err(|e| TaskError::GatewayUnavailable(e.to_string()))?;
            Some(PaymentRefunded {
                payment_id: p.payment_id.clone(),
                refund_id,
                amount: p.amount,
            })
        }
        None => None,
    };
    let refunded = refund.is_some();
    let fail = OrderCommand::Fail {
        error: error_text,
        refund,
    };
    let state = execute(store, id, &fail).await?;
    Ok(
        match state.ending().ok_or_else(|| not_ready("failure", &state))? {
            FailOutcome::AlreadyCompleted => json!({ "orderId": id, "kind": "completed" }),
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
