//! UpdateInventory: take stock from every product of the order in one atomic append together
//! with the order's InventoryReserved and OrderCompleted, or record OutOfStock and take nothing.
//!
//! The decision is made against the product streams' heads (strongly consistent snapshots) and
//! guarded by the conditional append: stock can never go below 0, whatever runs concurrently.

use order_domain::order::{Order, OrderCommand, ReserveOutcome, evolve, take_stock};
use order_domain::ports::EventStore;
use order_domain::{EventMeta, OrderId, RecordedEvent, StreamWrite, Timestamp};
use serde_json::{Value, json};

use super::with_products::{Refusal, products_at, refused, writes};
use super::{TaskError, TaskInput, not_ready};
use crate::metrics::Before;
use crate::stream::{Decided, MAX_CONFLICT_RETRIES, load, meta_for};
use crate::trace::{Step, order_trace, step_span};
use tracing::Instrument;

#[tracing::instrument(skip_all, fields(order_id = %input.order_id))]
pub async fn update_inventory<S: EventStore>(
    store: &S,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    let first = load(store, id).await?;
    if let Some(outcome) = first.0.state.reservation() {
        return answer(outcome);
    }
    let span = step_span(Step::Inventory, order_trace(&first.1));
    reserve(store, id, first).instrument(span).await
}

/// Reserves the stock of an order loaded as `first` (reloaded after a conflict).
async fn reserve<S: EventStore>(
    store: &S,
    id: OrderId,
    first: (Order, Vec<RecordedEvent>),
) -> Result<Value, TaskError> {
    let mut loaded = Some(first);
    for _ in 0..=MAX_CONFLICT_RETRIES {
        let (order, history) = match loaded.take() {
            Some(first) => first,
            None => load(store, id).await?,
        };
        if let Some(outcome) = order.state.reservation() {
            return answer(outcome);
        }
        let Some(priced) = order.state.priced() else {
            return Err(not_ready("inventory", &order.state));
        };
        let streams = priced.validated.lines.iter().map(|l| l.product_id.stream());
        let streams: Vec<_> = streams.collect();
        let before = Before::of(&history);
        let meta = meta_for(id, &history);
        let result = store
            .decide_and_append(streams, move |heads| decide(id, &order, &meta, heads))
            .await;
        match result {
            Ok((state, events)) => {
                crate::metrics::appended(&events, before, Timestamp::now());
                let outcome = state.reservation();
                return answer(outcome.ok_or_else(|| not_ready("inventory", &state))?);
            }
            Err(e) => {
                if let Some(e) = refused(e) {
                    return Err(e);
                }
            }
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
    meta: &EventMeta,
    heads: &[Option<RecordedEvent>],
) -> Result<Decided, Refusal> {
    let products = products_at(heads)?;
    let reserve = OrderCommand::Reserve {
        products: products.clone(),
    };
    let events = order.decide(&reserve).map_err(Refusal::Order)?;
    let taken = take_stock(id, &events, &products).map_err(Refusal::Order)?;
    let nothing_taken = taken.is_empty();
    let mut writes = writes(id, (order, meta), &events, taken);
    if nothing_taken {
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
