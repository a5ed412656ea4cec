//! The Step Functions task functions. A task's failure becomes the Lambda error whose
//! `errorType` the state machine's Retry and Catch match on.

use lambda_runtime::Diagnostic;
pub use order_app::dispatch::TaskFunction;
use order_app::tasks::TaskError;
use order_domain::ports::{EventStore, KeyStore, PaymentGateway};
use serde_json::Value;

/// A task's error as Lambda reports it.
pub fn diagnostic(e: &TaskError) -> Diagnostic {
    Diagnostic {
        error_type: e.error_type().to_owned(),
        error_message: e.message().to_owned(),
    }
}

/// Runs `function` on the state machine's payload.
pub async fn run_task<S: EventStore, G: PaymentGateway, K: KeyStore>(
    function: TaskFunction,
    store: &S,
    gateway: &G,
    keys: &K,
    payload: Value,
) -> Result<Value, Diagnostic> {
    function
        .run(store, gateway, keys, payload)
        .await
        .map_err(|e| {
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
