//! What UpdateInventory and ProcessRefund share: deciding an order's command together with the
//! heads of its products' streams, inside one `decide_and_append`, and appending the order's
//! events and the products' in one atomic write.
//!
//! The order is the one the task loaded; its head is not read again with the products'. The
//! atomic write carries the order's events (or, with none, a guard) at the version it was
//! loaded at, so if the order has moved since, the append conflicts and the task reloads it.

use std::collections::BTreeMap;

use order_domain::events::DecodeError;
use order_domain::order::{Order, OrderError, ProductDecision};
use order_domain::ports::{DecideError, StoreError};
use order_domain::product::ProductState;
use order_domain::{EventMeta, OrderEvent, OrderId, ProductId, RecordedEvent, StreamWrite};

use super::TaskError;
use crate::stream::seal;

/// Why a decision on the heads wrote nothing.
pub(super) enum Refusal {
    Order(OrderError),
    Corrupt(DecodeError),
}

/// The products as their heads describe them.
pub(super) fn products_at(
    heads: &[Option<RecordedEvent>],
) -> Result<BTreeMap<ProductId, ProductState>, Refusal> {
    let mut products = BTreeMap::new();
    for head in heads.iter().flatten() {
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
        events,
        meta,
    )];
    for p in products {
        writes.push(seal(
            &p.product.id.stream(),
            p.product.version,
            &p.product.head_hash,
            [p.event],
            meta,
        ));
    }
    writes
}

/// What a refused `decide_and_append` means for the task: `None` to decide again on a fresh
/// load (a conflict: the order moved since it was loaded, or the products kept moving), the
/// task's error otherwise.
pub(super) fn refused(e: DecideError<Refusal>) -> Option<TaskError> {
    match e {
        DecideError::Store(StoreError::Conflict { .. }) => None,
        DecideError::Refused(Refusal::Order(e)) => Some(e.into()),
        DecideError::Refused(Refusal::Corrupt(e)) => Some(TaskError::CorruptEvent(e.to_string())),
        DecideError::Store(e) => Some(e.into()),
    }
}
