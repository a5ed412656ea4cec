//! OrderSuccessHandler: the EventBridge event OrderConfirmationRule delivers → confirmation email.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::notify::{ConfirmError, Confirmation, confirm_order};
use order_domain::ports::{BusEvent, EventStore, KeyStore, Notifier};
use serde_json::Value;

/// Sends the confirmation. The dedup id is the event's `detail.eventId` (the log's event id),
/// falling back to the EventBridge id, so a redelivered event sends the same message.
pub async fn handle_event<S: EventStore, N: Notifier, K: KeyStore>(
    store: &S,
    notifier: &N,
    keys: &K,
    event: EventBridgeEvent<Value>,
) -> Result<Confirmation, ConfirmError> {
    let id = event
        .detail
        .get("eventId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(event.id)
        .unwrap_or_default();
    let bus_event = BusEvent {
        id,
        source: event.source,
        detail_type: event.detail_type,
        detail: event.detail,
    };
    confirm_order(store, notifier, keys, &bus_event).await
}
