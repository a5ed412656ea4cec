//! Order aggregate tests in given / when / then form.

use std::collections::BTreeMap;

use super::*;
use crate::envelope::EventMeta;
use crate::events::OrderLine;
use crate::time::Timestamp;
use crate::values::{CustomerId, Email, Quantity};

fn pid(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

fn placed(lines: &[(&str, i64)], token: &str) -> OrderEvent {
    OrderEvent::OrderPlaced(OrderPlaced {
        order_id: OrderId::generate(),
        customer_id: CustomerId::parse("c-1").unwrap(),
        email: Email::parse("jane@example.com").unwrap(),
        items: lines
            .iter()
            .map(|(p, q)| OrderLine {
                product_id: pid(p),
                quantity: Quantity::new(*q).unwrap(),
            })
            .collect(),
        payment_token: PaymentToken::parse(token).unwrap(),
    })
}

fn product(id: &str, price: u64, stock: u64) -> (ProductId, ProductState) {
    (
        pid(id),
        ProductState {
            id: pid(id),
            price: Money::from_minor(price),
            stock,
            version: 1,
            head_hash: GENESIS_HASH.into(),
        },
    )
}

/// `given(history)` folds the events the way a stored stream would be folded.
fn given(history: &[OrderEvent]) -> Order {
    let meta = EventMeta {
        correlation_id: "c".into(),
        causation_id: "c".into(),
        occurred_at: Timestamp::from_millis(0),
    };
    let stream = OrderId::generate().stream();
    let mut stored: Vec<RecordedEvent> = Vec::new();
    for e in history {
        let prev = stored
            .last()
            .map_or(GENESIS_HASH.to_owned(), |x| x.hash.clone());
        stored.push(RecordedEvent::seal(
            stream.clone(),
            stored.len() as u64,
            &prev,
            e.encode(),
            &meta,
        ));
    }
    Order::from_history(&stored).unwrap()
}

fn validated_and_paid() -> Vec<OrderEvent> {
    let catalog: BTreeMap<_, _> = [product("A", 250, 10)].into();
    let mut h = vec![placed(&[("A", 2)], "tok_visa")];
    h.extend(given(&h).validate(&catalog).unwrap().events);
    h.extend(
        given(&h)
            .record_charge(ChargeResult::Captured {
                payment_id: "ch_1".into(),
            })
            .unwrap()
            .events,
    );
    h
}

#[test]
fn a_placed_order_with_known_products_in_stock_is_validated_and_priced() {
    let order = given(&[placed(&[("A", 2), ("B", 1)], "tok_visa")]);
    let catalog: BTreeMap<_, _> = [product("A", 250, 10), product("B", 1000, 1)].into();
    let d = order.validate(&catalog).unwrap();
    assert_eq!(
        d.outcome,
        ValidateOutcome::Validated {
            total: Money::from_minor(1500)
        }
    );
    assert!(matches!(&d.events[..], [OrderEvent::OrderValidated(v)] if v.lines.len() == 2));
}

#[test]
fn an_unknown_product_is_rejected_with_its_code() {
    let order = given(&[placed(&[("NOPE", 1)], "tok_visa")]);
    let d = order.validate(&BTreeMap::new()).unwrap();
    assert!(
        matches!(d.outcome, ValidateOutcome::Rejected { ref code, .. } if code == "UNKNOWN_PRODUCT")
    );
    assert!(matches!(&d.events[..], [OrderEvent::OrderRejected(_)]));
}

#[test]
fn validating_twice_appends_nothing_the_second_time() {
    let catalog: BTreeMap<_, _> = [product("A", 250, 10)].into();
    let mut h = vec![placed(&[("A", 1)], "tok_visa")];
    let first = given(&h).validate(&catalog).unwrap();
    h.extend(first.events);
    let again = given(&h).validate(&catalog).unwrap();
    assert!(again.events.is_empty());
    assert_eq!(again.outcome, first.outcome);
}

#[test]
fn payment_asks_for_the_validated_total_then_records_the_capture_once() {
    let catalog: BTreeMap<_, _> = [product("A", 250, 10)].into();
    let mut h = vec![placed(&[("A", 2)], "tok_visa")];
    h.extend(given(&h).validate(&catalog).unwrap().events);
    let step = given(&h).payment_step().unwrap();
    assert!(matches!(step, PaymentStep::Charge { amount, .. } if amount == Money::from_minor(500)));
    let d = given(&h)
        .record_charge(ChargeResult::Captured {
            payment_id: "ch_1".into(),
        })
        .unwrap();
    h.extend(d.events);
    assert_eq!(given(&h).status(), Some(OrderStatus::Paid));
    let again = given(&h)
        .record_charge(ChargeResult::Captured {
            payment_id: "ch_2".into(),
        })
        .unwrap();
    assert!(
        again.events.is_empty(),
        "a second capture must not be recorded"
    );
    assert!(
        matches!(again.outcome, PaymentOutcome::Captured { ref payment_id, .. } if payment_id == "ch_1")
    );
}

#[test]
fn paying_before_validation_is_not_ready() {
    let order = given(&[placed(&[("A", 1)], "tok_visa")]);
    assert!(matches!(
        order.payment_step(),
        Err(OrderError::NotReady { .. })
    ));
}

#[test]
fn reservation_takes_stock_from_every_product_and_completes_the_order() {
    let h = validated_and_paid();
    let catalog: BTreeMap<_, _> = [product("A", 250, 3)].into();
    let (d, products) = given(&h).reserve(&catalog).unwrap();
    assert_eq!(
        d.outcome,
        ReserveOutcome::Reserved {
            total: Money::from_minor(500)
        }
    );
    assert!(matches!(
        &d.events[..],
        [
            OrderEvent::InventoryReserved(_),
            OrderEvent::OrderCompleted(_)
        ]
    ));
    assert!(matches!(
        &products[..],
        [ProductDecision { event: ProductEvent::StockReserved(s), .. }] if s.stock_after == 1
    ));
}

#[test]
fn reservation_beyond_stock_records_out_of_stock_and_takes_nothing() {
    let h = validated_and_paid();
    let catalog: BTreeMap<_, _> = [product("A", 250, 1)].into();
    let (d, products) = given(&h).reserve(&catalog).unwrap();
    assert!(matches!(
        d.outcome,
        ReserveOutcome::OutOfStock {
            requested: 2,
            available: 1,
            ..
        }
    ));
    assert!(products.is_empty());
}

#[test]
fn failing_a_paid_order_requires_the_refund_and_names_the_history_reason() {
    let mut h = validated_and_paid();
    let catalog: BTreeMap<_, _> = [product("A", 250, 0)].into();
    h.extend(given(&h).reserve(&catalog).unwrap().0.events);
    let order = given(&h);
    assert_eq!(
        order.fail("OutOfStock", None),
        Err(OrderError::RefundRequired)
    );
    let due = order.refund_due().unwrap().clone();
    let refund = PaymentRefunded {
        payment_id: due.payment_id,
        refund_id: "re_1".into(),
        amount: due.amount,
    };
    let d = order.fail("OutOfStock", Some(refund)).unwrap();
    assert_eq!(d.outcome, FailOutcome::Failed(FailureReason::OutOfStock));
    assert!(matches!(
        &d.events[..],
        [OrderEvent::PaymentRefunded(_), OrderEvent::OrderFailed(f)] if f.reason == FailureReason::OutOfStock
    ));
    h.extend(d.events);
    assert_eq!(given(&h).status(), Some(OrderStatus::Failed));
    assert!(given(&h).fail("again", None).unwrap().events.is_empty());
}

#[test]
fn a_declined_card_fails_with_payment_declined() {
    let catalog: BTreeMap<_, _> = [product("A", 250, 10)].into();
    let mut h = vec![placed(&[("A", 1)], "tok_decline")];
    h.extend(given(&h).validate(&catalog).unwrap().events);
    h.extend(
        given(&h)
            .record_charge(ChargeResult::Declined {
                code: "card_declined".into(),
                message: "declined".into(),
            })
            .unwrap()
            .events,
    );
    let d = given(&h).fail("PaymentDeclined", None).unwrap();
    assert_eq!(
        d.outcome,
        FailOutcome::Failed(FailureReason::PaymentDeclined)
    );
}

#[test]
fn a_completed_order_cannot_be_failed_by_a_stray_redelivery() {
    let mut h = validated_and_paid();
    let catalog: BTreeMap<_, _> = [product("A", 250, 5)].into();
    h.extend(given(&h).reserve(&catalog).unwrap().0.events);
    let d = given(&h).fail("late", None).unwrap();
    assert_eq!(d.outcome, FailOutcome::AlreadyCompleted);
    assert!(d.events.is_empty());
}
