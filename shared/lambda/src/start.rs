//! StartOrderProcessing: an SQS batch of OrdersQueue messages → one execution per order.

use aws_lambda_events::event::sqs::SqsEvent;
use order_app::start::{StartError, start_order_processing};
use order_domain::ports::WorkflowStarter;
use tracing::Instrument;

use crate::batch::BatchResponse;

/// Starts an execution per message, all of the batch's at once; reports only the messages that
/// failed. A malformed body is reported too, so after the queue's maxReceiveCount it lands in the
/// DLQ (and its alarm) for a person to look at, instead of vanishing.
///
/// The starts are independent (each execution is named by its own order), so they go out
/// together, as the local host's queue pollers start a batch's executions: one after another, a
/// batch of ten held its last order back by nine StartExecution round trips, and the invocation
/// was billed for all ten. The reported failures keep the batch's order.
pub async fn handle_batch<W: WorkflowStarter>(workflow: &W, event: SqsEvent) -> BatchResponse {
    let starts = event.records.into_iter().map(|record| async move {
        let id = record.message_id.unwrap_or_default();
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
        (id, started)
    });
    let mut response = BatchResponse::default();
    for (id, started) in futures_util::future::join_all(starts).await {
        if !started {
            response.fail(id);
        }
    }
    response
}
