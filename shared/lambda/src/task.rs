//! The Step Functions task functions. A task's failure becomes the Lambda error whose
//! `errorType` the state machine's Retry and Catch match on.

use lambda_runtime::Diagnostic;
use order_app::tasks::{self, TaskError};
use order_domain::ports::{EventStore, PaymentGateway};
use serde_json::Value;

/// Which task a binary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFunction {
    ValidateOrder,
    ProcessPayment,
    UpdateInventory,
    OrderFailed,
}

/// A task's error as Lambda reports it.
pub fn diagnostic(e: &TaskError) -> Diagnostic {
    Diagnostic {
        error_type: e.error_type().to_owned(),
        error_message: e.message().to_owned(),
    }
}

/// Runs `function` on the state machine's payload.
pub async fn run_task<S: EventStore, G: PaymentGateway>(
    function: TaskFunction,
    store: &S,
    gateway: &G,
    payload: Value,
) -> Result<Value, Diagnostic> {
    let result = async {
        let input = TaskError::parse_input(payload)?;
        match function {
            TaskFunction::ValidateOrder => tasks::validate_order(store, input).await,
            TaskFunction::ProcessPayment => tasks::process_payment(store, gateway, input).await,
            TaskFunction::UpdateInventory => tasks::update_inventory(store, input).await,
            TaskFunction::OrderFailed => tasks::order_failed(store, gateway, input).await,
        }
    }
    .await;
    result.map_err(|e| {
        if e.is_transient() {
            tracing::warn!(
                error_type = e.error_type(),
                message = e.message(),
                "task failed; the state machine retries"
            );
        } else {
            tracing::info!(
                error_type = e.error_type(),
                message = e.message(),
                "task ended with an outcome error"
            );
        }
        diagnostic(&e)
    })
}
