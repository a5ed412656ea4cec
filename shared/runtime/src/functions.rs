//! The local side of the state machine's one integration: `lambda:invoke` runs the same task
//! functions the Lambda binaries run. (The definition publishes nothing itself: the failure
//! notice follows the OrderFailed event through the bus, as on AWS.)

use std::collections::BTreeMap;

use order_app::dispatch::TaskFunction;
use order_app::gateway::SimulatedGateway;
use order_app::tasks::TaskError;
use order_domain::ports::{EventStore, KeyStore, PaymentGateway};
use order_workflow::{TaskFailure, TaskInvoker};
use serde_json::{Value, json};

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const LOCAL_FUNCTION_ARN: &str = "arn:aws:lambda:local:000000000000:function:";

/// The local values of the definition's `${...}` placeholders: each task function under the
/// name it is deployed with.
pub fn substitutions() -> BTreeMap<String, String> {
    TaskFunction::ALL
        .iter()
        .map(|f| {
            let arn = format!("{LOCAL_FUNCTION_ARN}{}", f.function_name());
            (f.arn_placeholder(), arn)
        })
        .collect()
}

/// Invokes tasks for executions (the gateway is the simulated one but in tests that count
/// charges).
pub struct LocalFunctions<S, K, G = SimulatedGateway> {
    pub store: S,
    pub gateway: G,
    pub keys: K,
}

fn failure(e: &TaskError) -> TaskFailure {
    TaskFailure {
        error: e.error_type().to_owned(),
        cause: json!({ "errorType": e.error_type(), "errorMessage": e.message() }).to_string(),
    }
}

impl<S: EventStore, K: KeyStore, G: PaymentGateway> LocalFunctions<S, K, G> {
    async fn call(&self, function: &str, payload: Value) -> Result<Value, TaskFailure> {
        let Some(task) = TaskFunction::from_function_name(function) else {
            return Err(failure(&TaskError::UnknownFunction(format!(
                "no function {function}"
            ))));
        };
        task.run(&self.store, &self.gateway, &self.keys, payload)
            .await
            .map_err(|e| failure(&e))
    }
}

impl<S: EventStore, K: KeyStore, G: PaymentGateway> TaskInvoker for LocalFunctions<S, K, G> {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        match resource {
            LAMBDA_INVOKE => {
                let name = input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .and_then(|arn| arn.strip_prefix(LOCAL_FUNCTION_ARN))
                    .unwrap_or_default()
                    .to_owned();
                let payload = input.get("Payload").cloned().unwrap_or(Value::Null);
                let out = self.call(&name, payload).await?;
                Ok(json!({ "Payload": out, "StatusCode": 200, "ExecutedVersion": "$LATEST" }))
            }
            other => Err(TaskFailure {
                error: "States.Runtime".into(),
                cause: format!("the local runner has no integration for {other}"),
            }),
        }
    }
}
