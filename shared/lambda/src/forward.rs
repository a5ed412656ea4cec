//! The terminal-event forwarder: order-events stream records → EventBridge, where
//! OrderConfirmationRule routes OrderCompleted to OrderSuccessHandler.

use order_app::notify::terminal_bus_events;
use order_domain::RecordedEvent;
use order_domain::ports::EventBus;

use crate::batch::BatchResponse;

/// One stream record as the binary decoded it (with the same codec the writer uses).
#[derive(Debug, Clone)]
pub struct StreamItem {
    pub sequence_number: String,
    pub event: Result<RecordedEvent, String>,
}

/// Puts the terminal events among `items`. A stream is ordered per key, so on the first record
/// that cannot be handled everything from it on is retried: its sequence number is reported.
/// Bus events carry the log's event id, so a retried put is recognisably the same event.
pub async fn forward<B: EventBus>(bus: &B, items: Vec<StreamItem>) -> BatchResponse {
    let mut response = BatchResponse::default();
    let mut ok = Vec::new();
    let mut first_bad = None;
    for item in &items {
        match &item.event {
            Ok(e) => ok.push(e.clone()),
            Err(why) => {
                tracing::error!(sequence_number = %item.sequence_number, error = %why, "undecodable stream record");
                first_bad = Some(item.sequence_number.clone());
                break;
            }
        }
    }
    let events = terminal_bus_events(&ok);
    if !events.is_empty()
        && let Err(e) = bus.put(events).await
    {
        tracing::warn!(error = %e, "PutEvents failed; the batch will be retried");
        if let Some(first) = items.first() {
            response.fail(first.sequence_number.clone());
        }
        return response;
    }
    if let Some(seq) = first_bad {
        response.fail(seq);
    }
    response
}
