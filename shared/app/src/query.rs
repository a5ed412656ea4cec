//! Queries: GET /orders/{id}, its events, GET /inventory/{productId}.

use std::future::Future;

use order_domain::events::{DecodeError, OrderEvent, decode_order};
use order_domain::ports::{EventStore, KeyStore, PortError, StoreError};
use order_domain::{OrderId, ProductId, RecordedEvent};
use order_read_models::{InventoryView, OrderView};
use serde_json::Value;

use crate::vault::{self, VaultError};

/// Reads of the projected read models.
pub trait ReadModels: Send + Sync + 'static {
    fn get_order(
        &self,
        id: OrderId,
    ) -> impl Future<Output = Result<Option<OrderView>, PortError>> + Send;
    fn get_inventory(
        &self,
        id: &ProductId,
    ) -> impl Future<Output = Result<Option<InventoryView>, PortError>> + Send;

    /// Whether the product is in the inventory view. Products are never removed, so an
    /// adapter may remember a yes.
    fn product_exists(
        &self,
        id: &ProductId,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        async move { Ok(self.get_inventory(id).await?.is_some()) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The order's status view. If the projection has not seen the order yet (it lags the log by
/// milliseconds), the order's own stream is folded instead, so an id just handed out never 404s.
pub async fn get_order<S: EventStore, R: ReadModels>(
    store: &S,
    reads: &R,
    id: OrderId,
) -> Result<Option<OrderView>, QueryError> {
    if let Some(view) = reads.get_order(id).await? {
        return Ok(Some(view));
    }
    let history = store.read_stream(&id.stream(), 0).await?;
    Ok(OrderView::from_order_stream(&history)?)
}

/// The order's events in version order (empty for an unknown order).
pub async fn get_order_events<S: EventStore>(
    store: &S,
    id: OrderId,
) -> Result<Vec<RecordedEvent>, QueryError> {
    Ok(store.read_stream(&id.stream(), 0).await?)
}

/// What an event's data shows of a personal field that does not decrypt (tampering).
pub const UNREADABLE: &str = "[unreadable]";

/// One event of an order's history as it may be shown: the stored record, and its data with
/// the personal field replaced by the masked email (or [`ERASED`](order_domain::personal::ERASED)
/// once the customer is forgotten). The payment token is never shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownEvent {
    pub record: RecordedEvent,
    pub data: Value,
}

/// The order's history for display (empty for an unknown order); see [`ShownEvent`].
pub async fn order_history<S: EventStore, K: KeyStore>(
    store: &S,
    keys: &K,
    id: OrderId,
) -> Result<Vec<ShownEvent>, QueryError> {
    let records = store.read_stream(&id.stream(), 0).await?;
    let mut shown = Vec::with_capacity(records.len());
    for record in records {
        let mut data: Value = serde_json::from_str(&record.payload).unwrap_or(Value::Null);
        if record.event_type == "OrderPlaced"
            && let Value::Object(fields) = &mut data
        {
            fields.remove("personal");
            fields.remove("email");
            fields.remove("paymentToken");
            let email = match decode_order(&record)? {
                OrderEvent::OrderPlaced(p) => {
                    match vault::open(keys, &p.customer_id, id, &p.personal).await {
                        Ok(opened) => opened.masked_email(),
                        Err(VaultError::Port(e)) => return Err(e.into()),
                        Err(VaultError::Corrupt(_)) => {
                            tracing::error!("an OrderPlaced personal field does not decrypt");
                            UNREADABLE.to_owned()
                        }
                    }
                }
                _ => UNREADABLE.to_owned(),
            };
            fields.insert("email".into(), Value::String(email));
        }
        shown.push(ShownEvent { record, data });
    }
    Ok(shown)
}
