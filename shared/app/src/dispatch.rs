//! Task dispatch, written once: which use case a Task state of a state machine runs, and which
//! state machine (its [`Workflow`]) each task belongs to. The Lambda binaries (one per function)
//! and the local runner's `lambda:invoke` (one process for all) both go through
//! [`TaskFunction::run`], so a task cannot be wired to one use case on one host and another on
//! the other.

use order_domain::ports::{EventStore, KeyStore, PaymentGateway};
use serde_json::Value;

use crate::tasks::{self, RefundTaskInput, TaskError};

/// A state machine of the system: its name (the template's logical id and the executions'
/// `$$.StateMachine.Name`) and its one definition, the file CloudFormation deploys and the local
/// runner executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workflow {
    /// One execution per order, started from OrdersQueue.
    OrderProcessing,
    /// One execution per refund, started by the bus's RefundRequested.
    RefundProcessing,
}

impl Workflow {
    /// Every state machine.
    pub const ALL: [Self; 2] = [Self::OrderProcessing, Self::RefundProcessing];

    /// The state machine's name: the template's logical id.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OrderProcessing => "OrderProcessingStateMachine",
            Self::RefundProcessing => "RefundProcessingStateMachine",
        }
    }

    /// The state machine named `name` (as [`Workflow::name`] spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The definition (Amazon States Language, with `${<Task>FunctionArn}` placeholders).
    pub const fn definition(self) -> &'static str {
        match self {
            Self::OrderProcessing => include_str!("../../workflow/order-processing.asl.json"),
            Self::RefundProcessing => include_str!("../../workflow/refund-processing.asl.json"),
        }
    }

    /// The definition's file, from the repository's root.
    pub fn definition_path(self) -> &'static str {
        match self {
            Self::OrderProcessing => "shared/workflow/order-processing.asl.json",
            Self::RefundProcessing => "shared/workflow/refund-processing.asl.json",
        }
    }

    /// The alarm that pages a person when one of its executions fails (the template's
    /// CloudWatch alarm; the local runner's stand-in sends one critical alert per execution).
    pub fn failure_alarm(self) -> &'static str {
        match self {
            Self::OrderProcessing => "OrderProcessingWorkflowFailureAlarm",
            Self::RefundProcessing => "RefundProcessingWorkflowFailureAlarm",
        }
    }

    /// The task functions its definition invokes.
    pub fn tasks(self) -> impl Iterator<Item = TaskFunction> {
        TaskFunction::ALL
            .into_iter()
            .filter(move |f| f.workflow() == self)
    }
}

/// A task function of a state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskFunction {
    ValidateOrder,
    ProcessPayment,
    UpdateInventory,
    OrderFailed,
    ProcessRefund,
    RefundFailed,
}

impl TaskFunction {
    /// Every task function, each state machine's in the order it reaches them.
    pub const ALL: [Self; 6] = [
        Self::ValidateOrder,
        Self::ProcessPayment,
        Self::UpdateInventory,
        Self::OrderFailed,
        Self::ProcessRefund,
        Self::RefundFailed,
    ];

    /// The state machine whose definition invokes the task.
    pub fn workflow(self) -> Workflow {
        match self {
            Self::ValidateOrder
            | Self::ProcessPayment
            | Self::UpdateInventory
            | Self::OrderFailed => Workflow::OrderProcessing,
            Self::ProcessRefund | Self::RefundFailed => Workflow::RefundProcessing,
        }
    }

    /// The task's name: the template's `<name>Lambda` resource and the definition's
    /// `${<name>FunctionArn}` placeholder are made from it.
    pub fn name(self) -> &'static str {
        match self {
            Self::ValidateOrder => "ValidateOrder",
            Self::ProcessPayment => "ProcessPayment",
            Self::UpdateInventory => "UpdateInventory",
            Self::OrderFailed => "OrderFailed",
            Self::ProcessRefund => "ProcessRefund",
            Self::RefundFailed => "RefundFailed",
        }
    }

    /// The task named `name` (as [`TaskFunction::name`] spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The definition's placeholder for the function's ARN, without `${}`.
    pub fn arn_placeholder(self) -> String {
        format!("{}FunctionArn", self.name())
    }

    /// The deployed function's name (after the stack's prefix) and its binary's.
    pub fn function_name(self) -> &'static str {
        match self {
            Self::ValidateOrder => "validate-order",
            Self::ProcessPayment => "process-payment",
            Self::UpdateInventory => "update-inventory",
            Self::OrderFailed => "order-failed",
            Self::ProcessRefund => "process-refund",
            Self::RefundFailed => "refund-failed",
        }
    }

    /// The task whose deployed function is named `name` (as [`TaskFunction::function_name`]).
    pub fn from_function_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.function_name() == name)
    }

    /// Runs the task's use case on the state machine's payload.
    pub async fn run<S: EventStore, G: PaymentGateway, K: KeyStore>(
        self,
        store: &S,
        gateway: &G,
        keys: &K,
        payload: Value,
    ) -> Result<Value, TaskError> {
        match self {
            Self::ValidateOrder => {
                tasks::validate_order(store, TaskError::parse_input(payload)?).await
            }
            Self::ProcessPayment => {
                let input = TaskError::parse_input(payload)?;
                tasks::process_payment(store, gateway, keys, input).await
            }
            Self::UpdateInventory => {
                tasks::update_inventory(store, TaskError::parse_input(payload)?).await
            }
            Self::OrderFailed => {
                tasks::order_failed(store, gateway, TaskError::parse_input(payload)?).await
            }
            Self::ProcessRefund => {
                tasks::process_refund(store, gateway, RefundTaskInput::parse(payload)?).await
            }
            Self::RefundFailed => {
                tasks::refund_failed(store, gateway, RefundTaskInput::parse(payload)?).await
            }
        }
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
