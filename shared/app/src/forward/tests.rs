//! The forwarding loop's failure behaviour, and the details of the bus events it makes.

use std::collections::HashMap;
use std::sync::Mutex;

use order_domain::events::{
    OrderCompleted, OrderLine, OrderPlaced, OrderShipped, RefundIssued, RefundRequested,
};
use order_domain::personal::{Personal, PersonalData};
use order_domain::ports::{BusEvent, DecideError, PortError};
use order_domain::{
    Email, EventMeta, GENESIS_HASH, Money, PaymentToken, ProductId, Quantity, StreamId,
    StreamWrite, Timestamp,
};

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

impl Bus {
    fn put(&self) -> Vec<BusEvent> {
        self.put.lock().unwrap().clone()
    }
}

/// The streams the forwarder may read a customer from; `down` fails every read.
#[derive(Default)]
struct Streams {
    down: bool,
    streams: Mutex<HashMap<StreamId, Vec<RecordedEvent>>>,
}

impl EventStore for Streams {
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if self.down {
            return Err(StoreError::Unavailable("throttled".into()));
        }
        let streams = self.streams.lock().unwrap();
        Ok(streams
            .get(stream)
            .map(|events| {
                events
                    .iter()
                    .filter(|e| e.version > after_version)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The forwarder reads whole streams; heads are served all the same, from the same map.
    async fn read_heads(
        &self,
        streams: &[StreamId],
    ) -> Result<Vec<Option<RecordedEvent>>, StoreError> {
        let map = self.streams.lock().unwrap();
        Ok(streams
            .iter()
            .map(|s| map.get(s).and_then(|events| events.last().cloned()))
            .collect())
    }

    async fn append(&self, writes: Vec<StreamWrite>) -> Result<(), StoreError> {
        let mut streams = self.streams.lock().unwrap();
        for w in writes {
            streams.entry(w.stream_id).or_default().extend(w.events);
        }
        Ok(())
    }

    /// The forwarder appends nothing; a decision here sees the heads and appends its writes.
    async fn decide_and_append<T, E, F>(
        &self,
        streams: Vec<StreamId>,
        mut decide: F,
    ) -> Result<T, DecideError<E>>
    where
        F: FnMut(&[Option<RecordedEvent>]) -> Result<(Vec<StreamWrite>, T), E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let heads = self
            .read_heads(&streams)
            .await
            .map_err(DecideError::Store)?;
        let (writes, out) = decide(&heads).map_err(DecideError::Refused)?;
        self.append(writes).await.map_err(DecideError::Store)?;
        Ok(out)
    }
}

fn meta(order: OrderId) -> EventMeta {
    EventMeta {
        correlation_id: order.into(),
        causation_id: "test".into(),
        occurred_at: Timestamp::from_millis(1),
        trace_parent: None,
    }
}

/// `events` recorded on `order`'s stream from version `after + 1` (not stored anywhere).
fn recorded(order: OrderId, after: u64, events: &[OrderEvent]) -> Vec<RecordedEvent> {
    seal(
        &order.stream(),
        after,
        GENESIS_HASH,
        events.iter().map(OrderEvent::encode),
        &meta(order),
    )
    .events
}

/// One order's OrderCompleted, as the log records it.
fn completed() -> RecordedEvent {
    let event = OrderEvent::OrderCompleted(OrderCompleted {
        total: Money::from_minor(100),
    });
    recorded(OrderId::generate(), 4, &[event]).remove(0)
}

fn placed(order: OrderId) -> OrderEvent {
    OrderEvent::OrderPlaced(OrderPlaced {
        order_id: order,
        customer_id: CustomerId::parse("cust-7").unwrap(),
        items: vec![OrderLine {
            product_id: ProductId::parse("MUG").unwrap(),
            quantity: Quantity::new(2).unwrap(),
        }],
        personal: Personal::Clear(PersonalData {
            email: Email::parse("jane@example.com").unwrap(),
            payment_token: PaymentToken::parse("tok_visa").unwrap(),
        }),
    })
}

fn batch(records: &[RecordedEvent]) -> Vec<(usize, Result<&RecordedEvent, String>)> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| (i, Ok(r)))
        .collect()
}

#[tokio::test]
async fn a_delivered_batch_puts_its_bus_events_and_asks_for_nothing_again() {
    let records = [completed(), completed()];
    let bus = Bus::default();
    let store = Streams::default();
    assert_eq!(forward_events(&bus, &store, batch(&records)).await, None);
    let ids: Vec<String> = bus.put().iter().map(|e| e.id.clone()).collect();
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
        forward_events(&bus, &Streams::default(), batch(&records)).await,
        Some(0)
    );
}

#[tokio::test]
async fn an_undecodable_record_is_retried_after_the_events_before_it_are_put() {
    let records = [completed(), completed()];
    let bus = Bus::default();
    let mut items = batch(&records);
    items.insert(1, (7, Err("not an event".into())));
    assert_eq!(
        forward_events(&bus, &Streams::default(), items).await,
        Some(7)
    );
    let put = bus.put();
    assert_eq!(put.len(), 1, "only the record before the undecodable one");
    assert_eq!(put[0].id, records[0].event_id.to_string());
}

#[tokio::test]
async fn a_batch_without_bus_events_puts_nothing() {
    let bus = Bus {
        down: true,
        ..Bus::default()
    };
    let none: Vec<(usize, Result<&RecordedEvent, String>)> = Vec::new();
    assert_eq!(forward_events(&bus, &Streams::default(), none).await, None);
}

/// An order's life as the bus carries it: every detail names the order, the event and the
/// customer (read from the OrderPlaced for the events after it), with the fields of its type,
/// and nothing personal.
#[tokio::test]
async fn the_events_of_an_orders_life_carry_their_fixed_details() {
    let order = OrderId::generate();
    let lines = vec![order_domain::events::PricedLine {
        product_id: ProductId::parse("MUG").unwrap(),
        quantity: Quantity::new(1).unwrap(),
        unit_price: Money::from_minor(900),
    }];
    let store = Streams::default();
    let placement = recorded(order, 0, &[placed(order)]);
    store
        .append(vec![StreamWrite {
            stream_id: order.stream(),
            expected_version: 0,
            events: placement.clone(),
        }])
        .await
        .unwrap();
    let after = recorded(
        order,
        5,
        &[
            OrderEvent::OrderShipped(OrderShipped {
                carrier: "DHL".into(),
                tracking_id: "JD0001".into(),
            }),
            OrderEvent::RefundRequested(RefundRequested {
                refund_id: format!("{order}-R1"),
                idempotency_key: Some("key-1".into()),
                lines,
                amount: Money::from_minor(900),
                restock: true,
                reason: "broken, call me on 555-0100".into(),
                cancellation: false,
            }),
            OrderEvent::RefundIssued(RefundIssued {
                refund_id: format!("{order}-R1"),
                gateway_refund_id: "re_1".into(),
                amount: Money::from_minor(900),
            }),
        ],
    );
    let records: Vec<RecordedEvent> = placement.into_iter().chain(after).collect();
    let bus = Bus::default();
    assert_eq!(forward_events(&bus, &store, batch(&records)).await, None);
    let put = bus.put();
    let types: Vec<&str> = put.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderShipped",
            "RefundRequested",
            "RefundIssued"
        ]
    );
    for (event, record) in put.iter().zip(&records) {
        assert_eq!(event.source, "order-pipeline");
        assert_eq!(event.id, record.event_id.to_string());
        assert_eq!(event.detail["eventId"], json!(record.event_id.to_string()));
        assert_eq!(event.detail["orderId"], json!(order.to_string()));
        assert_eq!(event.detail["customerId"], json!("cust-7"));
        let text = event.detail.to_string();
        for secret in ["jane@", "tok_visa", "555-0100", "key-1"] {
            assert!(!text.contains(secret), "{secret} on the bus: {text}");
        }
    }
    assert_eq!(put[1].detail["carrier"], json!("DHL"));
    assert_eq!(put[1].detail["trackingId"], json!("JD0001"));
    assert_eq!(put[2].detail["refundId"], json!(format!("{order}-R1")));
    assert_eq!(put[2].detail["amount"], json!(900));
    assert_eq!(put[2].detail["cancellation"], json!(false));
    assert_eq!(put[3].detail["refundId"], json!(format!("{order}-R1")));
    assert_eq!(put[3].detail["amount"], json!(900));
}

/// The customer of an event after placement is read from the order's stream; when that read
/// fails, the events before the record are put and the record is the first to retry.
#[tokio::test]
async fn a_failed_customer_read_retries_from_its_record() {
    let order = OrderId::generate();
    let shipped = recorded(
        order,
        5,
        &[OrderEvent::OrderShipped(OrderShipped {
            carrier: "DHL".into(),
            tracking_id: "JD0001".into(),
        })],
    );
    let records = [completed(), shipped[0].clone()];
    let bus = Bus::default();
    let store = Streams {
        down: true,
        ..Streams::default()
    };
    assert_eq!(forward_events(&bus, &store, batch(&records)).await, Some(1));
    assert_eq!(bus.put().len(), 1, "the completion before it went out");

    // An order without its OrderPlaced is a poison record: it stops the batch too.
    let bus = Bus::default();
    assert_eq!(
        forward_events(&bus, &Streams::default(), batch(&records)).await,
        Some(1)
    );
}
