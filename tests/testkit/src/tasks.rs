//! Driving an order through the app's task functions by hand, as the state machine would: for
//! tests that need a log with every ending (completed, declined, out of stock) on any store.

use order_app::gateway::SimulatedGateway;
use order_app::tasks::{
    CaughtError, TaskError, TaskInput, order_failed, process_payment, update_inventory,
    validate_order,
};
use order_app::vault::NoKeys;
use order_domain::OrderId;
use order_domain::ports::EventStore;

use crate::events::place;

/// A task's input for `id`, carrying the error a Catch caught (if any).
pub fn input(id: OrderId, error: Option<&TaskError>) -> TaskInput {
    TaskInput {
        order_id: id,
        attempt: 0,
        error: error.map(|e| CaughtError {
            error: e.error_type().to_owned(),
            cause: e.message().to_owned(),
        }),
    }
}

/// The state machine's path by hand: validate, pay, reserve; any failure goes to OrderFailed
/// with the caught error. The orders are placed by [`place`], whose personal data is in the
/// clear form of an old log, so paying opens it without a key store.
pub async fn drive<S: EventStore>(store: &S, id: OrderId) {
    let gateway = SimulatedGateway;
    let result = async {
        validate_order(store, input(id, None)).await?;
        process_payment(store, &gateway, &NoKeys, input(id, None)).await?;
        update_inventory(store, input(id, None)).await
    }
    .await;
    if let Err(e) = result {
        order_failed(store, &gateway, input(id, Some(&e)))
            .await
            .unwrap();
    }
}

/// Two orders for one `product` of which one is left, both validated and paid before either
/// reserves: the first takes it, the second runs out of stock, is refunded and fails.
/// Returns `(winner, out_of_stock)`.
pub async fn race_for_the_last_one<S: EventStore>(store: &S, product: &str) -> (OrderId, OrderId) {
    let a = place(store, &[(product, 1)], "tok_visa").await;
    let b = place(store, &[(product, 1)], "tok_visa").await;
    let gateway = SimulatedGateway;
    for id in [a, b] {
        validate_order(store, input(id, None)).await.unwrap();
    }
    for id in [a, b] {
        process_payment(store, &gateway, &NoKeys, input(id, None))
            .await
            .unwrap();
    }
    update_inventory(store, input(a, None)).await.unwrap();
    let err = update_inventory(store, input(b, None)).await.unwrap_err();
    assert_eq!(err.error_type(), "OutOfStock");
    order_failed(store, &gateway, input(b, Some(&err)))
        .await
        .unwrap();
    (a, b)
}
