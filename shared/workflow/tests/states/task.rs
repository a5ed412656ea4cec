use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::support::{Reply, ScriptedInvoker, error_of, machine_from, next, step_with};

const LAMBDA: &str = "arn:aws:states:::lambda:invoke";

/// A machine whose state `T` is a Task with the given extra fields.
fn single_task(fields: Value) -> order_workflow::StateMachine {
    let mut state = fields;
    state["Type"] = json!("Task");
    state["Resource"] = json!(LAMBDA);
    state["Next"] = json!("Done");
    machine_from("T", json!({ "T": state }))
}

#[tokio::test]
async fn task_applies_input_path_parameters_result_selector_result_path_output_path_in_order() {
    let m = single_task(json!({
        "InputPath": "$.order",
        "Parameters": {
            "FunctionName": "charge",
            "Payload": { "id.$": "$.id", "total.$": "$.total" }
        },
        "ResultSelector": { "receipt.$": "$.Payload.receipt", "code.$": "$.StatusCode" },
        "ResultPath": "$.order.payment",
        "OutputPath": "$.order"
    }));
    let invoker = ScriptedInvoker::new().on(
        LAMBDA,
        [Reply::Ok(
            json!({"StatusCode": 200, "Payload": {"receipt": "r-1", "noise": 1}}),
        )],
    );
    let out = step_with(
        &m,
        "T",
        json!({"order": {"id": "o-1", "total": 12.5}, "other": true}),
        &invoker,
    )
    .await;

    // Parameters saw only what InputPath selected.
    assert_eq!(
        invoker.calls(),
        vec![(
            LAMBDA.to_owned(),
            json!({"FunctionName": "charge", "Payload": {"id": "o-1", "total": 12.5}})
        )]
    );
    // ResultSelector trimmed the result, ResultPath put it into the raw
    // input, OutputPath picked the order back out.
    assert_eq!(
        out,
        next(
            "Done",
            json!({"id": "o-1", "total": 12.5, "payment": {"receipt": "r-1", "code": 200}})
        )
    );
}

#[tokio::test]
async fn task_without_parameters_sends_the_effective_input_and_result_replaces_it() {
    let m = single_task(json!({ "InputPath": "$.a" }));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Ok(json!("result"))]);
    let out = step_with(&m, "T", json!({"a": {"b": 1}}), &invoker).await;
    assert_eq!(invoker.inputs(), vec![json!({"b": 1})]);
    assert_eq!(out, next("Done", json!("result")));
}

#[tokio::test]
async fn context_object_reaches_the_task() {
    let m = single_task(json!({
        "Parameters": {
            "id.$": "$$.Execution.Id",
            "name.$": "$$.Execution.Name",
            "started.$": "$$.Execution.StartTime",
            "machine.$": "$$.StateMachine.Name",
            "state.$": "$$.State.Name",
            "entered.$": "$$.State.EnteredTime",
            "retries.$": "$$.State.RetryCount"
        }
    }));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Echo]);
    step_with(&m, "T", json!({}), &invoker).await;
    let input = &invoker.inputs()[0];
    assert_eq!(input["id"], json!("exec-1"));
    assert_eq!(input["name"], json!("order-42"));
    assert_eq!(input["started"], json!("2026-01-02T03:04:05.000Z"));
    assert_eq!(input["machine"], json!("OrderProcessing"));
    assert_eq!(input["state"], json!("T"));
    assert_eq!(input["retries"], json!(0));
    let entered = input["entered"].as_str().expect("entered time is a string");
    assert!(humantime_like_rfc3339(entered), "{entered}");
}

fn humantime_like_rfc3339(text: &str) -> bool {
    text.len() == "2026-01-02T03:04:05.000Z".len()
        && text.as_bytes()[10] == b'T'
        && text.ends_with('Z')
}

#[tokio::test]
async fn task_failure_without_retry_or_catch_fails_the_execution() {
    let m = single_task(json!({}));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Fail("OutOfStock")]);
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(
        out,
        order_workflow::Transition::Failed {
            error: "OutOfStock".to_owned(),
            cause: format!("OutOfStock from {LAMBDA}"),
        }
    );
}

#[tokio::test]
async fn parameters_path_that_selects_nothing_fails_with_states_runtime_even_with_catch_all() {
    let m = single_task(json!({
        "Parameters": { "id.$": "$.missing" },
        "Retry": [{ "ErrorEquals": ["States.ALL"] }],
        "Catch": [{ "ErrorEquals": ["States.ALL"], "Next": "Handled" }]
    }));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Echo]);
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(error_of(&out), Some("States.Runtime"));
    assert!(invoker.calls().is_empty(), "the task must not run");
}

#[tokio::test]
async fn result_selector_path_that_selects_nothing_fails_with_states_runtime() {
    let m = single_task(json!({
        "ResultSelector": { "x.$": "$.nope" },
        "Catch": [{ "ErrorEquals": ["States.ALL"], "Next": "Handled" }]
    }));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Ok(json!({}))]);
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(error_of(&out), Some("States.Runtime"));
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_the_invocation_and_raises_states_timeout() {
    let m = single_task(json!({ "TimeoutSeconds": 5 }));
    let cancelled = Arc::new(AtomicBool::new(false));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Hang(cancelled.clone())]);
    let started = tokio::time::Instant::now();
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(error_of(&out), Some("States.Timeout"));
    assert!(
        cancelled.load(Ordering::SeqCst),
        "the invocation was dropped"
    );
    assert_eq!(started.elapsed().as_secs(), 5);
}

#[tokio::test(start_paused = true)]
async fn timeout_is_caught_by_states_all_but_not_by_states_task_failed() {
    let m = single_task(json!({
        "TimeoutSeconds": 1,
        "Catch": [
            { "ErrorEquals": ["States.TaskFailed"], "Next": "Done" },
            { "ErrorEquals": ["States.ALL"], "Next": "Handled", "ResultPath": "$.error" }
        ]
    }));
    let hang = Reply::Hang(Arc::new(AtomicBool::new(false)));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [hang]);
    let out = step_with(&m, "T", json!({"k": 1}), &invoker).await;
    let crate::support::Transition::Next { state, output } = out else {
        panic!("expected a caught timeout, got {out:?}");
    };
    assert_eq!(state, "Handled");
    assert_eq!(output["error"]["Error"], json!("States.Timeout"));
    assert_eq!(output["k"], json!(1));
}
