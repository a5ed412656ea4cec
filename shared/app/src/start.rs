//! StartOrderProcessing: one OrdersQueue message → one workflow execution named by the order id.

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
