//! ValidateOrder: products exist, enough stock right now, prices and total.

use std::collections::BTreeMap;

use order_domain::order::ValidateOutcome;
use order_domain::ports::EventStore;
use order_domain::product::ProductState;
use serde_json::{Value, json};

use super::{TaskError, TaskInput, error_type};
use crate::stream::{execute, load};

#[tracing::instrument(skip_all, fields(order_id = %input.order_id))]
pub async fn validate_order<S: EventStore>(
    store: &S,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    let (order, _) = load(store, id).await?;
    let placed = order
        .placed
        .as_ref()
        .ok_or_else(|| TaskError::new(error_type::ORDER_NOT_READY, "order has not been placed"))?;
    let streams: Vec<_> = placed.items.iter().map(|l| l.product_id.stream()).collect();
    let heads = store.read_heads(&streams).await?;
    let mut products = BTreeMap::new();
    for head in heads.iter().flatten() {
        let p = ProductState::from_head(head)
            .map_err(|e| TaskError::new(error_type::CORRUPT_LOG, e.to_string()))?;
        products.insert(p.id.clone(), p);
    }
    match execute(store, id, |o| o.validate(&products)).await? {
        ValidateOutcome::Validated { total } => {
            Ok(json!({ "status": "VALIDATED", "total": total }))
        }
        ValidateOutcome::Rejected { code, message } => Err(TaskError::new(
            error_type::ORDER_REJECTED,
            format!("{code}: {message}"),
        )),
    }
}
