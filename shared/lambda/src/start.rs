//! StartOrderProcessing: an SQS batch of OrdersQueue messages → one execution per order.

use aws_lambda_events::event::sqs::SqsEvent;
use order_app::start::{StartError, start_order_processing};
use order_domain::ports::WorkflowStarter;
use tracing::Instrument;

use crate::batch::BatchResponse;

/// Starts an execution per message; reports only the messages that failed. A malformed body is
/// reported too, so after the queue's maxReceiveCount it lands in the DLQ (and its alarm) for a
/// person to look at, instead of vanishing.
pub async fn handle_batch<W: WorkflowStarter>(workflow: &W, event: SqsEvent) -> BatchResponse {
    let mut response = BatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        // Instrumented rather than entered: a span guard held across an `.await` would tag
        // whatever else the runtime polls meanwhile with this message's id.
        let span = tracing::info_span!("message", message_id = %id);
        let started = async {
            match start_order_processing(workflow, body).await {
                Ok(outcome) => {
                    tracing::info!(?outcome, "execution started");
                    true
                }
                Err(StartError::Poison(e)) => {
                    tracing::error!(error = %e, "malformed message: left for the DLQ");
                    false
                }
                Err(StartError::Workflow(e)) => {
                    tracing::warn!(error = %e, "start failed: the message will be retried");
                    false
                }
            }
        }
        .instrument(span)
        .await;
        if !started {
            response.fail(id);
        }
    }
    response
}
