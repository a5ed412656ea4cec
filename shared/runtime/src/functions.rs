//! The local side of the state machine's integrations: `lambda:invoke` runs the same task
//! functions the Lambda binaries run, `sns:publish` goes to the outbox.

use std::collections::BTreeMap;

use order_app::dispatch::TaskFunction;
use order_app::gateway::SimulatedGateway;
use order_app::tasks::TaskError;
use order_domain::ports::{EventStore, KeyStore, Notification, Notifier, Topic};
use order_workflow::{TaskFailure, TaskInvoker};
use serde_json::{Value, json};

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";
const LOCAL_FUNCTION_ARN: &str = "arn:aws:lambda:local:000000000000:function:";
const LOCAL_TOPIC_ARN: &str = "arn:aws:sns:local:000000000000:";

/// The local values of the definition's `${...}` placeholders: each task function under the
/// name it is deployed with.
pub fn substitutions() -> BTreeMap<String, String> {
    let mut s: BTreeMap<String, String> = TaskFunction::ALL
        .iter()
        .map(|f| {
            let arn = format!("{LOCAL_FUNCTION_ARN}{}", f.function_name());
            (f.arn_placeholder(), arn)
        })
        .collect();
    s.insert(
        "OrderErrorNotificationTopicArn".into(),
        format!("{LOCAL_TOPIC_ARN}{}", Topic::OrderErrors.name()),
    );
    s
}

/// Invokes tasks for one execution (its name makes the dedup id of what it publishes).
pub struct LocalFunctions<S, N, K> {
    pub store: S,
    pub gateway: SimulatedGateway,
    pub keys: K,
    pub notifier: N,
    pub execution: String,
}

fn failure(e: &TaskError) -> TaskFailure {
    TaskFailure {
        error: e.error_type().to_owned(),
        cause: json!({ "errorType": e.error_type(), "errorMessage": e.message() }).to_string(),
    }
}

impl<S: EventStore, N: Notifier, K: KeyStore> LocalFunctions<S, N, K> {
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

impl<S: EventStore, N: Notifier, K: KeyStore> TaskInvoker for LocalFunctions<S, N, K> {
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
            SNS_PUBLISH => {
                let topic_arn = input
                    .get("TopicArn")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let topic = Topic::all()
                    .into_iter()
                    .find(|t| topic_arn.strip_prefix(LOCAL_TOPIC_ARN) == Some(t.name()))
                    .ok_or_else(|| TaskFailure {
                        error: "SNS.NotFoundException".into(),
                        cause: format!("no topic {topic_arn}"),
                    })?;
                let text = |k: &str| {
                    input
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                self.notifier
                    .publish(
                        topic,
                        Notification {
                            dedup_id: format!("{}-{}", self.execution, topic.name()),
                            subject: text("Subject"),
                            body: text("Message"),
                            recipients: vec![],
                        },
                    )
                    .await
                    .map_err(|e| TaskFailure {
                        error: "SNS.InternalErrorException".into(),
                        cause: e.to_string(),
                    })?;
                Ok(json!({ "MessageId": format!("{}-{}", self.execution, topic.name()) }))
            }
            other => Err(TaskFailure {
                error: "States.Runtime".into(),
                cause: format!("the local runner has no integration for {other}"),
            }),
        }
    }
}
