use std::collections::BTreeMap;

use order_workflow::{StateMachine, Transition, run};
use serde_json::json;

use crate::support::{Reply, ScriptedInvoker, ctx, instant};

const LAMBDA: &str = "arn:aws:states:::lambda:invoke";
const SNS: &str = "arn:aws:states:::sns:publish";

const ORDER_MACHINE: &str = r#"{
  "StartAt": "Validate",
  "States": {
    "Validate": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": { "FunctionName": "${ValidateFn}", "Payload.$": "$" },
      "ResultSelector": { "valid.$": "$.Payload.valid" },
      "ResultPath": "$.validation",
      "Next": "IsValid"
    },
    "IsValid": {
      "Type": "Choice",
      "Choices": [{ "Variable": "$.validation.valid", "BooleanEquals": true, "Next": "Charge" }],
      "Default": "Rejected"
    },
    "Charge": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": { "FunctionName": "${ChargeFn}", "Payload": { "orderId.$": "$.orderId", "amount.$": "$.total" } },
      "ResultSelector": { "receipt.$": "$.Payload.receipt" },
      "ResultPath": "$.payment",
      "Retry": [{ "ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 2 }],
      "Catch": [{ "ErrorEquals": ["PaymentDeclined"], "ResultPath": "$.error", "Next": "PaymentFailed" }],
      "TimeoutSeconds": 30,
      "Next": "Pause"
    },
    "Pause": { "Type": "Wait", "Seconds": 5, "Next": "Notify" },
    "Notify": {
      "Type": "Task",
      "Resource": "arn:aws:states:::sns:publish",
      "Parameters": {
        "TopicArn": "${TopicArn}",
        "Message.$": "States.Format('order {} paid: {}', $.orderId, $.payment.receipt)"
      },
      "ResultPath": null,
      "Next": "Done"
    },
    "Done": { "Type": "Succeed", "OutputPath": "$.payment" },
    "Rejected": { "Type": "Fail", "Error": "OrderInvalid", "Cause": "validation failed" },
    "PaymentFailed": { "Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause" }
  }
}"#;

fn order_machine() -> StateMachine {
    let subs = BTreeMap::from([
        ("ValidateFn".to_owned(), "validate".to_owned()),
        ("ChargeFn".to_owned(), "charge".to_owned()),
        ("TopicArn".to_owned(), "arn:aws:sns:local:orders".to_owned()),
    ]);
    StateMachine::from_json(ORDER_MACHINE, &subs).expect("valid order machine")
}

async fn run_order(invoker: &ScriptedInvoker) -> (Transition, Vec<String>) {
    let mut visited = Vec::new();
    let end = run(
        &order_machine(),
        json!({"orderId": "o-1", "total": 42}),
        &ctx(),
        invoker,
        &instant(),
        |state, _| visited.push(state.to_owned()),
    )
    .await;
    (end, visited)
}

#[tokio::test]
async fn a_small_order_machine_runs_to_completion_with_run() {
    let invoker = ScriptedInvoker::new()
        .on(
            LAMBDA,
            [
                Reply::Ok(json!({"StatusCode": 200, "Payload": {"valid": true}})),
                Reply::Fail("Lambda.TooManyRequestsException"),
                Reply::Ok(json!({"StatusCode": 200, "Payload": {"receipt": "r-9"}})),
            ],
        )
        .on(SNS, [Reply::Ok(json!({"MessageId": "m-1"}))]);
    let (end, visited) = run_order(&invoker).await;
    assert_eq!(
        end,
        Transition::Succeeded {
            output: json!({"receipt": "r-9"})
        }
    );
    assert_eq!(
        visited,
        ["Validate", "IsValid", "Charge", "Pause", "Notify", "Done"]
    );
    let calls = invoker.calls();
    assert_eq!(calls.len(), 4, "validate, charge twice, notify");
    assert_eq!(
        calls[1].1,
        json!({"FunctionName": "charge", "Payload": {"orderId": "o-1", "amount": 42}})
    );
    assert_eq!(
        calls[3],
        (
            SNS.to_owned(),
            json!({"TopicArn": "arn:aws:sns:local:orders", "Message": "order o-1 paid: r-9"})
        )
    );
}

#[tokio::test]
async fn a_declined_payment_is_caught_and_ends_in_a_fail_state() {
    let invoker = ScriptedInvoker::new().on(
        LAMBDA,
        [
            Reply::Ok(json!({"Payload": {"valid": true}})),
            Reply::Fail("PaymentDeclined"),
        ],
    );
    let (end, visited) = run_order(&invoker).await;
    assert_eq!(
        end,
        Transition::Failed {
            error: "PaymentDeclined".to_owned(),
            cause: format!("PaymentDeclined from {LAMBDA}")
        }
    );
    assert_eq!(visited, ["Validate", "IsValid", "Charge", "PaymentFailed"]);
}

#[tokio::test]
async fn an_invalid_order_takes_the_default_branch() {
    let invoker =
        ScriptedInvoker::new().on(LAMBDA, [Reply::Ok(json!({"Payload": {"valid": false}}))]);
    let (end, visited) = run_order(&invoker).await;
    assert_eq!(
        end,
        Transition::Failed {
            error: "OrderInvalid".to_owned(),
            cause: "validation failed".to_owned()
        }
    );
    assert_eq!(visited, ["Validate", "IsValid", "Rejected"]);
}

#[test]
fn step_and_run_futures_are_send_so_callers_can_spawn_them() {
    fn assert_send<T: Send>(_: &T) {}
    let machine = order_machine();
    let invoker = ScriptedInvoker::new();
    let (ctx, opts) = (ctx(), instant());
    let step = order_workflow::step(&machine, "Validate", json!({}), &ctx, &invoker, &opts);
    assert_send(&step);
    let run = run(&machine, json!({}), &ctx, &invoker, &opts, |_, _| {});
    assert_send(&run);
}
