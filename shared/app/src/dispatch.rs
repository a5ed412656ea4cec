//! Task dispatch, written once: which use case a Task state of OrderProcessingStateMachine runs.
//! The Lambda binaries (one per function) and the local runner's `lambda:invoke` (one process
//! for all) both go through [`TaskFunction::run`], so a task cannot be wired to one use case on
//! one host and another on the other.

use order_domain::ports::{EventStore, KeyStore, PaymentGateway};
use serde_json::Value;

use crate::tasks::{self, TaskError};

/// A task function of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskFunction {
    ValidateOrder,
    ProcessPayment,
    UpdateInventory,
    OrderFailed,
}

impl TaskFunction {
    /// Every task function, in the order the state machine reaches them.
    pub const ALL: [Self; 4] = [
        Self::ValidateOrder,
        Self::ProcessPayment,
        Self::UpdateInventory,
        Self::OrderFailed,
    ];

    /// The task's name: the template's `<name>Lambda` resource and the definition's
    /// `${<name>FunctionArn}` placeholder are made from it.
    pub fn name(self) -> &'static str {
        match self {
            Self::ValidateOrder => "ValidateOrder",
            Self::ProcessPayment => "ProcessPayment",
            Self::UpdateInventory => "UpdateInventory",
            Self::OrderFailed => "OrderFailed",
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
        let input = TaskError::parse_input(payload)?;
        match self {
            Self::ValidateOrder => tasks::validate_order(store, input).await,
            Self::ProcessPayment => tasks::process_payment(store, gateway, keys, input).await,
            Self::UpdateInventory => tasks::update_inventory(store, input).await,
            Self::OrderFailed => tasks::order_failed(store, gateway, input).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFINITION: &str = include_str!("../../workflow/order-processing.asl.json");
    const TEMPLATE: &str = include_str!("../../../template.yaml");

    /// Every task function is a placeholder of the definition, and the template wires that
    /// placeholder to the function's own Lambda, deployed under the function's name.
    #[test]
    fn every_task_function_is_named_alike_in_the_definition_and_the_template() {
        for f in TaskFunction::ALL {
            let placeholder = f.arn_placeholder();
            assert!(
                DEFINITION.contains(&format!("\"${{{placeholder}}}\"")),
                "{placeholder} is not in the definition"
            );
            assert!(
                TEMPLATE.contains(&format!("{placeholder}: !GetAtt {}Lambda.Arn", f.name())),
                "the template does not substitute {placeholder}"
            );
            assert!(
                TEMPLATE.contains(&format!("${{AWS::StackName}}-{}\"", f.function_name())),
                "the template deploys no function named {}",
                f.function_name()
            );
        }
    }

    /// The definition calls no task function that dispatch does not know.
    #[test]
    fn the_definition_invokes_only_known_task_functions() {
        let known: Vec<String> = TaskFunction::ALL
            .iter()
            .map(|f| f.arn_placeholder())
            .collect();
        for part in DEFINITION.split("\"${").skip(1) {
            let placeholder = part.split('}').next().unwrap_or_default();
            if placeholder.ends_with("FunctionArn") {
                assert!(known.iter().any(|k| k == placeholder), "{placeholder}");
            }
        }
    }

    #[test]
    fn a_task_function_is_found_by_either_of_its_names() {
        for f in TaskFunction::ALL {
            assert_eq!(TaskFunction::from_name(f.name()), Some(f));
            assert_eq!(TaskFunction::from_function_name(f.function_name()), Some(f));
        }
        assert_eq!(TaskFunction::from_name("validate-order"), None);
        assert_eq!(TaskFunction::from_name("Refund"), None);
    }
}
