//! Step Functions on one machine: the state machines' executions that the emulator holds
//! (started by a function's `StartExecution`, as OrderProcessingStateMachine's are, or by a rule
//! whose target is a state machine, as RefundRequestedRule starts RefundProcessingStateMachine's:
//! the emulator starts those with the target's input, as EventBridge does, see
//! shared/aws/emulator/moto_invocations.py; it never runs them) are run by the project's own ASL
//! interpreter on the definition the emulator holds, and its Task states'
//! integrations do what Step Functions' do: `arn:aws:states:::lambda:invoke` invokes the
//! function binary named by `FunctionName` with `Payload` and answers `{"Payload": …}` (a
//! function error becomes the task's error, named by its `errorType`, its document the cause),
//! `arn:aws:states:::sns:publish` publishes on the emulator's SNS.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use order_workflow::{
    ExecutionContext, RunOptions, StateMachine, TaskFailure, TaskInvoker, Transition,
};
use serde_json::{Value, json};

use crate::function::{Functions, InvokeError};
use crate::harness::HarnessError;
use crate::stack::Machine;

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";

/// The integrations of Task states.
pub struct Integrations {
    pub functions: Arc<Functions>,
    pub sns: aws_sdk_sns::Client,
}

impl Integrations {
    async fn lambda(&self, input: &Value) -> Result<Value, TaskFailure> {
        let name = input["FunctionName"].as_str().unwrap_or_default();
        let Some(function) = self.functions.get(name) else {
            return Err(TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {name}"),
            ));
        };
        let payload = input.get("Payload").cloned().unwrap_or(json!({}));
        match function.invoke(&payload).await {
            Ok(out) => Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": out,
                "StatusCode": 200,
            })),
            Err(InvokeError::Function { error_type, body }) => {
                Err(TaskFailure::new(error_type, body))
            }
            Err(e @ InvokeError::Runtime { .. }) => {
                let error = match e.error_type() {
                    "Sandbox.Timedout" => "Sandbox.Timedout",
                    _ => "Lambda.ServiceException",
                };
                Err(TaskFailure::new(error, e.to_string()))
            }
        }
    }

    async fn publish(&self, input: &Value) -> Result<Value, TaskFailure> {
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
        let out = self
            .sns
            .publish()
            .set_topic_arn(text("TopicArn"))
            .set_subject(text("Subject"))
            .set_message(text("Message"))
            .send()
            .await
            .map_err(|e| {
                TaskFailure::new(
                    "SNS.InternalErrorException",
                    aws_sdk_sns::error::DisplayErrorContext(e).to_string(),
                )
            })?;
        Ok(json!({ "MessageId": out.message_id }))
    }
}

impl TaskInvoker for Integrations {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        match resource {
            LAMBDA_INVOKE => self.lambda(&input).await,
            SNS_PUBLISH => self.publish(&input).await,
            other => Err(TaskFailure::new(
                "States.Runtime",
                format!("the stack harness has no integration for {other}"),
            )),
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub input: Value,
    pub end: Transition,
}

/// The state machines' executions: which were started, and how each ended.
pub struct Executions {
    machines: Vec<(Machine, Arc<StateMachine>)>,
    started: Mutex<BTreeSet<String>>,
    /// Execution ARN to its end, once it ended.
    pub outcomes: Arc<Mutex<BTreeMap<String, Outcome>>>,
    /// Multiplies Retry delays (1.0: as deployed).
    pub interval_scale: f64,
}

impl Executions {
    /// The executions of `machines` (their definitions parsed as deployed).
    pub fn new(machines: &[Machine], interval_scale: f64) -> Result<Self, HarnessError> {
        let parsed = machines
            .iter()
            .map(|m| {
                StateMachine::from_json(&m.definition, &BTreeMap::new())
                    .map(|sm| (m.clone(), Arc::new(sm)))
                    .map_err(|e| HarnessError::Definition(format!("{}: {e}", m.name)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            machines: parsed,
            started: Mutex::new(BTreeSet::new()),
            outcomes: Arc::new(Mutex::new(BTreeMap::new())),
            interval_scale,
        })
    }

    /// Starts running every execution the emulator holds that has not run yet; the number
    /// started.
    pub async fn poll(
        &self,
        sfn: &aws_sdk_sfn::Client,
        integrations: &Arc<Integrations>,
    ) -> Result<usize, HarnessError> {
        let mut started = 0;
        for (machine, definition) in &self.machines {
            let listed = sfn
                .list_executions()
                .state_machine_arn(&machine.arn)
                .send()
                .await
                .map_err(|e| {
                    HarnessError::Aws(aws_sdk_sfn::error::DisplayErrorContext(e).to_string())
                })?;
            for e in listed.executions {
                let fresh = self
                    .started
                    .lock()
                    .is_ok_and(|mut s| s.insert(e.execution_arn.clone()));
                if !fresh {
                    continue;
                }
                let described = sfn
                    .describe_execution()
                    .execution_arn(&e.execution_arn)
                    .send()
                    .await
                    .map_err(|e| {
                        HarnessError::Aws(aws_sdk_sfn::error::DisplayErrorContext(e).to_string())
                    })?;
                let input: Value = described
                    .input
                    .as_deref()
                    .and_then(|i| serde_json::from_str(i).ok())
                    .unwrap_or(json!({}));
                let ctx = ExecutionContext {
                    execution_id: e.execution_arn.clone(),
                    execution_name: e.name.clone(),
                    state_machine_name: machine.name.clone(),
                    start_time: crate::recorded::now_rfc3339(),
                };
                let definition = Arc::clone(definition);
                let integrations = Arc::clone(integrations);
                let outcomes = Arc::clone(&self.outcomes);
                let opts = RunOptions {
                    interval_scale: self.interval_scale,
                };
                tokio::spawn(async move {
                    let end = order_workflow::run(
                        &definition,
                        input.clone(),
                        &ctx,
                        integrations.as_ref(),
                        &opts,
                        |_, _| {},
                    )
                    .await;
                    if let Ok(mut o) = outcomes.lock() {
                        o.insert(
                            ctx.execution_id.clone(),
                            Outcome {
                                name: ctx.execution_name.clone(),
                                input,
                                end,
                            },
                        );
                    }
                });
                started += 1;
            }
        }
        Ok(started)
    }

    /// Executions started and not yet ended.
    pub fn running(&self) -> usize {
        let started = self.started.lock().map_or(0, |s| s.len());
        let ended = self.outcomes.lock().map_or(0, |o| o.len());
        started.saturating_sub(ended)
    }
}
