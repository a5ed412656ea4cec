//! UpdateInventory: take stock from every product of the order in one atomic append together
//! with the order's InventoryReserved and OrderCompleted, or record OutOfStock and take nothing.
//!
//! The decision is made against the product streams' heads (strongly consistent snapshots) and
//! guarded by the conditional append: stock can never go below 0, whatever runs concurrently.

use std::collections::BTreeMap;

use order_domain::events::DecodeError;
use order_domain::order::{Order, OrderError, ReserveOutcome};
use order_domain::ports::{DecideError, EventStore};
use order_domain::product::ProductState;
use order_domain::{OrderEvent, OrderId, RecordedEvent, StreamWrite};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, error_type};
use crate::stream::{MAX_CONFLICT_RETRIES, load, meta_for, seal};

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
        if order.completed.is_some() || order.out_of_stock.is_some() {
            return answer(order.reserve(&BTreeMap::new())?.0.outcome);
        }
        let Some(validated) = order.validated.clone() else {
            return Err(OrderError::NotReady {
                step: "inventory",
                status: order.status(),
            }
            .into());
        };
        let mut streams = vec![id.stream()];
        streams.extend(validated.lines.iter().map(|l| l.product_id.stream()));
        let result = store
            .decide_and_append(streams, move |heads| decide(id, &order, &history, heads))
            .await;
        match result {
            Ok(outcome) => return answer(outcome),
            Err(DecideError::Refused(Refusal::StaleOrder)) => {}
            Err(DecideError::Refused(Refusal::Order(e))) => return Err(e.into()),
            Err(DecideError::Refused(Refusal::Corrupt(e))) => {
                return Err(TaskError::new(error_type::CORRUPT_LOG, e.to_string()));
            }
            Err(DecideError::Store(e)) => return Err(e.into()),
        }
    }
    Err(TaskError::new(
        error_type::CONCURRENT_MODIFICATION,
        "the order kept changing while stock was being reserved",
    ))
}

fn decide(
    id: OrderId,
    order: &Order,
    history: &[RecordedEvent],
    heads: &[Option<RecordedEvent>],
) -> Result<(Vec<StreamWrite>, ReserveOutcome), Refusal> {
    let (order_head, product_heads) = heads.split_first().ok_or(Refusal::StaleOrder)?;
    if order_head.as_ref().map_or(0, |h| h.version) != order.version {
        return Err(Refusal::StaleOrder);
    }
    let mut products = BTreeMap::new();
    for head in product_heads.iter().flatten() {
        let p = ProductState::from_head(head).map_err(Refusal::Corrupt)?;
        products.insert(p.id.clone(), p);
    }
    let (decision, taken) = order.reserve(&products).map_err(Refusal::Order)?;
    let meta = meta_for(id, history);
    let mut writes = vec![seal(
        &id.stream(),
        order.version,
        &order.head_hash,
        decision.events.iter().map(OrderEvent::encode),
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
    Ok((writes, decision.outcome))
}

fn answer(outcome: ReserveOutcome) -> Result<Value, TaskError> {
    match outcome {
        ReserveOutcome::Reserved { total } => Ok(json!({ "status": "COMPLETED", "total": total })),
        ReserveOutcome::OutOfStock {
            product_id,
            requested,
            available,
        } => Err(TaskError::new(
            error_type::OUT_OF_STOCK,
            format!("product {product_id}: {requested} requested, {available} available"),
        )),
    }
}
