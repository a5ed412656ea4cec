//! UpdateInventory: take stock from every product of the order in one atomic append together
//! with the order's InventoryReserved and OrderCompleted, or record OutOfStock and take nothing.
//!
//! The decision is made against the product streams' heads (strongly consistent snapshots) and
//! guarded by the conditional append: stock can never go below 0, whatever runs concurrently.

use std::collections::BTreeMap;

use order_domain::events::DecodeError;
use order_domain::order::{Order, OrderCommand, OrderError, ReserveOutcome, evolve, take_stock};
use order_domain::ports::{DecideError, EventStore};
use order_domain::product::ProductState;
use order_domain::{OrderEvent, OrderId, RecordedEvent, StreamWrite, Timestamp};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::metrics::Before;
use crate::stream::{Decided, MAX_CONFLICT_RETRIES, load, meta_for, seal};

enum Refusal {
    /// The order's stream moved since it was loaded: reload and decide again.
    StaleOrder,
    Order(OrderError),
    Corrupt(DecodeError),
}

#[tracing::instrument(skip_all, fields(order_id = %input.order_id))]
pub async fn update_inventory<S: EventStore>(
    store: &S,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    for _ in 0..=MAX_CONFLICT_RETRIES {
        let (order, history) = load(store, id).await?;
        if let Some(outcome) = order.state.reservation() {
            return answer(outcome);
        }
        let Some(priced) = order.state.priced() else {
            return Err(not_ready("inventory", &order.state));
        };
        let mut streams = vec![id.stream()];
        streams.extend(priced.validated.lines.iter().map(|l| l.product_id.stream()));
        let before = Before::of(&history);
        let result = store
            .decide_and_append(streams, move |heads| decide(id, &order, &history, heads))
            .await;
        match result {
            Ok((state, events)) => {
                crate::metrics::appended(&events, before, Timestamp::now());
                let outcome = state.reservation();
                return answer(outcome.ok_or_else(|| not_ready("inventory", &state))?);
            }
            Err(DecideError::Refused(Refusal::StaleOrder)) => {}
            Err(DecideError::Refused(Refusal::Order(e))) => return Err(e.into()),
            Err(DecideError::Refused(Refusal::Corrupt(e))) => {
                return Err(TaskError::CorruptEvent(e.to_string()));
            }
            Err(DecideError::Store(e)) => return Err(e.into()),
        }
    }
    Err(TaskError::ConcurrentModification(
        "the order kept changing while stock was being reserved".to_owned(),
    ))
}

/// Decides the reservation on the heads read in the transaction: the order's events and the
/// products' in one write, and the order's state after it.
fn decide(
    id: OrderId,
    order: &Order,
    history: &[RecordedEvent],
    heads: &[Option<RecordedEvent>],
) -> Result<Decided, Refusal> {
    let (order_head, product_heads) = heads.split_first().ok_or(Refusal::StaleOrder)?;
    if order_head.as_ref().map_or(0, |h| h.version) != order.version {
        return Err(Refusal::StaleOrder);
    }
    let mut products = BTreeMap::new();
    for head in product_heads.iter().flatten() {
        let p = ProductState::from_head(head).map_err(Refusal::Corrupt)?;
        products.insert(p.id.clone(), p);
    }
    let reserve = OrderCommand::Reserve {
        products: products.clone(),
    };
    let events = order.decide(&reserve).map_err(Refusal::Order)?;
    let taken = take_stock(id, &events, &products).map_err(Refusal::Order)?;
    let meta = meta_for(id, history);
    let mut writes = vec![seal(
        &id.stream(),
        order.version,
        &order.head_hash,
        events.iter().map(OrderEvent::encode),
        &meta,
    )];
    if taken.is_empty() {
        // OutOfStock: take nothing, but only if the products are still as read, so a restock
        // that raced the decision makes it decide again instead of turning the order away.
        for p in products.values() {
            writes.push(StreamWrite {
                stream_id: p.id.stream(),
                expected_version: p.version,
                events: vec![],
            });
        }
    }
    for t in taken {
        writes.push(seal(
            &t.product.id.stream(),
            t.product.version,
            &t.product.head_hash,
            [t.event.encode()],
            &meta,
        ));
    }
    let state = events.iter().fold(order.state.clone(), evolve);
    Ok((writes, (state, events)))
}

fn answer(outcome: ReserveOutcome) -> Result<Value, TaskError> {
    match outcome {
        ReserveOutcome::Reserved { total } => Ok(json!({ "status": "COMPLETED", "total": total })),
        ReserveOutcome::OutOfStock {
            product_id,
            requested,
            available,
        } => Err(TaskError::OutOfStock(format!(
            "product {product_id}: {requested} requested, {available} available"
        ))),
    }
}
