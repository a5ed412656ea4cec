//! OrderProcessingStateMachine on Step Functions: one execution per order, named by its id.
//!
//! Naming the execution after the order is what makes a redelivered queue message harmless
//! (at-least-once delivery hands the same order over more than once): a Standard workflow answers `ExecutionAlreadyExists` for a name it has seen
//! with another input or after the first run ended, which means "already started", and answers
//! an identical request for a running execution with that execution itself.
//!
//! In a Lambda under active tracing, the start passes the invocation's X-Ray trace header
//! (`_X_AMZN_TRACE_ID`, which the runtime sets per invocation) as `traceHeader`: the execution
//! (its tracing is on in the template) joins the invoking function's trace and keeps its
//! sampling decision, instead of starting a trace of its own, which X-Ray would bill as one more
//! trace. Without the variable (locally) nothing is passed.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use order_domain::OrderId;
use order_domain::ports::{PortError, StartOutcome, WorkflowStarter};
use serde_json::Value;

use crate::config::{AwsClients, ConfigError, STATE_MACHINE_ARN, require_env};

/// The variable Lambda's runtime sets to the current invocation's X-Ray trace header.
pub const XRAY_TRACE_HEADER: &str = "_X_AMZN_TRACE_ID";
/// StartExecution's limit on `traceHeader`.
const MAX_TRACE_HEADER: usize = 256;

/// The invocation's X-Ray trace header, if there is one StartExecution accepts.
fn trace_header() -> Option<String> {
    std::env::var(XRAY_TRACE_HEADER)
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= MAX_TRACE_HEADER && h.is_ascii())
}
use crate::errors::port_error;

#[derive(Debug, Clone)]
pub struct SfnWorkflow {
    client: Client,
    state_machine_arn: String,
}

impl SfnWorkflow {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The state machine named by `STATE_MACHINE_ARN`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.sfn().clone(),
            require_env(STATE_MACHINE_ARN)?,
        ))
    }

    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }
}

impl WorkflowStarter for SfnWorkflow {
    /// `Started` also when Step Functions answers an identical request for a running execution
    /// idempotently (it does not say whether it started anything); callers treat both alike.
    #[tracing::instrument(skip(self, input), fields(order_id = %order_id))]
    async fn start(&self, order_id: OrderId, input: Value) -> Result<StartOutcome, PortError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(order_id.to_string())
            .input(input.to_string())
            .set_trace_header(trace_header())
            .send()
            .await;
        match result {
            Ok(_) => Ok(StartOutcome::Started),
            Err(e) => match e.as_service_error() {
                Some(StartExecutionError::ExecutionAlreadyExists(_)) => {
                    tracing::info!("execution already exists: treated as started");
                    Ok(StartOutcome::AlreadyStarted)
                }
                _ => Err(port_error(
                    &format!("StartExecution on {}", self.state_machine_arn),
                    &e,
                )),
            },
        }
    }
}
