//! Forwarding, the event projector's third part: the order events the bus carries among a
//! stream batch → EventBridge, where OrderConfirmationRule, OrderFailureRule and OrderUpdateRule
//! route them to their handlers (and RefundRequestedRule to the refund workflow).

use order_app::forward::forward_events;
use order_aws::ChangeRecord;
use order_domain::ports::{EventBus, EventStore};

/// Puts the bus events among `records` ([`forward_events`]: the same loop every host runs;
/// `store` names the customer of the events after placement). Answers the sequence number of
/// the first record to hand out again, if any: the batch's first record when a put failed
/// (every bus event carries its log event id, so those that went through are recognisably the
/// same event when put again), or the first record whose bus event could not be made.
pub async fn forward<B: EventBus, S: EventStore>(
    bus: &B,
    store: &S,
    records: &[ChangeRecord],
) -> Option<String> {
    let items = records
        .iter()
        .map(|r| {
            (
                r.sequence_number.as_str(),
                r.event.as_ref().map_err(ToString::to_string),
            )
        })
        .collect();
    forward_events(bus, store, items).await.map(str::to_owned)
}
