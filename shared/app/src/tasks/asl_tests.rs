//! The task errors against the workflow definitions that match on them (both state machines':
//! OrderProcessingStateMachine and RefundProcessingStateMachine): every error a task can raise is
//! retried by name where it is transient, and otherwise left to a `States.ALL` Catch (a business
//! outcome or a bug is never retried by name); every name a definition matches is one a task
//! raises or the platform's own. Renaming either side breaks these tests.

use std::collections::BTreeSet;

use serde_json::Value;

use super::TaskError;
use crate::dispatch::{TaskFunction, Workflow};

/// The errors every task can raise, whatever it does: bad input, the store, the fold.
fn common() -> Vec<TaskError> {
    let e = String::new;
    vec![
        TaskError::InvalidInput(e()),
        TaskError::StoreUnavailable(e()),
        TaskError::ConcurrentModification(e()),
        TaskError::CorruptEvent(e()),
        TaskError::OrderNotReady(e()),
        TaskError::UnknownFunction(e()),
    ]
}

/// What each Lambda task state's function can raise, by state name.
fn raised_by(state: &str) -> Vec<TaskError> {
    let e = String::new;
    let mut errors = common();
    match state {
        "ValidateOrder" => errors.extend([
            TaskError::OrderRejected(e()),
            TaskError::OrderCancelled(e()),
        ]),
        "ProcessPayment" => errors.extend([
            TaskError::GatewayUnavailable(e()),
            TaskError::PaymentDeclined(e()),
            TaskError::OrderCancelled(e()),
        ]),
        "UpdateInventory" => {
            errors.extend([TaskError::OutOfStock(e()), TaskError::OrderCancelled(e())]);
        }
        "OrderFailed" => errors.push(TaskError::GatewayUnavailable(e())),
        // The gateway's refund, and the order's decision on the settlement (a cancelled order's
        // refund included).
        "ProcessRefund" => errors.extend([
            TaskError::GatewayUnavailable(e()),
            TaskError::OrderCancelled(e()),
        ]),
        "RefundFailed" => errors.push(TaskError::OrderCancelled(e())),
        other => panic!("the task state {other} is not classified here: say what it raises"),
    }
    errors
}

fn states(workflow: Workflow) -> serde_json::Map<String, Value> {
    let definition: Value = serde_json::from_str(workflow.definition()).unwrap();
    definition["States"].as_object().unwrap().clone()
}

/// Every state of both definitions, by name (no name is used twice across them).
fn all_states() -> Vec<(String, Value)> {
    Workflow::ALL.into_iter().flat_map(states).collect()
}

/// The Lambda task states of both definitions, by name.
fn lambda_tasks() -> Vec<(String, Value)> {
    all_states()
        .into_iter()
        .filter(|(_, s)| s["Resource"] == "arn:aws:states:::lambda:invoke")
        .collect()
}

/// The names one state's `Retry` or `Catch` clauses match.
fn matched(state: &Value, field: &str) -> BTreeSet<String> {
    state[field]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|clause| clause["ErrorEquals"].as_array().unwrap().iter())
        .map(|name| name.as_str().unwrap().to_owned())
        .collect()
}

/// Each definition's Lambda task states are its own task functions, each state named as its
/// function and invoking it through its placeholder.
#[test]
fn each_definition_runs_its_own_task_functions() {
    for w in Workflow::ALL {
        let tasks: BTreeSet<String> = states(w)
            .into_iter()
            .filter(|(_, s)| s["Resource"] == "arn:aws:states:::lambda:invoke")
            .map(|(name, state)| {
                let f = TaskFunction::from_name(&name).expect("a task state named as its function");
                assert_eq!(
                    state["Parameters"]["FunctionName"],
                    format!("${{{}}}", f.arn_placeholder()),
                    "{name}"
                );
                name
            })
            .collect();
        let own: BTreeSet<String> = w.tasks().map(|f| f.name().to_owned()).collect();
        assert_eq!(tasks, own, "{}", w.definition_path());
    }
    assert_eq!(
        lambda_tasks().len(),
        TaskFunction::ALL.len(),
        "no state name is used twice"
    );
}

/// Each definition starts at one of its states, and each of its Fail states names its error and
/// cause (what the failed execution, and so the failure alarm, shows).
#[test]
fn every_definition_starts_at_one_of_its_states_and_names_its_failures() {
    for w in Workflow::ALL {
        let definition: Value = serde_json::from_str(w.definition()).unwrap();
        let start = definition["StartAt"].as_str().unwrap();
        assert!(states(w).contains_key(start), "{}", w.definition_path());
        for (name, state) in states(w) {
            if state["Type"] == "Fail" {
                assert!(state["Error"].is_string(), "{name} names its error");
                assert!(state["Cause"].is_string(), "{name} says why");
            }
        }
    }
}

#[test]
fn every_transient_error_a_task_raises_is_retried_by_name_or_by_states_all() {
    for (name, state) in lambda_tasks() {
        let retried = matched(&state, "Retry");
        for error in raised_by(&name).iter().filter(|e| e.is_transient()) {
            assert!(
                retried.contains(error.error_type()) || retried.contains("States.ALL"),
                "{name} can raise {} but its Retry does not name it",
                error.error_type()
            );
        }
    }
}

#[test]
fn every_other_error_a_task_raises_is_caught_and_never_retried_by_name() {
    for (name, state) in lambda_tasks() {
        let retried = matched(&state, "Retry");
        let caught = matched(&state, "Catch");
        for error in raised_by(&name).iter().filter(|e| !e.is_transient()) {
            let error_type = error.error_type();
            assert!(
                !retried.contains(error_type),
                "{name} retries {error_type}, an outcome that a retry cannot change"
            );
            assert!(
                caught.contains(error_type) || caught.contains("States.ALL"),
                "{name} can raise {error_type} but nothing catches it"
            );
        }
    }
}

#[test]
fn every_error_the_definition_names_is_raised_by_a_task_or_the_platform() {
    let ours: BTreeSet<&str> = TaskError::ERROR_TYPES.iter().copied().collect();
    for (name, state) in all_states() {
        for error_type in matched(&state, "Retry").union(&matched(&state, "Catch")) {
            let platform = ["States.", "Lambda.", "Sandbox."]
                .iter()
                .any(|prefix| error_type.starts_with(prefix));
            assert!(
                platform || ours.contains(error_type.as_str()),
                "{name} matches {error_type}, which no task raises (renamed?)"
            );
        }
    }
}

#[test]
fn every_error_type_is_distinct_and_every_variant_is_classified() {
    let distinct: BTreeSet<_> = TaskError::ERROR_TYPES.iter().collect();
    assert_eq!(distinct.len(), TaskError::ERROR_TYPES.len());
    let raised: BTreeSet<&str> = lambda_tasks()
        .iter()
        .flat_map(|(name, _)| raised_by(name))
        .map(|e| e.error_type())
        .collect();
    assert_eq!(
        raised,
        TaskError::ERROR_TYPES.iter().copied().collect(),
        "a variant no task raises, or one the tables above forget"
    );
}

#[test]
fn a_task_error_shows_its_error_type_and_message() {
    let e = TaskError::OutOfStock("product A: 2 requested, 1 available".into());
    assert_eq!(e.error_type(), "OutOfStock");
    assert_eq!(e.message(), "product A: 2 requested, 1 available");
    assert_eq!(
        e.to_string(),
        "OutOfStock: product A: 2 requested, 1 available"
    );
}

/// The errors left to `States.ALL` are not named in the definition, but their names still reach
/// it: they are the `Error` of the Catch output the OrderFailed step receives and records in the
/// OrderFailed event (so in its failure notice), and the `errorType` in every execution's history. So they are pinned here; a
/// rename is a change of the workflow's contract, made on purpose in both places.
#[test]
fn the_error_types_are_the_names_the_workflow_knows() {
    assert_eq!(
        TaskError::ERROR_TYPES,
        [
            "OrderRejected",
            "PaymentDeclined",
            "OutOfStock",
            "PaymentGatewayUnavailable",
            "EventStoreUnavailable",
            "ConcurrentModification",
            "OrderCancelled",
            "OrderNotReady",
            "InvalidTaskInput",
            "CorruptEvent",
            "Lambda.ResourceNotFoundException",
        ]
    );
}
