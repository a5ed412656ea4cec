//! ValidateOrder: products exist, enough stock right now, prices and total.

use std::collections::BTreeMap;

use order_domain::order::{Order, OrderCommand, OrderError, ValidateOutcome};
use order_domain::ports::EventStore;
use order_domain::product::ProductState;
use order_domain::{OrderId, RecordedEvent};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::stream::{execute_loaded, load};
use crate::trace::{Step, order_trace, step_span};
use tracing::Instrument;

#[tracing::instrument(skip_all, fields(order_id = %input.order_id))]
pub async fn validate_order<S: EventStore>(
    store: &S,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    let loaded = load(store, id).await?;
    if let Some(outcome) = loaded.0.state.validation() {
        return answer(outcome);
    }
    let span = step_span(Step::Validate, order_trace(&loaded.1));
    validate(store, id, loaded).instrument(span).await
}

/// Validates a loaded order that is not validated yet.
async fn validate<S: EventStore>(
    store: &S,
    id: OrderId,
    loaded: (Order, Vec<RecordedEvent>),
) -> Result<Value, TaskError> {
    let placed = loaded.0.state.placed().ok_or(OrderError::NotPlaced)?;
    let streams: Vec<_> = placed.items.iter().map(|l| l.product_id.stream()).collect();
    let heads = store.read_heads(&streams).await?;
    let mut products = BTreeMap::new();
    for head in heads.iter().flatten() {
        let p =
            ProductState::from_head(head).map_err(|e| TaskError::CorruptEvent(e.to_string()))?;
        products.insert(p.id.clone(), p);
    }
    let state = execute_loaded(store, id, &OrderCommand::Validate { products }, loaded).await?;
    answer(
        state
            .validation()
            .ok_or_else(|| not_ready("validation", &state))?,
    )
}

fn answer(outcome: ValidateOutcome) -> Result<Value, TaskError> {
    match outcome {
        ValidateOutcome::Validated { total } => {
            Ok(json!({ "status": "VALIDATED", "total": total }))
        }
        ValidateOutcome::Rejected { code, message } => {
            Err(TaskError::OrderRejected(format!("{code}: {message}")))
        }
    }
}
