use std::borrow::Cow;

use super::*;
use crate::envelope::{EventMeta, GENESIS_HASH, RecordedEvent};
use crate::events::*;
use crate::personal::{Personal, PersonalData, SealedPersonal};
use crate::time::Timestamp;
use crate::values::{CustomerId, Email, Money, OrderId, PaymentToken, ProductId, Quantity};

fn meta() -> EventMeta {
    EventMeta {
        correlation_id: "c".into(),
        causation_id: "r".into(),
        occurred_at: Timestamp::from_millis(7),
        trace_parent: None,
    }
}

fn sealed(event: impl Into<Encoded<'static>>) -> RecordedEvent {
    RecordedEvent::seal(
        OrderId::generate().stream(),
        0,
        GENESIS_HASH,
        event,
        &meta(),
    )
}

/// The same record without the kept event, as a store reads it back.
fn bare(record: &RecordedEvent) -> RecordedEvent {
    RecordedEvent {
        decoded: DecodedCache::NONE,
        ..record.clone()
    }
}

fn line(quantity: i64) -> PricedLine {
    PricedLine {
        product_id: ProductId::parse("SKU-B1").unwrap(),
        quantity: Quantity::new(quantity).unwrap(),
        unit_price: Money::from_minor(1_999),
    }
}

/// Which variant an order event is: a new variant fails to compile here until it has a sample.
fn order_variant(e: &OrderEvent) -> usize {
    match e {
        OrderEvent::OrderPlaced(_) => 0,
        OrderEvent::OrderValidated(_) => 1,
        OrderEvent::OrderRejected(_) => 2,
        OrderEvent::PaymentCaptured(_) => 3,
        OrderEvent::PaymentDeclined(_) => 4,
        OrderEvent::InventoryReserved(_) => 5,
        OrderEvent::OutOfStock(_) => 6,
        OrderEvent::PaymentRefunded(_) => 7,
        OrderEvent::OrderCompleted(_) => 8,
        OrderEvent::OrderFailed(_) => 9,
        OrderEvent::CancellationRequested(_) => 10,
        OrderEvent::OrderCancelled(_) => 11,
        OrderEvent::OrderShipped(_) => 12,
        OrderEvent::RefundRequested(_) => 13,
        OrderEvent::RefundIssued(_) => 14,
        OrderEvent::RefundFailed(_) => 15,
        OrderEvent::OrderFailing(_) => 16,
    }
}

fn product_variant(e: &ProductEvent) -> usize {
    match e {
        ProductEvent::ProductAdded(_) => 0,
        ProductEvent::StockReserved(_) => 1,
        ProductEvent::StockAdded(_) => 2,
    }
}

/// One or more samples of every order event, optional fields both set and not, text that needs
/// escaping, both forms of personal data.
fn order_samples() -> Vec<OrderEvent> {
    let id = OrderId::generate();
    let placed = |personal| {
        OrderEvent::OrderPlaced(OrderPlaced {
            order_id: id,
            customer_id: CustomerId::parse("cust-1").unwrap(),
            items: vec![OrderLine {
                product_id: ProductId::parse("SKU-A").unwrap(),
                quantity: Quantity::new(2).unwrap(),
            }],
            personal,
        })
    };
    let requested = |idempotency_key| {
        OrderEvent::RefundRequested(RefundRequested {
            refund_id: format!("{id}-R1"),
            idempotency_key,
            lines: vec![line(1)],
            amount: Money::from_minor(1_999),
            restock: true,
            reason: "too \"small\"\n".into(),
            cancellation: false,
        })
    };
    vec![
        placed(Personal::Sealed(SealedPersonal {
            key_id: "k1".into(),
            nonce: "bm9uY2U".into(),
            ciphertext: "Y2lwaGVy".into(),
        })),
        placed(Personal::Clear(PersonalData {
            email: Email::parse("a@example.com").unwrap(),
            payment_token: PaymentToken::parse("tok_visa").unwrap(),
        })),
        OrderEvent::OrderValidated(OrderValidated {
            lines: vec![line(2), line(1)],
            total: Money::from_minor(5_997),
        }),
        OrderEvent::OrderRejected(OrderRejected {
            code: "UNKNOWN_PRODUCT".into(),
            message: "no SKU-Z ☃".into(),
        }),
        OrderEvent::PaymentCaptured(PaymentCaptured {
            payment_id: "pay_1".into(),
            amount: Money::from_minor(5_997),
        }),
        OrderEvent::PaymentDeclined(PaymentDeclined {
            code: "CARD_DECLINED".into(),
            message: "declined".into(),
        }),
        OrderEvent::InventoryReserved(InventoryReserved {
            lines: vec![ReservedLine {
                product_id: ProductId::parse("SKU-A").unwrap(),
                quantity: Quantity::new(2).unwrap(),
                stock_after: 0,
            }],
        }),
        OrderEvent::OutOfStock(OutOfStock {
            product_id: ProductId::parse("SKU-A").unwrap(),
            requested: 3,
            available: 1,
        }),
        OrderEvent::PaymentRefunded(PaymentRefunded {
            payment_id: "pay_1".into(),
            refund_id: "ref_1".into(),
            amount: Money::from_minor(u64::MAX),
        }),
        OrderEvent::OrderCompleted(OrderCompleted {
            total: Money::from_minor(0),
        }),
        OrderEvent::OrderFailed(OrderFailed {
            reason: FailureReason::ProcessingError,
            message: String::new(),
        }),
        OrderEvent::OrderFailing(OrderFailing {
            message: "States.Timeout: \"UpdateInventory\"".into(),
        }),
        OrderEvent::CancellationRequested(CancellationRequested {
            reason: "changed my mind".into(),
        }),
        OrderEvent::OrderCancelled(OrderCancelled {
            refunded: Money::from_minor(1),
            reason: String::new(),
        }),
        OrderEvent::OrderShipped(OrderShipped {
            carrier: "DHL".into(),
            tracking_id: "T\\1".into(),
        }),
        requested(Some("idem-1".into())),
        requested(None),
        OrderEvent::RefundIssued(RefundIssued {
            refund_id: format!("{id}-R1"),
            gateway_refund_id: "gw_1".into(),
            amount: Money::from_minor(1_999),
        }),
        OrderEvent::RefundFailed(RefundFailed {
            refund_id: format!("{id}-R1"),
            message: "gateway down".into(),
        }),
    ]
}

fn product_samples() -> Vec<ProductEvent> {
    let added = |refund_id| {
        ProductEvent::StockAdded(StockAdded {
            quantity: 3,
            stock_after: 10,
            price: Money::from_minor(1_999),
            refund_id,
        })
    };
    vec![
        ProductEvent::ProductAdded(ProductAdded {
            name: "Mug «blue»".into(),
            price: Money::from_minor(1_999),
            stock: 7,
        }),
        ProductEvent::StockReserved(StockReserved {
            order_id: OrderId::generate(),
            quantity: Quantity::new(2).unwrap(),
            stock_after: 5,
            price: Money::from_minor(1_999),
        }),
        added(Some("01ABC-R1".into())),
        added(None),
    ]
}

/// What is kept is what the text decodes to, for every event type: the property the cache
/// stands on (sealing also checks it in every debug build).
#[test]
fn every_event_type_decodes_from_its_text_to_the_event_it_was_sealed_from() {
    let orders = order_samples();
    let mut seen = [false; 17];
    for event in &orders {
        seen[order_variant(event)] = true;
        let record = sealed(event);
        assert!(record.decoded.is_held(), "{}", event.event_type());
        assert_eq!(
            decode(&bare(&record)),
            Ok(DomainEvent::Order(event.clone()))
        );
        assert!(matches!(decode_order(&record), Ok(Cow::Borrowed(e)) if e == event));
        assert_eq!(decode(&record), Ok(DomainEvent::Order(event.clone())));
    }
    assert_eq!(seen, [true; 17], "a sample of every order event");
    let products = product_samples();
    let mut seen = [false; 3];
    for event in &products {
        seen[product_variant(event)] = true;
        let record = sealed(event.clone());
        assert_eq!(
            decode(&bare(&record)),
            Ok(DomainEvent::Product(event.clone()))
        );
        assert!(matches!(decode_product(&record), Ok(Cow::Borrowed(e)) if e == event));
    }
    assert_eq!(seen, [true; 3], "a sample of every product event");
}

/// The kept event answers only for the text it was made from: a record whose payload, type or
/// schema version changed decodes from what it now holds.
#[test]
fn a_record_whose_text_changed_is_decoded_from_its_text() {
    let completed = |minor| {
        OrderEvent::OrderCompleted(OrderCompleted {
            total: Money::from_minor(minor),
        })
    };
    let record = sealed(completed(5));

    let mut other = record.clone();
    other.payload = completed(6).encode().2.into();
    assert_eq!(decode(&other), Ok(DomainEvent::Order(completed(6))));
    assert!(matches!(decode_order(&other), Ok(Cow::Owned(_))));

    // Equal text in another allocation is not trusted either (it is decoded, and agrees).
    let mut copy = record.clone();
    copy.payload = record.payload.as_str().into();
    assert!(matches!(decode_order(&copy), Ok(Cow::Owned(e)) if e == completed(5)));

    let mut broken = record.clone();
    broken.payload = "not json".into();
    assert!(matches!(decode(&broken), Err(DecodeError::Payload(..))));

    let mut renamed = record.clone();
    renamed.event_type = "Nope".into();
    assert!(matches!(decode(&renamed), Err(DecodeError::UnknownType(_))));

    let mut future = record.clone();
    future.schema_version = 9;
    assert!(matches!(
        decode(&future),
        Err(DecodeError::FutureSchema(..))
    ));

    // A product event is no order's, kept or not.
    let product = sealed(product_samples().remove(0));
    assert!(matches!(
        decode_order(&product),
        Err(DecodeError::UnknownType(_))
    ));
    assert!(matches!(
        decode_product(&record),
        Err(DecodeError::UnknownType(_))
    ));
}

/// The kept event is not part of the record: equal, hashed, serialized and printed alike.
#[test]
fn a_kept_event_changes_nothing_a_record_is_compared_stored_or_hashed_by() {
    let record = sealed(&order_samples()[0]);
    let read_back = bare(&record);
    assert!(record.decoded.is_held() && !read_back.decoded.is_held());
    assert_eq!(record, read_back);
    assert_eq!(
        serde_json::to_string(&record).unwrap(),
        serde_json::to_string(&read_back).unwrap()
    );
    assert_eq!(record.compute_hash(), read_back.compute_hash());
    assert!(record.hash_is_valid());
    let parsed: RecordedEvent =
        serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
    assert!(!parsed.decoded.is_held(), "never stored");
    // Printed as whether it is held, not as a second copy of the event.
    assert!(format!("{record:?}").ends_with("decoded: held }"));
}

/// Text sealed as text keeps nothing; its consumers decode it.
#[test]
fn an_event_sealed_from_text_keeps_nothing() {
    let event = order_samples().remove(2);
    let (ty, schema, payload) = event.encode();
    let record = sealed((ty, schema, payload));
    assert!(!record.decoded.is_held());
    assert!(matches!(decode_order(&record), Ok(Cow::Owned(e)) if e == event));
}
