//! Terminal events to the bus (the forwarder), and the confirmation email (OrderSuccessHandler).

use std::fmt::Write as _;

use order_domain::events::{DomainEvent, decode};
use order_domain::order::{Completed, OrderState};
use order_domain::personal::Opened;
use order_domain::ports::{
    BusEvent, EventStore, KeyStore, Notification, Notifier, PortError, Topic,
};
use order_domain::{OrderEvent, OrderId, RecordedEvent};
use serde_json::json;

use crate::stream::{LoadError, load};
use crate::vault::{self, VaultError};

/// The `source` of every bus event this system puts.
pub const BUS_SOURCE: &str = "order-pipeline";
/// The detail-type OrderConfirmationRule matches.
pub const ORDER_COMPLETED: &str = "OrderCompleted";

/// Bus events for the terminal events (OrderCompleted, OrderFailed) among `records`. Each
/// carries the log's event id, so a redelivered record makes the same bus event. No personal data.
pub fn terminal_bus_events(records: &[RecordedEvent]) -> Vec<BusEvent> {
    records.iter().filter_map(terminal_bus_event).collect()
}

/// The bus event of one record, if it is a terminal event (see [`terminal_bus_events`]).
pub fn terminal_bus_event(r: &RecordedEvent) -> Option<BusEvent> {
    // Cheap filter first: most events are not terminal, and decoding parses the payload.
    if r.event_type != "OrderCompleted" && r.event_type != "OrderFailed" {
        return None;
    }
    let order_id = r.stream_id.order_id()?;
    let DomainEvent::Order(e) = decode(r).ok()? else {
        return None;
    };
    let detail = match &e {
        OrderEvent::OrderCompleted(c) => {
            json!({ "orderId": order_id, "status": "COMPLETED", "total": c.total })
        }
        OrderEvent::OrderFailed(f) => {
            json!({ "orderId": order_id, "status": "FAILED", "reason": f.reason })
        }
        _ => return None,
    };
    let mut detail = detail;
    detail["eventId"] = json!(r.event_id.to_string());
    detail["version"] = json!(r.version);
    detail["occurredAt"] = json!(r.occurred_at);
    Some(BusEvent {
        id: r.event_id.to_string(),
        source: BUS_SOURCE.into(),
        detail_type: e.event_type().into(),
        detail,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("bus event has no valid detail.orderId")]
    Malformed,
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Notify(#[from] PortError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What became of a confirmation (the success handler's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Confirmation {
    /// Published (or found already published: the notifier drops a duplicate).
    Sent,
    /// The order is not completed: nothing to confirm.
    NotCompleted,
    /// The customer was forgotten: there is no address to write to. Skipped, logged, counted.
    Erased,
}

/// OrderSuccessHandler: emails the customer (and the topic's subscribers) a confirmation.
/// The message's dedup id is the bus event's id, so a redelivery sends nothing new.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn confirm_order<S: EventStore, N: Notifier, K: KeyStore>(
    store: &S,
    notifier: &N,
    keys: &K,
    event: &BusEvent,
) -> Result<Confirmation, ConfirmError> {
    let order_id = event
        .detail
        .get("orderId")
        .and_then(|v| v.as_str())
        .and_then(|s| OrderId::parse(s).ok())
        .ok_or(ConfirmError::Malformed)?;
    tracing::Span::current().record("order_id", tracing::field::display(order_id));
    let (order, _) = load(store, order_id).await?;
    let OrderState::Completed(Completed {
        paid, completed, ..
    }) = &order.state
    else {
        tracing::warn!("confirmation for an order that is not completed: ignored");
        return Ok(Confirmation::NotCompleted);
    };
    let (placed, validated) = (&paid.priced.placed, &paid.priced.validated);
    let email = match vault::open(keys, &placed.customer_id, order_id, &placed.personal).await? {
        Opened::Data(data) => data.email,
        Opened::Erased => {
            tracing::warn!(
                skipped = "personal_data_erased",
                "no confirmation: the customer was forgotten"
            );
            return Ok(Confirmation::Erased);
        }
    };
    let mut body = format!("Thank you for your order.\n\nOrder: {order_id}\n\n");
    for line in &validated.lines {
        let _ = writeln!(
            body,
            "  {} x {} at {} = {}",
            line.quantity.get(),
            line.product_id,
            line.unit_price,
            line.unit_price.times(line.quantity).unwrap_or_default()
        );
    }
    let _ = write!(body, "\nTotal: {}\n", completed.total);
    notifier
        .publish(
            Topic::OrderAlerts,
            Notification {
                dedup_id: event.id.clone(),
                subject: format!("Order {order_id} confirmed"),
                body,
                recipients: vec![email],
            },
        )
        .await?;
    Ok(Confirmation::Sent)
}
