//! `order-update-handler`: OrderUpdateHandlerLambda: OrderUpdateRule events (OrderPlaced, OrderCancelled, OrderShipped, RefundIssued) → the customer's emails through OrderAlertsTopic.
//! The logic is `order_lambda`'s; this binary only wires it to AWS.

#![recursion_limit = "256"] // lambda_runtime and the SDK nest futures deeply

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_lambda::wiring::order_update_handler_main().await
}
