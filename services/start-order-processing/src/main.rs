//! `start-order-processing`: StartOrderProcessingLambda: OrdersQueue batches → one Step Functions execution per order (partial batch failures).
//! The logic is `order_lambda`'s; this binary only wires it to AWS.

#![recursion_limit = "256"] // lambda_runtime and the SDK nest futures deeply

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_lambda::wiring::start_order_processing_main().await
}
