use std::time::Duration;

use order_workflow::{RunOptions, Transition, step};
use serde_json::{Value, json};

use crate::support::{ScriptedInvoker, ctx, error_of, machine, next, step_with};

fn one_state(state: &Value) -> order_workflow::StateMachine {
    machine(&json!({"StartAt": "S", "States": {"S": state}}))
}

fn with_done(state: Value) -> order_workflow::StateMachine {
    let mut state = state;
    state["Next"] = json!("Done");
    machine(&json!({"StartAt": "S", "States": {"S": state, "Done": {"Type": "Succeed"}}}))
}

#[tokio::test]
async fn succeed_ends_the_execution_with_its_filtered_input() {
    let m = machine(&json!({
        "StartAt": "S",
        "States": { "S": { "Type": "Succeed", "InputPath": "$.order", "OutputPath": "$.id" } }
    }));
    let out = step_with(
        &m,
        "S",
        json!({"order": {"id": "o-1"}}),
        &ScriptedInvoker::new(),
    )
    .await;
    assert_eq!(
        out,
        Transition::Succeeded {
            output: json!("o-1")
        }
    );
}

#[tokio::test]
async fn fail_reports_its_error_and_cause() {
    let m = machine(&json!({
        "StartAt": "S",
        "States": { "S": { "Type": "Fail", "Error": "PaymentDeclined", "Cause": "card refused" } }
    }));
    let out = step_with(&m, "S", json!({}), &ScriptedInvoker::new()).await;
    assert_eq!(
        out,
        Transition::Failed {
            error: "PaymentDeclined".to_owned(),
            cause: "card refused".to_owned()
        }
    );
}

#[tokio::test]
async fn fail_reads_error_and_cause_from_paths_and_intrinsics() {
    let m = machine(&json!({
        "StartAt": "S",
        "States": { "S": {
            "Type": "Fail",
            "ErrorPath": "$.failure.Error",
            "CausePath": "States.Format('order {} failed: {}', $.id, $.failure.Cause)"
        } }
    }));
    let input = json!({"id": "o-1", "failure": {"Error": "Declined", "Cause": "no funds"}});
    let out = step_with(&m, "S", input, &ScriptedInvoker::new()).await;
    assert_eq!(
        out,
        Transition::Failed {
            error: "Declined".to_owned(),
            cause: "order o-1 failed: no funds".to_owned()
        }
    );
}

#[tokio::test]
async fn fail_without_error_or_cause_reports_empty_strings() {
    let m = one_state(&json!({"Type": "Fail"}));
    let out = step_with(&m, "S", json!({}), &ScriptedInvoker::new()).await;
    assert_eq!(
        out,
        Transition::Failed {
            error: String::new(),
            cause: String::new()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_waits_scaled_by_interval_scale_and_passes_input_through() {
    let m = with_done(json!({"Type": "Wait", "Seconds": 30}));
    for (scale, expected) in [(1.0, 30), (0.1, 3), (0.0, 0)] {
        let started = tokio::time::Instant::now();
        let opts = RunOptions {
            interval_scale: scale,
        };
        let out = step(
            &m,
            "S",
            json!({"a": 1}),
            &ctx(),
            &ScriptedInvoker::new(),
            &opts,
        )
        .await;
        assert_eq!(out, next("Done", json!({"a": 1})));
        let waited = started.elapsed().as_secs_f64();
        assert!(
            (waited - f64::from(expected)).abs() < 0.01,
            "scale {scale}: waited {waited}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_path_reads_the_delay_from_the_input() {
    let m = with_done(json!({"Type": "Wait", "SecondsPath": "$.delay", "OutputPath": "$.keep"}));
    let started = tokio::time::Instant::now();
    let out = step(
        &m,
        "S",
        json!({"delay": 7, "keep": true}),
        &ctx(),
        &ScriptedInvoker::new(),
        &RunOptions::default(),
    )
    .await;
    assert_eq!(out, next("Done", json!(true)));
    assert_eq!(started.elapsed(), Duration::from_secs(7));

    let out = step_with(
        &m,
        "S",
        json!({"delay": "soon", "keep": true}),
        &ScriptedInvoker::new(),
    )
    .await;
    assert_eq!(error_of(&out), Some("States.Runtime"));
}

#[tokio::test]
async fn step_on_a_state_that_does_not_exist_fails_with_states_runtime() {
    let m = one_state(&json!({"Type": "Succeed"}));
    let out = step_with(&m, "Nope", json!({}), &ScriptedInvoker::new()).await;
    assert_eq!(error_of(&out), Some("States.Runtime"));
}
