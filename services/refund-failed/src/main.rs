//! `refund-failed`: RefundFailedLambda: the RefundFailed task (append RefundFailed once the
//! refund's retries ran out) of RefundProcessingStateMachine.
//! The logic is `order_lambda`'s; this binary only wires it to AWS.

#![recursion_limit = "256"] // lambda_runtime and the SDK nest futures deeply

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_lambda::wiring::task_main(order_lambda::task::TaskFunction::RefundFailed).await
}
