//! `order-status-projector`: Order-status projector: the order-events stream → OrderStatus table (partial batch failures).
//! The logic is `order_lambda`'s; this binary only wires it to AWS.

#![recursion_limit = "256"] // lambda_runtime and the SDK nest futures deeply

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_lambda::wiring::projector_main(order_lambda::wiring::View::OrderStatus).await
}
