//! What the at-most-once tests share: counts of the effects in the log (the gateway that counts
//! charges as a real one would, one per idempotency key, is testkit's `RecordingGateway`).

use std::collections::HashMap;

use order_domain::events::{DomainEvent, decode};
use order_domain::ports::EventStore;
use order_domain::{OrderId, ProductEvent, ProductId};

/// How many events of each type the order's stream holds.
pub async fn order_event_counts<S: EventStore>(
    store: &S,
    order: OrderId,
) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for e in store.read_stream(&order.stream(), 0).await.unwrap() {
        *counts.entry(e.event_type.to_string()).or_default() += 1;
    }
    counts
}

/// How many StockReserved events `product`'s stream holds for `order`.
pub async fn reservations<S: EventStore>(store: &S, product: &str, order: OrderId) -> usize {
    let product = ProductId::parse(product).unwrap();
    store
        .read_stream(&product.stream(), 0)
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                decode(e),
                Ok(DomainEvent::Product(ProductEvent::StockReserved(r))) if r.order_id == order
            )
        })
        .count()
}

/// The order's terminal event as the log holds it (exactly one, asserted).
pub async fn terminal_event<S: EventStore>(
    store: &S,
    order: OrderId,
) -> order_domain::RecordedEvent {
    let terminal: Vec<_> = store
        .read_stream(&order.stream(), 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            matches!(
                decode(e),
                Ok(DomainEvent::Order(ref o)) if o.is_terminal()
            )
        })
        .collect();
    assert_eq!(terminal.len(), 1, "one terminal event for {order}");
    terminal.into_iter().next().unwrap()
}
