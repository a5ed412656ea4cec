//! `order-sweeper`: OrderSweeperLambda: every minute (OrderSweeperSchedule), re-enqueues orders
//! left PLACED and closes orders whose execution died as FAILED, with their refund.
//! The logic is `order_lambda`'s and `order_app::sweep`'s; this binary only wires it to AWS.

#![recursion_limit = "256"] // lambda_runtime and the SDK nest futures deeply

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_lambda::wiring::order_sweeper_main().await
}
