//! `event-projector`: EventProjectorLambda: the order-events stream's one reader → OrderStatus and Inventory tables, terminal events → EventBridge (partial batch failures).
//! The logic is `order_lambda`'s; this binary only wires it to AWS.

#![recursion_limit = "256"] // lambda_runtime and the SDK nest futures deeply

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_lambda::wiring::event_projector_main().await
}
