//! The terminal-event forwarding loop, written once: a batch of the log's records in stream
//! order → the terminal events among them on the bus, and which record to hand out again. The
//! embedded change-feed forwarder, the AWS host's Streams poller and the event projector Lambda all
//! call [`forward_terminal_events`], so they fail alike.

use std::fmt::Display;

use order_domain::RecordedEvent;
use order_domain::ports::EventBus;

use crate::notify::terminal_bus_event;

/// Puts the terminal events among `records` (keyed by their position in the feed, e.g. a
/// sequence number) on `bus`. Returns the key of the first record to hand out again, or `None`
/// when the whole batch is done with. One failure behaviour for every host:
///
/// - A record that cannot be decoded stops the batch there: the terminal events before it are
///   put, and it is the first to retry (a stream is ordered, so nothing after it may overtake
///   it; it blocks the feed until someone looks, as a poison record should).
/// - A put that fails retries the whole batch from its first record. Bus events carry the log's
///   event id, so those that did go through are recognisably the same event when put again.
pub async fn forward_terminal_events<'r, B, K>(
    bus: &B,
    records: impl IntoIterator<Item = (K, Result<&'r RecordedEvent, String>)>,
) -> Option<K>
where
    B: EventBus,
    K: Clone + Display,
{
    let mut first = None;
    let mut stop = None;
    let mut events = Vec::new();
    for (key, record) in records {
        if first.is_none() {
            first = Some(key.clone());
        }
        match record {
            Ok(r) => events.extend(terminal_bus_event(r)),
            Err(why) => {
                tracing::error!(record = %key, error = %why, "undecodable record: the batch stops there");
                stop = Some(key);
                break;
            }
        }
    }
    if !events.is_empty()
        && let Err(e) = bus.put(events).await
    {
        tracing::warn!(error = %e, "putting terminal events failed; the batch will be retried");
        return first;
    }
    stop
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use order_domain::events::OrderCompleted;
    use order_domain::ports::{BusEvent, PortError};
    use order_domain::{EventMeta, GENESIS_HASH, Money, OrderEvent, OrderId, Timestamp};

    use super::*;
    use crate::stream::seal;

    /// A bus that records what it is given, or refuses every put.
    #[derive(Default)]
    struct Bus {
        down: bool,
        put: Mutex<Vec<BusEvent>>,
    }

    impl EventBus for Bus {
        async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
            if self.down {
                return Err(PortError("throttled".into()));
            }
            self.put.lock().unwrap().extend(events);
            Ok(())
        }
    }

    /// One order's OrderCompleted, as the log records it.
    fn completed() -> RecordedEvent {
        let order = OrderId::generate();
        let meta = EventMeta {
            correlation_id: order.to_string(),
            causation_id: "test".into(),
            occurred_at: Timestamp::from_millis(1),
        };
        let event = OrderEvent::OrderCompleted(OrderCompleted {
            total: Money::from_minor(100),
        });
        let mut write = seal(&order.stream(), 2, GENESIS_HASH, [event.encode()], &meta);
        write.events.remove(0)
    }

    fn batch(records: &[RecordedEvent]) -> Vec<(usize, Result<&RecordedEvent, String>)> {
        records
            .iter()
            .enumerate()
            .map(|(i, r)| (i, Ok(r)))
            .collect()
    }

    #[tokio::test]
    async fn a_delivered_batch_puts_its_terminal_events_and_asks_for_nothing_again() {
        let records = [completed(), completed()];
        let bus = Bus::default();
        assert_eq!(forward_terminal_events(&bus, batch(&records)).await, None);
        let ids: Vec<String> = bus
            .put
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.id.clone())
            .collect();
        let expected: Vec<String> = records.iter().map(|r| r.event_id.to_string()).collect();
        assert_eq!(ids, expected, "each bus event carries its log event id");
    }

    #[tokio::test]
    async fn a_failed_put_hands_out_the_whole_batch_again_from_its_first_record() {
        let records = [completed(), completed()];
        let bus = Bus {
            down: true,
            ..Bus::default()
        };
        assert_eq!(
            forward_terminal_events(&bus, batch(&records)).await,
            Some(0)
        );
    }

    #[tokio::test]
    async fn an_undecodable_record_is_retried_after_the_events_before_it_are_put() {
        let records = [completed(), completed()];
        let bus = Bus::default();
        let mut items = batch(&records);
        items.insert(1, (7, Err("not an event".into())));
        assert_eq!(forward_terminal_events(&bus, items).await, Some(7));
        let put = bus.put.lock().unwrap();
        assert_eq!(put.len(), 1, "only the record before the undecodable one");
        assert_eq!(put[0].id, records[0].event_id.to_string());
    }

    #[tokio::test]
    async fn a_batch_without_terminal_events_puts_nothing() {
        let bus = Bus {
            down: true,
            ..Bus::default()
        };
        let none: Vec<(usize, Result<&RecordedEvent, String>)> = Vec::new();
        assert_eq!(forward_terminal_events(&bus, none).await, None);
    }
}
