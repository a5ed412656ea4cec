//! The terminal-event forwarder: order-events stream records → EventBridge, where
//! OrderConfirmationRule routes OrderCompleted to OrderSuccessHandler.

use order_app::forward::forward_terminal_events;
use order_domain::RecordedEvent;
use order_domain::ports::EventBus;

use crate::batch::BatchResponse;

/// One stream record as the binary decoded it (with the same codec the writer uses).
#[derive(Debug, Clone)]
pub struct StreamItem {
    pub sequence_number: String,
    pub event: Result<RecordedEvent, String>,
}

/// Puts the terminal events among `items` ([`forward_terminal_events`]: the same loop every host
/// runs); the record to retry from, if any, is reported by its sequence number, so Lambda hands
/// it and everything after it out again.
pub async fn forward<B: EventBus>(bus: &B, items: Vec<StreamItem>) -> BatchResponse {
    let mut response = BatchResponse::default();
    let records = items.iter().map(|i| {
        (
            i.sequence_number.as_str(),
            i.event.as_ref().map_err(Clone::clone),
        )
    });
    if let Some(seq) = forward_terminal_events(bus, records).await {
        response.fail(seq);
    }
    response
}
