//! The bus events of the log, and the forwarding loop that puts them on the bus, written once: a
//! batch of the log's records in stream order → the bus events among them, and which record to
//! hand out again. The embedded change-feed forwarder, the AWS host's Streams poller and the
//! event projector Lambda all call [`forward_events`], so they fail alike.
//!
//! An order's events that the bus carries (detail-types as in docs/aws-contract.md): OrderPlaced,
//! OrderCompleted, OrderFailed, OrderCancelled, OrderShipped, RefundRequested, RefundIssued.
//! Each bus event's id and `detail.eventId` are the log's event id, so a redelivered record makes
//! the same bus event, which every handler's dedup record recognises. No detail holds personal
//! data (no email, no payment token, no free-text reason).

use std::fmt::Display;

use order_domain::events::{DecodeError, decode_order};
use order_domain::ports::{BusEvent, EventBus, EventStore, StoreError};
use order_domain::{CustomerId, OrderEvent, OrderId, RecordedEvent};
use serde_json::json;

use crate::notify::{
    BUS_SOURCE, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_FAILED, ORDER_PLACED, ORDER_SHIPPED,
    REFUND_ISSUED, REFUND_REQUESTED,
};

/// The event types the bus carries (each its own detail-type).
pub const FORWARDED: [&str; 7] = [
    ORDER_PLACED,
    ORDER_COMPLETED,
    ORDER_FAILED,
    ORDER_CANCELLED,
    ORDER_SHIPPED,
    REFUND_REQUESTED,
    REFUND_ISSUED,
];

/// Whether records of `event_type` go on the bus (a cheap filter: no decoding).
pub fn is_forwarded(event_type: &str) -> bool {
    FORWARDED.contains(&event_type)
}

/// Why a record's bus event could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BusEventError {
    /// Reading the order's stream for its customer failed; the same record may work later.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record, or the OrderPlaced it needs, does not decode: a poison record.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("order {0} has no OrderPlaced to name its customer")]
    NoCustomer(OrderId),
}

/// The bus event of one record, if it is one the bus carries (see [`FORWARDED`]). The events
/// after placement name the customer (`customerId`) too, which their payloads do not hold: it is
/// read from the order's OrderPlaced, a read of the order's stream for these rare events only.
/// OrderCompleted and OrderFailed keep the details their rules and handlers already take.
pub async fn bus_event<S: EventStore>(
    store: &S,
    r: &RecordedEvent,
) -> Result<Option<BusEvent>, BusEventError> {
    // Cheap filter first: most events are not forwarded, and decoding parses the payload.
    if !is_forwarded(&r.event_type) {
        return Ok(None);
    }
    let Some(order_id) = r.stream_id.order_id() else {
        return Ok(None);
    };
    let event = decode_order(r)?;
    let mut detail = match &*event {
        OrderEvent::OrderPlaced(p) => json!({ "customerId": p.customer_id.as_str() }),
        OrderEvent::OrderCompleted(c) => json!({ "status": "COMPLETED", "total": c.total }),
        OrderEvent::OrderFailed(f) => json!({ "status": "FAILED", "reason": f.reason }),
        OrderEvent::OrderCancelled(c) => json!({ "refunded": c.refunded }),
        OrderEvent::OrderShipped(s) => {
            json!({ "carrier": s.carrier, "trackingId": s.tracking_id })
        }
        OrderEvent::RefundRequested(q) => json!({
            "refundId": q.refund_id,
            "amount": q.amount,
            "restock": q.restock,
            "cancellation": q.cancellation,
        }),
        OrderEvent::RefundIssued(i) => json!({ "refundId": i.refund_id, "amount": i.amount }),
        _ => return Ok(None),
    };
    if after_placement(&event) {
        detail["customerId"] = json!(customer_of(store, order_id).await?.as_str());
    }
    let mut text = [0; ulid::ULID_LEN];
    detail["orderId"] = json!(order_id.encode(&mut text));
    detail["eventId"] = json!(r.event_id.encode(&mut text));
    detail["version"] = json!(r.version);
    detail["occurredAt"] = json!(r.occurred_at);
    Ok(Some(BusEvent {
        id: r.event_id.to_string(),
        source: BUS_SOURCE.into(),
        detail_type: event.event_type().into(),
        detail,
    }))
}

/// The events whose details gained `customerId` with the after-sale events (issue 14).
fn after_placement(event: &OrderEvent) -> bool {
    matches!(
        event,
        OrderEvent::OrderCancelled(_)
            | OrderEvent::OrderShipped(_)
            | OrderEvent::RefundRequested(_)
            | OrderEvent::RefundIssued(_)
    )
}

/// The customer who placed `order` (its stream's first event).
async fn customer_of<S: EventStore>(
    store: &S,
    order: OrderId,
) -> Result<CustomerId, BusEventError> {
    let history = store.read_stream(&order.stream(), 0).await?;
    match history.first().map(decode_order).transpose()?.as_deref() {
        Some(OrderEvent::OrderPlaced(p)) => Ok(p.customer_id.clone()),
        _ => Err(BusEventError::NoCustomer(order)),
    }
}

/// Puts the bus events among `records` (keyed by their position in the feed, e.g. a sequence
/// number) on `bus`. Returns the key of the first record to hand out again, or `None` when the
/// whole batch is done with. One failure behaviour for every host:
///
/// - A record whose bus event cannot be made (it does not decode, or its order's stream could
///   not be read for the customer) stops the batch there: the bus events before it are put,
///   and it is the first to retry (a stream is ordered, so nothing after it may overtake it; a
///   poison record blocks the feed until someone looks, as it should).
/// - A put that fails retries the whole batch from its first record. Bus events carry the log's
///   event id, so those that did go through are recognisably the same event when put again.
///
/// `records` is a `Vec` rather than any iterator: the loop awaits between records (a customer
/// read), and a spawned future may not hold a caller's borrowing closure across an await.
pub async fn forward_events<B, S, K>(
    bus: &B,
    store: &S,
    records: Vec<(K, Result<&RecordedEvent, String>)>,
) -> Option<K>
where
    B: EventBus,
    S: EventStore,
    K: Clone + Display,
{
    let mut first = None;
    let mut stop = None;
    let mut events = Vec::new();
    for (key, record) in records {
        if first.is_none() {
            first = Some(key.clone());
        }
        let made = match record {
            Ok(r) => bus_event(store, r).await,
            Err(why) => {
                tracing::error!(record = %key, error = %why, "undecodable record: the batch stops there");
                stop = Some(key);
                break;
            }
        };
        match made {
            Ok(event) => events.extend(event),
            Err(BusEventError::Store(e)) => {
                tracing::warn!(record = %key, error = %e, "reading the order for its bus event failed; retried from there");
                stop = Some(key);
                break;
            }
            Err(e) => {
                tracing::error!(record = %key, error = %e, "no bus event for the record: the batch stops there");
                stop = Some(key);
                break;
            }
        }
    }
    if !events.is_empty()
        && let Err(e) = bus.put(events).await
    {
        tracing::warn!(error = %e, "putting bus events failed; the batch will be retried");
        return first;
    }
    stop
}

#[cfg(test)]
mod tests;
