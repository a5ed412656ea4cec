use std::time::Duration;

use order_workflow::{RunOptions, Transition, backoff_delay, step};
use serde_json::{Value, json};

use crate::support::{
    Reply, ScriptedInvoker, ctx, error_of, machine, machine_from, next, step_with,
};

const LAMBDA: &str = "arn:aws:states:::lambda:invoke";

fn task_with(retry: &Value, catch: &Value) -> order_workflow::StateMachine {
    machine_from(
        "T",
        json!({
            "T": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Parameters": { "attempt.$": "$$.State.RetryCount" },
                "Retry": retry,
                "Catch": catch,
                "Next": "Done"
            }
        }),
    )
}

#[tokio::test]
async fn retry_absorbs_a_transient_error() {
    let m = task_with(
        &json!([{ "ErrorEquals": ["Transient"], "MaxAttempts": 3 }]),
        &json!([]),
    );
    let invoker = ScriptedInvoker::new().on(
        LAMBDA,
        [
            Reply::Fail("Transient"),
            Reply::Fail("Transient"),
            Reply::Ok(json!("ok")),
        ],
    );
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(out, next("Done", json!("ok")));
    // Three attempts, and each saw how many retries came before it.
    assert_eq!(
        invoker.inputs(),
        vec![
            json!({"attempt": 0}),
            json!({"attempt": 1}),
            json!({"attempt": 2})
        ]
    );
}

#[tokio::test]
async fn max_attempts_exhausted_then_catch() {
    let m = task_with(
        &json!([{ "ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2 }]),
        &json!([{ "ErrorEquals": ["States.ALL"], "Next": "Recover", "ResultPath": "$.failure" }]),
    );
    let invoker = ScriptedInvoker::new().on(
        LAMBDA,
        [
            Reply::Fail("Boom"),
            Reply::Fail("Boom"),
            Reply::Fail("Boom"),
        ],
    );
    let out = step_with(&m, "T", json!({"order": 1}), &invoker).await;
    assert_eq!(invoker.calls().len(), 3, "one attempt plus two retries");
    assert_eq!(
        out,
        next(
            "Recover",
            json!({"order": 1, "failure": {"Error": "Boom", "Cause": format!("Boom from {LAMBDA}")}})
        )
    );
}

#[tokio::test]
async fn max_attempts_zero_never_retries() {
    let m = task_with(
        &json!([{ "ErrorEquals": ["Boom"], "MaxAttempts": 0 }]),
        &json!([]),
    );
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Fail("Boom"), Reply::Ok(json!(1))]);
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(error_of(&out), Some("Boom"));
    assert_eq!(invoker.calls().len(), 1);
}

#[tokio::test]
async fn only_the_first_matching_retrier_applies_and_each_counts_its_own_attempts() {
    let m = task_with(
        &json!([
            { "ErrorEquals": ["A"], "MaxAttempts": 1 },
            { "ErrorEquals": ["States.ALL"], "MaxAttempts": 5 }
        ]),
        &json!([]),
    );
    // A uses the first retrier's only retry, B the second retrier; the next
    // A finds the first retrier exhausted and does not fall through to
    // States.ALL.
    let invoker = ScriptedInvoker::new().on(
        LAMBDA,
        [
            Reply::Fail("A"),
            Reply::Fail("B"),
            Reply::Fail("A"),
            Reply::Ok(json!(1)),
        ],
    );
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(error_of(&out), Some("A"));
    assert_eq!(invoker.calls().len(), 3);
    assert_eq!(
        invoker.inputs()[2],
        json!({"attempt": 2}),
        "RetryCount counts all retries"
    );
}

#[tokio::test]
async fn states_runtime_is_never_retried() {
    let m = machine(&json!({
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA,
                "ResultSelector": { "x.$": "$.missing" },
                "Retry": [{ "ErrorEquals": ["States.ALL"], "MaxAttempts": 5 }],
                "End": true
            }
        }
    }));
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Ok(json!({})), Reply::Ok(json!({}))]);
    let out = step_with(&m, "T", json!({}), &invoker).await;
    assert_eq!(error_of(&out), Some("States.Runtime"));
    assert_eq!(invoker.calls().len(), 1);
}

#[test]
fn backoff_delay_is_interval_times_rate_to_the_retry_number_capped_by_max_delay() {
    assert_eq!(backoff_delay(1, 2.0, None, 0), Duration::from_secs(1));
    assert_eq!(backoff_delay(1, 2.0, None, 1), Duration::from_secs(2));
    assert_eq!(backoff_delay(1, 2.0, None, 4), Duration::from_secs(16));
    assert_eq!(
        backoff_delay(3, 1.5, None, 2),
        Duration::from_secs_f64(6.75)
    );
    assert_eq!(backoff_delay(3, 1.0, None, 9), Duration::from_secs(3));
    assert_eq!(backoff_delay(10, 2.0, Some(15), 1), Duration::from_secs(15));
}

#[tokio::test(start_paused = true)]
async fn retries_wait_the_backoff_delays_scaled_by_interval_scale() {
    let m = task_with(
        &json!([{ "ErrorEquals": ["Transient"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 3 }]),
        &json!([]),
    );
    for (scale, expected) in [(1.0, 2 + 6 + 18), (0.5, 1 + 3 + 9)] {
        let invoker = ScriptedInvoker::new().on(
            LAMBDA,
            [
                Reply::Fail("Transient"),
                Reply::Fail("Transient"),
                Reply::Fail("Transient"),
                Reply::Ok(json!(1)),
            ],
        );
        let started = tokio::time::Instant::now();
        let opts = RunOptions {
            interval_scale: scale,
        };
        let out = step(&m, "T", json!({}), &ctx(), &invoker, &opts).await;
        assert!(matches!(out, Transition::Next { .. }), "{out:?}");
        // Virtual time: the paused clock jumps exactly over each sleep.
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(expected),
            "scale {scale}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn full_jitter_never_waits_longer_than_the_backoff() {
    let m = task_with(
        &json!([{ "ErrorEquals": ["Transient"], "IntervalSeconds": 10, "MaxAttempts": 1, "JitterStrategy": "FULL" }]),
        &json!([]),
    );
    let invoker =
        ScriptedInvoker::new().on(LAMBDA, [Reply::Fail("Transient"), Reply::Ok(json!(1))]);
    let started = tokio::time::Instant::now();
    let out = step(&m, "T", json!({}), &ctx(), &invoker, &RunOptions::default()).await;
    assert!(matches!(out, Transition::Next { .. }), "{out:?}");
    assert!(started.elapsed() <= Duration::from_secs(10));
}

#[test]
fn states_all_must_be_alone_and_in_the_last_retrier() {
    let definition = |retry: Value| {
        json!({
            "StartAt": "T",
            "States": { "T": { "Type": "Task", "Resource": LAMBDA, "Retry": retry, "End": true } }
        })
        .to_string()
    };
    let parse = |retry| {
        order_workflow::StateMachine::from_json(
            &definition(retry),
            &std::collections::BTreeMap::new(),
        )
    };
    assert!(parse(json!([{ "ErrorEquals": ["States.ALL", "Other"] }])).is_err());
    assert!(
        parse(json!([{ "ErrorEquals": ["States.ALL"] }, { "ErrorEquals": ["Other"] }])).is_err()
    );
    assert!(
        parse(json!([{ "ErrorEquals": ["Other"] }, { "ErrorEquals": ["States.ALL"] }])).is_ok()
    );
    assert!(parse(json!([{ "ErrorEquals": [] }])).is_err());
    assert!(parse(json!([{ "ErrorEquals": ["X"], "BackoffRate": 0.5 }])).is_err());
    assert!(parse(json!([{ "ErrorEquals": ["X"], "IntervalSeconds": 0 }])).is_err());
    assert!(parse(json!([{ "ErrorEquals": ["X"], "JitterStrategy": "SOME" }])).is_err());
}

/// A `ResultPath` that cannot be applied fails the attempt after its invocation: the retry and
/// the catcher still start from the state's input as it came in.
#[tokio::test]
async fn a_result_path_failure_is_retried_and_caught_on_the_input_as_it_came() {
    let m = machine_from(
        "T",
        json!({
            "T": {
                "Type": "Task",
                "Resource": LAMBDA,
                "ResultPath": "$.x.y",
                "Retry": [{ "ErrorEquals": ["States.ResultPathMatchFailure"], "MaxAttempts": 1 }],
                "Catch": [{ "ErrorEquals": ["States.ALL"], "Next": "Recover", "ResultPath": "$.failure" }],
                "Next": "Done"
            }
        }),
    );
    let invoker = ScriptedInvoker::new().on(LAMBDA, [Reply::Ok(json!(1)), Reply::Ok(json!(2))]);
    let input = json!({"x": "text", "order": 7});
    let out = step_with(&m, "T", input.clone(), &invoker).await;
    assert_eq!(
        invoker.inputs(),
        vec![input.clone(), input],
        "both attempts saw the input"
    );
    let Transition::Next { state, output } = out else {
        panic!("caught: {out:?}");
    };
    assert_eq!(state, "Recover");
    assert_eq!(output["x"], json!("text"));
    assert_eq!(output["order"], json!(7));
    assert_eq!(
        output["failure"]["Error"],
        json!("States.ResultPathMatchFailure")
    );
}
