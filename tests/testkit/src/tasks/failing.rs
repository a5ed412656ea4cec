//! A paid order failed by one execution (or the sweeper) while another completes it: Express
//! runs an order's execution at least once, so two can hold the same order, one at
//! UpdateInventory and one in OrderFailed after a transient error. The failure is recorded
//! before the refund, so exactly one of them ends the order and the charge is given back only
//! if it failed.

use std::sync::{Arc, Mutex};

use order_app::gateway::SimulatedGateway;
use order_app::tasks::{
    TaskError, fail_at_version, order_failed, process_payment, update_inventory, validate_order,
};
use order_app::vault::NoKeys;
use order_domain::ports::{EventStore, GatewayUnavailable, PaymentGateway};
use order_domain::{Money, OrderId, PaymentToken};

use super::{Raced, input};
use crate::events::place;
use crate::gateway::RecordingGateway;

/// A paid order of two `product`s (seeded with ten), ready for UpdateInventory.
async fn paid<S: EventStore>(store: &S, product: &str) -> OrderId {
    order_app::seed::seed_inventory(store, &[crate::events::seed_product(product, 500, 10)])
        .await
        .unwrap();
    let id = place(store, &[(product, 2)], "tok_visa").await;
    validate_order(store, input(id, None)).await.unwrap();
    process_payment(store, &SimulatedGateway, &NoKeys, input(id, None))
        .await
        .unwrap();
    id
}

async fn types<S: EventStore>(store: &S, id: OrderId) -> Vec<String> {
    let history = store.read_stream(&id.stream(), 0).await.unwrap();
    history.iter().map(|e| e.event_type.to_string()).collect()
}

/// The error the failing execution caught: its UpdateInventory timed out.
fn timed_out() -> TaskError {
    TaskError::StoreUnavailable("UpdateInventory timed out".into())
}

/// The rival completes the order between the OrderFailed step's load and its first write:
/// the step finds the order completed and gives nothing back.
pub async fn a_paid_order_a_rival_completes_first_is_not_refunded<S: EventStore + Clone>(
    store: &crate::Fixture<S>,
) {
    let store = &**store;
    let id = paid(store, "FIRSTWIN").await;
    let gateway = RecordingGateway::default();
    let rival = store.clone();
    let raced = Raced::new(store.clone(), async move {
        update_inventory(&rival, input(id, None)).await.unwrap();
    });
    let ended = order_failed(&raced, &gateway, input(id, Some(&timed_out())))
        .await
        .unwrap();
    assert!(raced.rival_ran());
    assert_eq!(ended["kind"], "completed");
    assert!(
        gateway.refunds().is_empty(),
        "a completed order keeps its payment"
    );
    assert_eq!(
        types(store, id).await,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentCaptured",
            "InventoryReserved",
            "OrderCompleted"
        ]
    );

    // The sweeper's close decides on what it read, and loses the same way.
    let id = paid(store, "SWEPTLATE").await;
    let (order, history) = order_app::stream::load(store, id).await.unwrap();
    let rival = store.clone();
    let raced = Raced::new(store.clone(), async move {
        update_inventory(&rival, input(id, None)).await.unwrap();
    });
    let closed = fail_at_version(&raced, &gateway, id, (&order, &history), "stuck")
        .await
        .unwrap();
    assert!(raced.rival_ran());
    assert_eq!(closed, None, "the execution won");
    assert!(gateway.refunds().is_empty());
    assert_eq!(types(store, id).await.last().unwrap(), "OrderCompleted");
}

/// A gateway whose refund lets a rival execution reach UpdateInventory while it is in flight.
#[derive(Clone)]
struct RivalAtRefund<S> {
    store: S,
    inner: RecordingGateway,
    rival: Arc<Mutex<Vec<Result<serde_json::Value, TaskError>>>>,
}

impl<S: EventStore + Clone> PaymentGateway for RivalAtRefund<S> {
    async fn charge(
        &self,
        key: &str,
        token: &PaymentToken,
        amount: Money,
        attempt: u32,
    ) -> Result<order_domain::order::ChargeResult, GatewayUnavailable> {
        self.inner.charge(key, token, amount, attempt).await
    }

    async fn refund(
        &self,
        key: &str,
        payment_id: &str,
        amount: Money,
        attempt: u32,
    ) -> Result<String, GatewayUnavailable> {
        let id = OrderId::parse(key).unwrap();
        let reserved = update_inventory(&self.store, input(id, None)).await;
        self.rival.lock().unwrap().push(reserved);
        self.inner.refund(key, payment_id, amount, attempt).await
    }
}

/// The failure is recorded first: a rival that reaches UpdateInventory while the refund is
/// in flight is refused (and goes to its own OrderFailed, which finds the order failed and
/// refunds nothing again). No stock is taken for an order whose money went back.
pub async fn a_rival_reserving_after_the_failure_was_recorded_is_refused<S: EventStore + Clone>(
    store: &crate::Fixture<S>,
) {
    let store = &**store;
    let id = paid(store, "LATERIVAL").await;
    let gateway = RivalAtRefund {
        store: store.clone(),
        inner: RecordingGateway::default(),
        rival: Arc::default(),
    };
    let ended = order_failed(store, &gateway, input(id, Some(&timed_out())))
        .await
        .unwrap();
    assert_eq!(
        (&ended["kind"], &ended["reason"], &ended["refunded"]),
        (&"error".into(), &"PROCESSING_ERROR".into(), &true.into())
    );
    let rival = gateway.rival.lock().unwrap().pop().unwrap();
    let refused = rival.expect_err("the failing order cannot be completed");
    assert_eq!(refused.error_type(), "OrderNotReady", "{refused:?}");
    assert_eq!(
        types(store, id).await,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentCaptured",
            "OrderFailing",
            "PaymentRefunded",
            "OrderFailed"
        ]
    );
    let product = order_domain::ProductId::parse("LATERIVAL")
        .unwrap()
        .stream();
    let product_events = store.read_stream(&product, 0).await.unwrap();
    assert_eq!(
        product_events.len(),
        1,
        "no stock taken: {product_events:?}"
    );

    // The rival's own OrderFailed step finds the order failed: no second refund.
    let again = order_failed(store, &gateway.inner, input(id, Some(&refused)))
        .await
        .unwrap();
    assert_eq!(again["reason"], "PROCESSING_ERROR");
    assert_eq!(gateway.inner.refunds().len(), 1);
    let failed = types(store, id).await;
    assert_eq!(failed.iter().filter(|t| *t == "OrderFailed").count(), 1);
}
