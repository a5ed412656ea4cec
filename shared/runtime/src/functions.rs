//! The local side of the state machines' one integration: `lambda:invoke` runs the same task
//! functions the Lambda binaries run. (The definitions publish nothing themselves: the failure
//! notice follows the OrderFailed event through the bus, as on AWS.)

use std::collections::BTreeMap;

use order_app::dispatch::{TaskFunction, Workflow};
use order_app::gateway::SimulatedGateway;
use order_app::tasks::TaskError;
use order_domain::ports::{EventStore, KeyStore, PaymentGateway};
use order_workflow::{TaskFailure, TaskInvoker};
use serde_json::{Value, json};

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const LOCAL_FUNCTION_ARN: &str = "arn:aws:lambda:local:000000000000:function:";

/// The local values of `workflow`'s `${...}` placeholders: each of its task functions under the
/// name it is deployed with. Only its own, so a definition that names another state machine's
/// task fails to parse, as CloudFormation would refuse a substitution the template lacks.
pub fn substitutions(workflow: Workflow) -> BTreeMap<String, String> {
    workflow
        .tasks()
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
        // Boxed: the task's future is the largest part of an execution's, and every level above
        // it (the timeout, the attempt, the state, the execution) would hold it inline. Unboxed,
        // an embedded execution's future is 5,840 bytes as built for the tests, against 2,272
        // (`execution::tests`), and it is spawned once per order.
        Box::pin(task.run(&self.store, &self.gateway, &self.keys, payload))
            .await
            .map_err(|e| failure(&e))
    }
}

impl<S: EventStore, K: KeyStore, G: PaymentGateway> TaskInvoker for LocalFunctions<S, K, G> {
    async fn invoke(&self, resource: &str, mut input: Value) -> Result<Value, TaskFailure> {
        match resource {
            LAMBDA_INVOKE => {
                // The payload is the task's own: taken out of the input, not copied.
                let payload = input
                    .as_object_mut()
                    .and_then(|fields| fields.remove("Payload"))
                    .unwrap_or(Value::Null);
                let name = input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .and_then(|arn| arn.strip_prefix(LOCAL_FUNCTION_ARN))
                    .unwrap_or_default();
                let out = self.call(name, payload).await?;
                Ok(json!({ "Payload": out, "StatusCode": 200, "ExecutedVersion": "$LATEST" }))
            }
            other => Err(TaskFailure {
                error: "States.Runtime".into(),
                cause: format!("the local runner has no integration for {other}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use order_workflow::StateMachine;

    use super::*;

    /// Each definition parses with its own substitutions, and not with another's: its tasks are
    /// its own.
    #[test]
    fn each_definition_parses_with_its_own_functions_only() {
        for w in Workflow::ALL {
            StateMachine::from_json(w.definition(), &substitutions(w)).unwrap();
            for other in Workflow::ALL.into_iter().filter(|o| *o != w) {
                assert!(StateMachine::from_json(w.definition(), &substitutions(other)).is_err());
            }
        }
    }
}
