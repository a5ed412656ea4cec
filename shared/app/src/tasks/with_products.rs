//! What UpdateInventory and ProcessRefund share: deciding an order's command together with the
//! heads of its products' streams, inside one `decide_and_append`, and appending the order's
//! events and the products' in one atomic write.

use std::collections::BTreeMap;

use order_domain::events::DecodeError;
use order_domain::order::{Order, OrderError, ProductDecision};
use order_domain::ports::DecideError;
use order_domain::product::ProductState;
use order_domain::{EventMeta, OrderEvent, OrderId, ProductId, RecordedEvent, StreamWrite};

use super::TaskError;
use crate::stream::seal;

/// Why a decision on the heads wrote nothing.
pub(super) enum Refusal {
    /// The order's stream moved since it was loaded: reload and decide again.
    StaleOrder,
    Order(OrderError),
    Corrupt(DecodeError),
}

/// The products as their heads describe them, once the order's head (the first of `heads`) is
/// still the version `order` was folded at.
pub(super) fn products_at(
    order: &Order,
    heads: &[Option<RecordedEvent>],
) -> Result<BTreeMap<ProductId, ProductState>, Refusal> {
    let (order_head, product_heads) = heads.split_first().ok_or(Refusal::StaleOrder)?;
    if order_head.as_ref().map_or(0, |h| h.version) != order.version {
        return Err(Refusal::StaleOrder);
    }
    let mut products = BTreeMap::new();
    for head in product_heads.iter().flatten() {
        let p = ProductState::from_head(head).map_err(Refusal::Corrupt)?;
        products.insert(p.id.clone(), p);
    }
    Ok(products)
}

/// The order's `events` after its head, and each product's decided event after its own head,
/// sealed with one metadata (`meta_for` the order, taken in the task's span before the
/// decision, which a store may run on another thread).
pub(super) fn writes(
    id: OrderId,
    (order, meta): (&Order, &EventMeta),
    events: &[OrderEvent],
    products: Vec<ProductDecision>,
) -> Vec<StreamWrite> {
    let mut writes = vec![seal(
        &id.stream(),
        order.version,
        &order.head_hash,
        events.iter().map(OrderEvent::encode),
        meta,
    )];
    for p in products {
        writes.push(seal(
            &p.product.id.stream(),
            p.product.version,
            &p.product.head_hash,
            [p.event.encode()],
            meta,
        ));
    }
    writes
}

/// What a refused `decide_and_append` means for the task: `None` to decide again on a fresh
/// load (the order moved), the task's error otherwise.
pub(super) fn refused(e: DecideError<Refusal>) -> Option<TaskError> {
    match e {
        DecideError::Refused(Refusal::StaleOrder) => None,
        DecideError::Refused(Refusal::Order(e)) => Some(e.into()),
        DecideError::Refused(Refusal::Corrupt(e)) => Some(TaskError::CorruptEvent(e.to_string())),
        DecideError::Store(e) => Some(e.into()),
    }
}
