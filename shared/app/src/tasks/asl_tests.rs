//! The task errors against the workflow definition that matches on them: every error a task can
//! raise is retried by name where it is transient, and otherwise left to a `States.ALL` Catch (a
//! business outcome or a bug is never retried by name); every name the definition matches is one
//! a task raises or the platform's own. Renaming either side breaks these tests.

use std::collections::BTreeSet;

use serde_json::Value;

use super::TaskError;

const DEFINITION: &str = include_str!("../../../workflow/order-processing.asl.json");

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
        other => panic!("the task state {other} is not classified here: say what it raises"),
    }
    errors
}

fn states() -> serde_json::Map<String, Value> {
    let definition: Value = serde_json::from_str(DEFINITION).unwrap();
    definition["States"].as_object().unwrap().clone()
}

/// The Lambda task states, by name.
fn lambda_tasks() -> Vec<(String, Value)> {
    states()
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

#[test]
fn the_definition_runs_the_four_task_functions() {
    let names: Vec<_> = lambda_tasks().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "ValidateOrder",
            "ProcessPayment",
            "UpdateInventory",
            "OrderFailed"
        ])
    );
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
    for (name, state) in states() {
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
