//! Queries: GET /orders/{id}, its events, GET /orders (a customer's orders, a page at a time),
//! GET /inventory/{productId}.

use std::future::Future;

use order_domain::events::{DecodeError, OrderEvent, decode_order};
use order_domain::order::OrderStatus;
use order_domain::ports::{EventStore, KeyStore, PortError, StoreError};
use order_domain::{CustomerId, OrderId, ProductId, RecordedEvent};
use order_read_models::{CursorError, InventoryView, OrderCursor, OrderPage, OrderView};
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

    /// `customer`'s orders, newest first (placed at, then order id, both descending): at most
    /// `limit` of them (the caller keeps it within 1 to [`MAX_LIMIT`]), strictly after
    /// `after`. The page's `next` is `None` when no order comes after it, so an adapter reads
    /// `limit + 1` rows ([`OrderPage::from_fetched`]).
    ///
    /// A listing may trail the log by as much as the projection does (and, on an eventually
    /// consistent index, a little more): an order just placed can be missing from it for a
    /// moment, while GET /orders/{id} already answers it.
    fn list_orders(
        &self,
        customer: &CustomerId,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> impl Future<Output = Result<OrderPage, PortError>> + Send;

    /// Whether the product is in the inventory view. Products are never removed, so an
    /// adapter may remember a yes.
    fn product_exists(
        &self,
        id: &ProductId,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        async move { Ok(self.get_inventory(id).await?.is_some()) }
    }

    /// How many orders each status has now, from the order status view (the console's
    /// counts). A pass over the whole view (GROUP BY on SQLite, a paginated Scan projecting
    /// only the status on DynamoDB): an operator's occasional question, never a request path
    /// of customers. Like a listing, it trails the log by as much as the projection does.
    fn count_by_status(&self) -> impl Future<Output = Result<StatusCounts, PortError>> + Send;
}

/// Products a read model has found in its inventory view, remembered for the life of the
/// process: products are never removed, so a yes stays true, and validating a POST's lines then
/// needs no read (a `GetItem` per line on DynamoDB, on the request path). A no is never kept: a
/// product added later is found. Bounded by the catalogue (only products that exist get in).
/// Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct KnownProducts(std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>);

impl KnownProducts {
    /// Whether `id` exists: a remembered yes, or else `lookup`'s answer (a yes remembered).
    pub async fn exists(
        &self,
        id: &ProductId,
        lookup: impl Future<Output = Result<bool, PortError>>,
    ) -> Result<bool, PortError> {
        if self.0.read().is_ok_and(|known| known.contains(id.as_str())) {
            return Ok(true);
        }
        let exists = lookup.await?;
        if exists && let Ok(mut known) = self.0.write() {
            known.insert(id.as_str().to_owned());
        }
        Ok(exists)
    }
}

/// Orders per status ([`ReadModels::count_by_status`]); a status without orders counts 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts([u64; OrderStatus::ALL.len()]);

impl StatusCounts {
    fn slot(status: OrderStatus) -> usize {
        OrderStatus::ALL
            .iter()
            .position(|s| *s == status)
            .unwrap_or_default()
    }

    /// Counts `n` more orders of `status`.
    pub fn add(&mut self, status: OrderStatus, n: u64) {
        self.0[Self::slot(status)] += n;
    }

    pub fn get(&self, status: OrderStatus) -> u64 {
        self.0[Self::slot(status)]
    }

    /// Every order counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every status with its count, zeros included, in [`OrderStatus::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (OrderStatus, u64)> + '_ {
        OrderStatus::ALL.into_iter().zip(self.0)
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

/// GET /orders' page size when the request names none.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest page GET /orders serves.
pub const MAX_LIMIT: usize = 100;

/// Why GET /orders could not answer: a refused parameter (see [`ListError::field`]) or the
/// store.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("limit must be between 1 and {MAX_LIMIT}, got {0}")]
    Limit(usize),
    #[error("cursor is not one this service handed out")]
    Cursor(#[source] CursorError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl ListError {
    /// The request parameter at fault (`limit`, `cursor`), for an invalid-field answer;
    /// `None` for a store failure.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Limit(_) => Some("limit"),
            Self::Cursor(_) => Some("cursor"),
            Self::Port(_) => None,
        }
    }
}

/// A page of `customer`'s orders, newest first (GET /orders). `limit` defaults to
/// [`DEFAULT_LIMIT`] and must be 1 to [`MAX_LIMIT`]; `cursor` is a previous page's
/// `next.encode()`. Both are checked before the store is read, so the handler only maps the
/// error.
///
/// # Errors
/// [`ListError::Limit`] or [`ListError::Cursor`] for a refused parameter; [`ListError::Port`]
/// when the store fails.
pub async fn list_orders<R: ReadModels>(
    reads: &R,
    customer: &CustomerId,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<OrderPage, ListError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ListError::Limit(limit));
    }
    let after = cursor
        .map(OrderCursor::decode)
        .transpose()
        .map_err(ListError::Cursor)?;
    Ok(reads.list_orders(customer, limit, after.as_ref()).await?)
}

/// The order's status view. If the projection has not written the order's row yet (it lags
/// the log by milliseconds on the embedded host, by a stream poll on AWS), the answer is the
/// view of its first event alone (PLACED), so an id just handed out never 404s.
///
/// Only the first event, not the whole stream: the row, once it appears, may still be behind
/// the log, and a client polling through that moment would otherwise see the order go back
/// (COMPLETED from the fold, then VALIDATED from the row). Every row the projection writes is
/// at or past the first event's view, and the row itself never goes back, so the statuses a
/// poller sees only move forward.
pub async fn get_order<S: EventStore, R: ReadModels>(
    store: &S,
    reads: &R,
    id: OrderId,
) -> Result<Option<OrderView>, QueryError> {
    if let Some(view) = reads.get_order(id).await? {
        return Ok(Some(view));
    }
    let mut history = store.read_stream(&id.stream(), 0).await?;
    history.truncate(1);
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

/// An order's history (its `records`, from [`get_order_events`]) for display; see
/// [`ShownEvent`]. Only the owner's (or an operator's) request should get this far: it opens
/// the personal field.
pub async fn show_history<K: KeyStore>(
    keys: &K,
    id: OrderId,
    records: Vec<RecordedEvent>,
) -> Result<Vec<ShownEvent>, QueryError> {
    let mut shown = Vec::with_capacity(records.len());
    for record in records {
        let mut data: Value = serde_json::from_str(&record.payload).unwrap_or(Value::Null);
        // OrderPlaced is shown from its decoded (upcast) form and only these fields, so no
        // stored name of the token in any schema (`card`, `paymentToken`, `personal`) can show.
        if record.event_type == "OrderPlaced"
            && let OrderEvent::OrderPlaced(p) = decode_order(&record)?.into_owned()
        {
            let email = match vault::open(keys, &p.customer_id, id, &p.personal).await {
                Ok(opened) => opened.masked_email(),
                Err(VaultError::Port(e)) => return Err(e.into()),
                Err(VaultError::Corrupt(_)) => {
                    tracing::error!("an OrderPlaced personal field does not decrypt");
                    UNREADABLE.to_owned()
                }
            };
            data = serde_json::json!({
                "orderId": p.order_id,
                "customerId": p.customer_id,
                "items": p.items,
                "email": email,
            });
        }
        shown.push(ShownEvent { record, data });
    }
    Ok(shown)
}
#[cfg(test)]
mod tests;
