//! Queries: GET /orders/{id}, its events, GET /inventory/{productId}.

use std::future::Future;

use order_domain::events::DecodeError;
use order_domain::ports::{EventStore, PortError, StoreError};
use order_domain::{OrderId, ProductId, RecordedEvent};
use order_read_models::{InventoryView, OrderView};

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
