//! What the at-most-once tests share: a gateway that counts charges as a real one would (one
//! per idempotency key), and counts of the effects in the log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use order_app::gateway::SimulatedGateway;
use order_domain::events::{DomainEvent, decode};
use order_domain::order::ChargeResult;
use order_domain::ports::{EventStore, GatewayUnavailable, PaymentGateway};
use order_domain::{Money, OrderId, PaymentToken, ProductEvent, ProductId};

/// The simulated gateway, recording each charge's idempotency key. A real gateway charges once
/// per key, so the number of distinct keys is the number of charges the customer sees.
#[derive(Debug, Clone, Default)]
pub struct CountingGateway {
    charges: Arc<Mutex<HashMap<String, usize>>>,
}

impl CountingGateway {
    /// `(distinct charges, calls)` for `order`.
    pub fn charges_of(&self, order: OrderId) -> (usize, usize) {
        let charges = self.charges.lock().unwrap();
        let calls = charges.get(&order.to_string()).copied().unwrap_or(0);
        (usize::from(calls > 0), calls)
    }

    /// Every idempotency key charged, for "no other key was charged".
    pub fn keys(&self) -> Vec<String> {
        self.charges.lock().unwrap().keys().cloned().collect()
    }
}

impl PaymentGateway for CountingGateway {
    async fn charge(
        &self,
        idempotency_key: &str,
        token: &PaymentToken,
        amount: Money,
        attempt: u32,
    ) -> Result<ChargeResult, GatewayUnavailable> {
        *self
            .charges
            .lock()
            .unwrap()
            .entry(idempotency_key.to_owned())
            .or_default() += 1;
        SimulatedGateway
            .charge(idempotency_key, token, amount, attempt)
            .await
    }

    async fn refund(
        &self,
        idempotency_key: &str,
        payment_id: &str,
        amount: Money,
        attempt: u32,
    ) -> Result<String, GatewayUnavailable> {
        SimulatedGateway
            .refund(idempotency_key, payment_id, amount, attempt)
            .await
    }
}

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
