//! The project's refund definition (`refund-processing.asl.json`, which Step Functions and the
//! local runner both run), path by path, with its tasks scripted: what each answer of
//! ProcessRefund and RefundFailed leads to.

use std::collections::BTreeMap;

use order_workflow::{StateMachine, Transition, run};
use serde_json::{Value, json};

use crate::support::{Reply, ScriptedInvoker, ctx, instant};

const LAMBDA: &str = "arn:aws:states:::lambda:invoke";
const DEFINITION: &str = include_str!("../../refund-processing.asl.json");

fn machine() -> StateMachine {
    let subs = BTreeMap::from([
        (
            "ProcessRefundFunctionArn".to_owned(),
            "process-refund".to_owned(),
        ),
        (
            "RefundFailedFunctionArn".to_owned(),
            "refund-failed".to_owned(),
        ),
    ]);
    StateMachine::from_json(DEFINITION, &subs).expect("the refund definition parses")
}

fn answer(status: &str) -> Reply {
    Reply::Ok(json!({ "StatusCode": 200, "Payload": { "status": status, "refundId": "o-1-R1" } }))
}

/// Runs the definition on refund `o-1-R1`: its end, the states visited, the functions called
/// with their payloads.
async fn run_refund(invoker: &ScriptedInvoker) -> (Transition, Vec<String>, Vec<(String, Value)>) {
    let mut visited = Vec::new();
    let end = run(
        &machine(),
        json!({ "orderId": "o-1", "refundId": "o-1-R1" }),
        &ctx(),
        invoker,
        &instant(),
        |state, _| visited.push(state.to_owned()),
    )
    .await;
    let calls = invoker
        .inputs()
        .into_iter()
        .map(|i| {
            (
                i["FunctionName"].as_str().unwrap_or_default().to_owned(),
                i["Payload"].clone(),
            )
        })
        .collect();
    (end, visited, calls)
}

fn error_of(end: &Transition) -> &str {
    match end {
        Transition::Failed { error, .. } => error,
        other => panic!("not failed: {other:?}"),
    }
}

#[tokio::test]
async fn a_refund_the_gateway_makes_at_once_succeeds_in_two_states() {
    let invoker = ScriptedInvoker::new().on(LAMBDA, [answer("ISSUED")]);
    let (end, visited, calls) = run_refund(&invoker).await;
    assert!(matches!(end, Transition::Succeeded { .. }), "{end:?}");
    assert_eq!(visited, ["ProcessRefund", "RefundIssued"]);
    assert_eq!(
        calls,
        [(
            "process-refund".to_owned(),
            json!({ "orderId": "o-1", "refundId": "o-1-R1", "attempt": 0 })
        )]
    );
}

/// Three refusals are retried (each attempt told its retry count, which the gateway's refund
/// key does not change); the fourth answer is the refund.
#[tokio::test]
async fn the_gateway_refusing_three_times_is_retried_by_process_refund() {
    let invoker = ScriptedInvoker::new().on(
        LAMBDA,
        [
            Reply::Fail("PaymentGatewayUnavailable"),
            Reply::Fail("PaymentGatewayUnavailable"),
            Reply::Fail("PaymentGatewayUnavailable"),
            answer("ISSUED"),
        ],
    );
    let (end, visited, calls) = run_refund(&invoker).await;
    assert!(matches!(end, Transition::Succeeded { .. }), "{end:?}");
    assert_eq!(visited, ["ProcessRefund", "RefundIssued"]);
    let attempts: Vec<_> = calls.iter().map(|(_, p)| p["attempt"].clone()).collect();
    assert_eq!(attempts, [json!(0), json!(1), json!(2), json!(3)]);
}

/// When the retries run out, RefundFailed records the refund as failed (it gets the caught
/// error) and the execution fails as RefundNotIssued, which pages a person.
#[tokio::test]
async fn a_refund_the_gateway_never_makes_is_recorded_as_failed_and_fails_the_execution() {
    let invoker = ScriptedInvoker::new().on(
        LAMBDA,
        [
            Reply::Fail("PaymentGatewayUnavailable"),
            Reply::Fail("PaymentGatewayUnavailable"),
            Reply::Fail("PaymentGatewayUnavailable"),
            Reply::Fail("PaymentGatewayUnavailable"),
            answer("FAILED"),
        ],
    );
    let (end, visited, calls) = run_refund(&invoker).await;
    assert_eq!(error_of(&end), "RefundNotIssued");
    assert_eq!(
        visited,
        [
            "ProcessRefund",
            "RefundFailed",
            "RouteSettlement",
            "RefundNotIssued"
        ]
    );
    let (function, payload) = calls.last().unwrap();
    assert_eq!(function, "refund-failed");
    assert_eq!(payload["refundId"], "o-1-R1");
    assert_eq!(payload["error"]["Error"], "PaymentGatewayUnavailable");
}

/// An outcome a retry cannot change is caught at once; RefundFailed finding the refund issued
/// after all (another execution of it got there first) ends the execution as a success.
#[tokio::test]
async fn a_refund_issued_after_all_ends_as_a_success() {
    let invoker =
        ScriptedInvoker::new().on(LAMBDA, [Reply::Fail("OrderNotReady"), answer("ISSUED")]);
    let (end, visited, calls) = run_refund(&invoker).await;
    assert!(matches!(end, Transition::Succeeded { .. }), "{end:?}");
    assert_eq!(
        visited,
        [
            "ProcessRefund",
            "RefundFailed",
            "RouteSettlement",
            "RefundIssued"
        ]
    );
    assert_eq!(calls.len(), 2, "OrderNotReady is not retried");
}

/// A failure that cannot be recorded, through RefundFailed's own retries, fails the execution
/// as RefundProcessingFailed: the refund stays pending in the log.
#[tokio::test]
async fn a_failure_that_cannot_be_recorded_fails_as_refund_processing_failed() {
    let mut replies = vec![Reply::Fail("InvalidTaskInput")];
    replies.extend((0..6).map(|_| Reply::Fail("EventStoreUnavailable")));
    let invoker = ScriptedInvoker::new().on(LAMBDA, replies);
    let (end, visited, calls) = run_refund(&invoker).await;
    assert_eq!(error_of(&end), "RefundProcessingFailed");
    assert_eq!(
        visited,
        ["ProcessRefund", "RefundFailed", "RefundProcessingFailed"]
    );
    assert_eq!(
        calls.len(),
        7,
        "ProcessRefund once, RefundFailed 1 + 5 retries"
    );
}
