use serde_json::json;

use crate::support::{ScriptedInvoker, error_of, machine, next, step_with};

fn single_pass(pass: serde_json::Value) -> order_workflow::StateMachine {
    let mut state = pass;
    state["Type"] = json!("Pass");
    state["Next"] = json!("Done");
    machine(&json!({
        "StartAt": "P",
        "States": { "P": state, "Done": { "Type": "Succeed" } }
    }))
}

#[tokio::test]
async fn pass_without_fields_passes_its_input_through() {
    let m = single_pass(json!({}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!({"a": 1})));
}

#[tokio::test]
async fn pass_result_is_placed_at_result_path() {
    let m = single_pass(json!({"Result": {"x": 1}, "ResultPath": "$.r.s"}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!({"a": 1, "r": {"s": {"x": 1}}})));
}

#[tokio::test]
async fn pass_result_replaces_the_input_with_the_default_result_path() {
    let m = single_pass(json!({"Result": "fixed"}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!("fixed")));
}

#[tokio::test]
async fn pass_parameters_build_the_result_from_input_and_context() {
    let m = single_pass(json!({
        "InputPath": "$.order",
        "Parameters": {
            "id.$": "$.id",
            "state.$": "$$.State.Name",
            "execution.$": "$$.Execution.Name",
            "tags.$": "States.Array($.id, 'new')",
            "static": {"nested": true}
        },
        "ResultPath": "$.built"
    }));
    let out = step_with(
        &m,
        "P",
        json!({"order": {"id": "o-7"}}),
        &ScriptedInvoker::new(),
    )
    .await;
    assert_eq!(
        out,
        next(
            "Done",
            json!({
                "order": {"id": "o-7"},
                "built": {
                    "id": "o-7",
                    "state": "P",
                    "execution": "order-42",
                    "tags": ["o-7", "new"],
                    "static": {"nested": true}
                }
            })
        )
    );
}

#[tokio::test]
async fn pass_result_wins_over_parameters() {
    let m = single_pass(json!({"Parameters": {"a.$": "$.a"}, "Result": 5, "ResultPath": "$.r"}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!({"a": 1, "r": 5})));
}

#[tokio::test]
async fn result_path_null_discards_the_result_and_keeps_the_input() {
    let m = single_pass(json!({"Result": {"x": 1}, "ResultPath": null}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!({"a": 1})));
}

#[tokio::test]
async fn input_path_and_output_path_null_give_an_empty_object() {
    let m = single_pass(json!({"InputPath": null}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!({})));

    let m = single_pass(json!({"Result": 1, "ResultPath": "$.r", "OutputPath": null}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!({})));
}

#[tokio::test]
async fn output_path_selects_part_of_the_combined_output() {
    let m = single_pass(
        json!({"Result": {"x": [7, 8]}, "ResultPath": "$.r", "OutputPath": "$.r.x[1]"}),
    );
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(out, next("Done", json!(8)));
}

#[tokio::test]
async fn input_path_that_selects_nothing_fails_with_states_runtime() {
    let m = single_pass(json!({"InputPath": "$.missing"}));
    let out = step_with(&m, "P", json!({"a": 1}), &ScriptedInvoker::new()).await;
    assert_eq!(error_of(&out), Some("States.Runtime"));
}

#[tokio::test]
async fn result_path_into_a_scalar_fails_with_result_path_match_failure() {
    let m = single_pass(json!({"Result": 1, "ResultPath": "$.a.b"}));
    let out = step_with(&m, "P", json!({"a": "text"}), &ScriptedInvoker::new()).await;
    assert_eq!(error_of(&out), Some("States.ResultPathMatchFailure"));
}

#[tokio::test]
async fn pass_with_end_succeeds_with_its_output() {
    let m = machine(&json!({
        "StartAt": "P",
        "States": { "P": { "Type": "Pass", "Result": {"done": true}, "End": true } }
    }));
    let out = step_with(&m, "P", json!({}), &ScriptedInvoker::new()).await;
    assert_eq!(
        out,
        order_workflow::Transition::Succeeded {
            output: json!({"done": true})
        }
    );
}
