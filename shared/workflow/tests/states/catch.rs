use serde_json::{Value, json};

use crate::support::{Reply, ScriptedInvoker, error_of, machine_from, next, step_with};

const LAMBDA: &str = "arn:aws:states:::lambda:invoke";

fn task_catching(catch: &Value) -> order_workflow::StateMachine {
    machine_from(
        "T",
        json!({ "T": { "Type": "Task", "Resource": LAMBDA, "Catch": catch, "Next": "Done" } }),
    )
}

async fn fail_with(
    m: &order_workflow::StateMachine,
    error: &'static str,
) -> order_workflow::Transition {
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Fail(error)]);
    step_with(m, "T", json!({"order": "o-1"}), &invoker).await
}

fn error_output(error: &str) -> Value {
    json!({"Error": error, "Cause": format!("{error} from {LAMBDA}")})
}

#[tokio::test]
async fn catch_places_error_output_at_result_path() {
    let m = task_catching(
        &json!([{ "ErrorEquals": ["Declined"], "Next": "First", "ResultPath": "$.error" }]),
    );
    let out = fail_with(&m, "Declined").await;
    assert_eq!(
        out,
        next(
            "First",
            json!({"order": "o-1", "error": error_output("Declined")})
        )
    );
}

#[tokio::test]
async fn catch_result_path_defaults_to_replacing_the_input_with_the_error() {
    let m = task_catching(&json!([{ "ErrorEquals": ["Declined"], "Next": "First" }]));
    let out = fail_with(&m, "Declined").await;
    assert_eq!(out, next("First", error_output("Declined")));
}

#[tokio::test]
async fn catch_result_path_null_passes_the_input_unchanged() {
    let m = task_catching(
        &json!([{ "ErrorEquals": ["Declined"], "Next": "First", "ResultPath": null }]),
    );
    let out = fail_with(&m, "Declined").await;
    assert_eq!(out, next("First", json!({"order": "o-1"})));
}

#[tokio::test]
async fn catchers_are_tried_in_order_and_the_first_match_wins() {
    let m = task_catching(&json!([
        { "ErrorEquals": ["Declined", "Fraud"], "Next": "First" },
        { "ErrorEquals": ["Fraud"], "Next": "Second" },
        { "ErrorEquals": ["States.ALL"], "Next": "Second" }
    ]));
    let out = fail_with(&m, "Fraud").await;
    assert_eq!(out, next("First", error_output("Fraud")));
    let out = fail_with(&m, "Other").await;
    assert_eq!(out, next("Second", error_output("Other")));
}

#[tokio::test]
async fn states_task_failed_catches_any_task_error() {
    let m = task_catching(&json!([{ "ErrorEquals": ["States.TaskFailed"], "Next": "First" }]));
    let out = fail_with(&m, "Lambda.ServiceException").await;
    assert_eq!(out, next("First", error_output("Lambda.ServiceException")));
}

#[tokio::test]
async fn an_error_no_catcher_matches_fails_the_execution() {
    let m = task_catching(&json!([{ "ErrorEquals": ["Declined"], "Next": "First" }]));
    let out = fail_with(&m, "Unexpected").await;
    assert_eq!(error_of(&out), Some("Unexpected"));
}

#[test]
fn states_all_must_be_in_the_last_catcher_and_catch_next_must_exist() {
    let definition = |catch: Value| {
        json!({
            "StartAt": "T",
            "States": {
                "T": { "Type": "Task", "Resource": LAMBDA, "Catch": catch, "End": true },
                "X": { "Type": "Succeed" }
            }
        })
        .to_string()
    };
    let parse = |catch| {
        order_workflow::StateMachine::from_json(
            &definition(catch),
            &std::collections::BTreeMap::new(),
        )
    };
    assert!(parse(json!([{ "ErrorEquals": ["States.ALL"], "Next": "X" }, { "ErrorEquals": ["A"], "Next": "X" }])).is_err());
    assert!(parse(json!([{ "ErrorEquals": ["A"], "Next": "X" }, { "ErrorEquals": ["States.ALL"], "Next": "X" }])).is_ok());
    assert_eq!(
        parse(json!([{ "ErrorEquals": ["A"], "Next": "Nowhere" }])),
        Err(order_workflow::DefinitionError::UnknownTarget {
            state: "T".to_owned(),
            field: "Catch.Next".to_owned(),
            target: "Nowhere".to_owned(),
        })
    );
}
