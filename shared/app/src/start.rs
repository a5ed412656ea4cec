//! Starting executions: StartOrderProcessing (one OrdersQueue message → one order workflow
//! execution named by the order id) and RefundRequestedRule's target (one RefundRequested bus
//! event → one refund workflow execution named by the refund id).

use order_domain::OrderId;
use order_domain::ports::{PortError, StartOutcome, WorkflowStarter};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The OrdersQueue message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderMessage {
    pub order_id: OrderId,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A body that will never parse. It is left in the queue rather than deleted: after its
    /// receives run out it lands in the DLQ, whose alarm tells a person to look.
    #[error("malformed queue message: {0}")]
    Poison(String),
    /// The workflow service failed; leave the message for redelivery.
    #[error(transparent)]
    Workflow(#[from] PortError),
}

/// Starts the order's execution. A redelivered message finds it already started: success.
#[tracing::instrument(skip_all)]
pub async fn start_order_processing<W: WorkflowStarter>(
    workflow: &W,
    body: &str,
) -> Result<StartOutcome, StartError> {
    let msg: OrderMessage =
        serde_json::from_str(body).map_err(|e| StartError::Poison(e.to_string()))?;
    let outcome = workflow
        .start(msg.order_id, json!({ "orderId": msg.order_id }))
        .await?;
    tracing::debug!(order_id = %msg.order_id, ?outcome, "order processing started");
    Ok(outcome)
}

/// The bus detail-type RefundRequestedRule matches.
pub use crate::notify::REFUND_REQUESTED;

/// RefundRequestedRule's target, as the template's InputTransformer gives it: the execution of
/// RefundProcessingStateMachine a RefundRequested bus event starts, named by the refund id (so a
/// redelivered event starts nothing new where names are unique, and the tasks are idempotent
/// where they are not), with `{"orderId","refundId"}` as its input.
///
/// # Errors
/// [`StartError::Poison`] when the detail lacks a valid `orderId` or a `refundId` of that order.
pub fn refund_execution(
    detail: &serde_json::Value,
) -> Result<(String, serde_json::Value), StartError> {
    let text = |key: &str| detail.get(key).and_then(serde_json::Value::as_str);
    let order_id = text("orderId")
        .and_then(|s| OrderId::parse(s).ok())
        .ok_or_else(|| {
            StartError::Poison(format!("RefundRequested without a valid orderId: {detail}"))
        })?;
    let refund_id = text("refundId")
        .filter(|r| r.starts_with(&format!("{order_id}-R")))
        .ok_or_else(|| {
            StartError::Poison(format!(
                "RefundRequested without a refundId of order {order_id}: {detail}"
            ))
        })?;
    Ok((
        refund_id.to_owned(),
        json!({ "orderId": order_id, "refundId": refund_id }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input is what the template's InputTransformer makes of the same detail, and the
    /// execution is named by the refund.
    #[test]
    fn a_refund_requested_detail_names_its_execution_and_input() {
        let order = OrderId::generate();
        let detail = json!({
            "orderId": order, "refundId": format!("{order}-R2"), "amount": 900,
            "eventId": "01J", "customerId": "c-1",
        });
        let (name, input) = refund_execution(&detail).unwrap();
        assert_eq!(name, format!("{order}-R2"));
        assert_eq!(
            input,
            json!({ "orderId": order, "refundId": format!("{order}-R2") })
        );
    }

    #[test]
    fn a_detail_without_its_ids_is_poison() {
        let order = OrderId::generate();
        for detail in [
            json!({ "refundId": format!("{order}-R1") }),
            json!({ "orderId": "not-an-id", "refundId": "x-R1" }),
            json!({ "orderId": order }),
            json!({ "orderId": order, "refundId": format!("{}-R1", OrderId::generate()) }),
        ] {
            assert!(
                matches!(refund_execution(&detail), Err(StartError::Poison(_))),
                "{detail}"
            );
        }
    }
}
