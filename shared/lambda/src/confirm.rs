//! The rules' handlers: OrderSuccessHandler (OrderConfirmationRule → confirmation email),
//! OrderFailureHandler (OrderFailureRule → failure notice) and OrderUpdateHandler
//! (OrderUpdateRule → the customer's emails of the order's life).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::notify::{Confirmation, FailureNotice, NotifyError, confirm_order, notify_failure};
use order_app::notify_update::{CustomerNotice, notify_order_update};
use order_domain::ports::{BusEvent, EventStore, KeyStore, Notifier};
use serde_json::Value;

/// The bus event a rule delivered. Its id (the emails' dedup id) is `detail.eventId`, the log's
/// event id, falling back to the EventBridge id, so a redelivered event sends the same message.
pub fn bus_event(event: EventBridgeEvent<Value>) -> BusEvent {
    let id = event
        .detail
        .get("eventId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(event.id)
        .unwrap_or_default();
    BusEvent {
        id,
        source: event.source,
        detail_type: event.detail_type,
        detail: event.detail,
    }
}

/// Sends the confirmation of an OrderCompleted.
pub async fn handle_event<S: EventStore, N: Notifier, K: KeyStore>(
    store: &S,
    notifier: &N,
    keys: &K,
    event: EventBridgeEvent<Value>,
) -> Result<Confirmation, NotifyError> {
    confirm_order(store, notifier, keys, &bus_event(event)).await
}

/// Sends the failure notice of an OrderFailed.
pub async fn handle_failure_event<S: EventStore, N: Notifier>(
    store: &S,
    notifier: &N,
    event: EventBridgeEvent<Value>,
) -> Result<FailureNotice, NotifyError> {
    notify_failure(store, notifier, &bus_event(event)).await
}

/// Sends the customer's email of an OrderPlaced, OrderCancelled, OrderShipped or RefundIssued.
pub async fn handle_update_event<S: EventStore, N: Notifier, K: KeyStore>(
    store: &S,
    notifier: &N,
    keys: &K,
    event: EventBridgeEvent<Value>,
) -> Result<CustomerNotice, NotifyError> {
    notify_order_update(store, notifier, keys, &bus_event(event)).await
}
