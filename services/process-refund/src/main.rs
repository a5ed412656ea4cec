//! `process-refund`: ProcessRefundLambda: the ProcessRefund task (refund through the gateway,
//! append RefundIssued) of RefundProcessingStateMachine.
//! The logic is `order_lambda`'s; this binary only wires it to AWS.

#![recursion_limit = "256"] // lambda_runtime and the SDK nest futures deeply

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_lambda::wiring::task_main(order_lambda::task::TaskFunction::ProcessRefund).await
}
