//! Forwarding, the event projector's third part: the terminal events among a stream batch →
//! EventBridge, where OrderConfirmationRule and OrderFailureRule route them to their handlers.

use order_app::forward::forward_terminal_events;
use order_aws::ChangeRecord;
use order_domain::ports::EventBus;

/// Puts the terminal events among `records` ([`forward_terminal_events`]: the same loop every
/// host runs). Answers the sequence number of the first record to hand out again, if any: the
/// batch's first record when a put failed (every bus event carries its log event id, so those
/// that went through are recognisably the same event when put again), or the first record that
/// did not decode.
pub async fn forward<B: EventBus>(bus: &B, records: &[ChangeRecord]) -> Option<String> {
    let items = records.iter().map(|r| {
        (
            r.sequence_number.as_str(),
            r.event.as_ref().map_err(ToString::to_string),
        )
    });
    forward_terminal_events(bus, items).await.map(str::to_owned)
}
