//! Order decisions in given / when / then form: given a stored history, when a command is
//! decided, then these events are appended and the step's answer reads so from the state.

use std::collections::BTreeMap;

use super::given::{
    captured, catalog, fail, given, placed, refund_of, reserve, validate, validated_and_paid, when,
};
use super::*;
use crate::events::{FailureReason, ProductEvent};
use crate::product::ProductError;
use crate::values::Money;

#[test]
fn a_placed_order_with_known_products_in_stock_is_validated_and_priced() {
    let mut h = vec![placed(&[("A", 2), ("B", 1)], "tok_visa")];
    let events = when(&mut h, &validate(&[("A", 250, 10), ("B", 1000, 1)]));
    assert!(matches!(&events[..], [OrderEvent::OrderValidated(v)] if v.lines.len() == 2));
    assert_eq!(
        given(&h).state.validation(),
        Some(ValidateOutcome::Validated {
            total: Money::from_minor(1500)
        })
    );
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Validated));
}

#[test]
fn an_unknown_product_is_rejected_with_its_code() {
    let mut h = vec![placed(&[("NOPE", 1)], "tok_visa")];
    let events = when(&mut h, &validate(&[]));
    assert!(matches!(&events[..], [OrderEvent::OrderRejected(_)]));
    assert!(matches!(
        given(&h).state.validation(),
        Some(ValidateOutcome::Rejected { ref code, .. }) if code == "UNKNOWN_PRODUCT"
    ));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Placed));
}

#[test]
fn more_than_the_stock_at_validation_is_rejected_as_insufficient() {
    let mut h = vec![placed(&[("A", 3)], "tok_visa")];
    when(&mut h, &validate(&[("A", 250, 2)]));
    assert!(matches!(
        given(&h).state.validation(),
        Some(ValidateOutcome::Rejected { ref code, ref message })
            if code == "INSUFFICIENT_STOCK" && message == "product A has 2 available, 3 requested"
    ));
}

#[test]
fn validating_twice_appends_nothing_the_second_time() {
    let mut h = vec![placed(&[("A", 1)], "tok_visa")];
    when(&mut h, &validate(&[("A", 250, 10)]));
    let first = given(&h).state.validation();
    let again = when(&mut h, &validate(&[("A", 999, 10)]));
    assert!(again.is_empty());
    assert_eq!(given(&h).state.validation(), first);
}

#[test]
fn payment_asks_for_the_validated_total_then_records_the_capture_once() {
    let mut h = vec![placed(&[("A", 2)], "tok_visa")];
    when(&mut h, &validate(&[("A", 250, 10)]));
    let step = given(&h).state.payment_step().unwrap();
    assert!(matches!(step, PaymentStep::Charge { amount, .. } if amount == Money::from_minor(500)));
    when(&mut h, &captured("ch_1"));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Paid));
    let again = when(&mut h, &captured("ch_2"));
    assert!(again.is_empty(), "a second capture must not be recorded");
    assert!(matches!(
        given(&h).state.payment_step(),
        Ok(PaymentStep::Done(PaymentOutcome::Captured { ref payment_id, .. })) if payment_id == "ch_1"
    ));
}

#[test]
fn paying_before_validation_is_not_ready() {
    let order = given(&[placed(&[("A", 1)], "tok_visa")]);
    assert!(matches!(
        order.state.payment_step(),
        Err(OrderError::NotReady { .. })
    ));
    assert!(matches!(
        order.decide(&captured("ch_1")),
        Err(OrderError::NotReady { .. })
    ));
}

#[test]
fn every_step_of_an_order_never_placed_is_refused_as_not_placed() {
    let order = given(&[]);
    for command in [
        validate(&[]),
        captured("ch_1"),
        reserve(&[]),
        fail("boom", None),
    ] {
        assert_eq!(order.decide(&command), Err(OrderError::NotPlaced));
    }
}

#[test]
fn placing_opens_a_new_stream_and_decides_nothing_on_one_that_has_events() {
    let OrderEvent::OrderPlaced(p) = placed(&[("A", 1)], "tok_visa") else {
        unreachable!()
    };
    let first = Order::default().place(p.clone());
    assert!(matches!(&first.events[..], [OrderEvent::OrderPlaced(_)]));
    assert!(given(&first.events).place(p.clone()).events.is_empty());
    assert_eq!(
        decide(&given(&first.events).state, &OrderCommand::Place(p)),
        Ok(vec![])
    );
}

#[test]
fn reservation_takes_stock_from_every_product_and_completes_the_order() {
    let mut h = validated_and_paid();
    let products = catalog(&[("A", 250, 3)]);
    let order_id = given(&h).state.id().unwrap();
    let events = when(&mut h, &reserve(&[("A", 250, 3)]));
    assert!(matches!(
        &events[..],
        [
            OrderEvent::InventoryReserved(_),
            OrderEvent::OrderCompleted(_)
        ]
    ));
    assert_eq!(
        given(&h).state.reservation(),
        Some(ReserveOutcome::Reserved {
            total: Money::from_minor(500)
        })
    );
    let taken = take_stock(order_id, &events, &products).unwrap();
    assert!(matches!(
        &taken[..],
        [ProductDecision { event: ProductEvent::StockReserved(s), .. }]
            if s.stock_after == 1 && s.order_id == order_id
    ));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Completed));
    assert!(when(&mut h, &reserve(&[("A", 250, 3)])).is_empty());
}

#[test]
fn reservation_beyond_stock_records_out_of_stock_and_takes_nothing() {
    let mut h = validated_and_paid();
    let products = catalog(&[("A", 250, 1)]);
    let order_id = given(&h).state.id().unwrap();
    let events = when(&mut h, &reserve(&[("A", 250, 1)]));
    assert!(take_stock(order_id, &events, &products).unwrap().is_empty());
    let shortage = given(&h).state.reservation();
    assert!(matches!(
        shortage,
        Some(ReserveOutcome::OutOfStock {
            requested: 2,
            available: 1,
            ..
        })
    ));
    let again = when(&mut h, &reserve(&[("A", 250, 9)]));
    assert!(
        again.is_empty(),
        "a restock after the shortage changes nothing"
    );
    assert_eq!(given(&h).state.reservation(), shortage);
}

#[test]
fn stock_the_products_cannot_give_is_refused_for_the_product() {
    let mut h = validated_and_paid();
    let order_id = given(&h).state.id().unwrap();
    let events = when(&mut h, &reserve(&[("A", 250, 3)]));
    let other = catalog(&[("A", 250, 1)]);
    assert!(matches!(
        take_stock(order_id, &events, &other),
        Err(OrderError::Stock {
            source: ProductError::InsufficientStock { .. },
            ..
        })
    ));
    assert!(matches!(
        take_stock(order_id, &events, &BTreeMap::new()),
        Err(OrderError::Stock {
            source: ProductError::Unknown,
            ..
        })
    ));
}

#[test]
fn failing_a_paid_order_requires_the_refund_and_names_the_history_reason() {
    let mut h = validated_and_paid();
    when(&mut h, &reserve(&[("A", 250, 0)]));
    let order = given(&h);
    assert_eq!(
        order.decide(&fail("OutOfStock", None)),
        Err(OrderError::RefundRequired)
    );
    let refund = refund_of(&order.state);
    let events = when(&mut h, &fail("OutOfStock", Some(refund)));
    assert!(matches!(
        &events[..],
        [OrderEvent::PaymentRefunded(_), OrderEvent::OrderFailed(f)] if f.reason == FailureReason::OutOfStock
    ));
    let state = given(&h).state;
    assert_eq!(
        state.ending(),
        Some(FailOutcome::Failed(FailureReason::OutOfStock))
    );
    assert_eq!(state.status(), Some(OrderStatus::Failed));
    assert_eq!(state.refund_due(), None);
    assert!(when(&mut h, &fail("again", None)).is_empty());
    assert_eq!(
        given(&h).state.ending(),
        Some(FailOutcome::Failed(FailureReason::OutOfStock))
    );
}

#[test]
fn a_declined_card_fails_with_payment_declined() {
    let mut h = vec![placed(&[("A", 1)], "tok_decline")];
    when(&mut h, &validate(&[("A", 250, 10)]));
    when(
        &mut h,
        &OrderCommand::RecordCharge(ChargeResult::Declined {
            code: "card_declined".into(),
            message: "declined".into(),
        }),
    );
    assert_eq!(given(&h).state.refund_due(), None);
    when(&mut h, &fail("PaymentDeclined", None));
    assert_eq!(
        given(&h).state.ending(),
        Some(FailOutcome::Failed(FailureReason::PaymentDeclined))
    );
}

#[test]
fn a_step_that_broke_after_payment_refunds_and_fails_with_the_caught_error() {
    let mut h = validated_and_paid();
    let refund = refund_of(&given(&h).state);
    let long = "x".repeat(600);
    let events = when(&mut h, &fail(&long, Some(refund)));
    assert!(matches!(
        &events[..],
        [OrderEvent::PaymentRefunded(_), OrderEvent::OrderFailed(f)]
            if f.reason == FailureReason::ProcessingError && f.message.len() == 500
    ));
}

#[test]
fn a_completed_order_cannot_be_failed_by_a_stray_redelivery() {
    let mut h = validated_and_paid();
    when(&mut h, &reserve(&[("A", 250, 5)]));
    assert_eq!(given(&h).state.refund_due(), None);
    assert!(when(&mut h, &fail("late", None)).is_empty());
    assert_eq!(
        given(&h).state.ending(),
        Some(FailOutcome::AlreadyCompleted)
    );
}

#[test]
fn a_failed_order_answers_a_late_step_from_what_it_had_recorded() {
    let mut rejected = vec![placed(&[("NOPE", 1)], "tok_visa")];
    when(&mut rejected, &validate(&[]));
    when(&mut rejected, &fail("OrderRejected", None));
    assert!(when(&mut rejected, &validate(&[("NOPE", 1, 1)])).is_empty());
    assert!(matches!(
        given(&rejected).state.validation(),
        Some(ValidateOutcome::Rejected { .. })
    ));

    let mut short = validated_and_paid();
    when(&mut short, &reserve(&[]));
    let refund = refund_of(&given(&short).state);
    when(&mut short, &fail("OutOfStock", Some(refund)));
    assert!(when(&mut short, &reserve(&[("A", 250, 9)])).is_empty());
    assert!(matches!(
        given(&short).state.reservation(),
        Some(ReserveOutcome::OutOfStock { .. })
    ));
    assert!(matches!(
        given(&short).state.payment_step(),
        Ok(PaymentStep::Done(PaymentOutcome::Captured { .. }))
    ));
}

#[test]
fn a_failed_order_is_not_taken_any_further() {
    let mut h = vec![placed(&[("A", 1)], "tok_visa")];
    when(&mut h, &fail("States.Timeout", None));
    let failed = given(&h);
    assert!(matches!(
        failed.decide(&validate(&[("A", 250, 10)])),
        Err(OrderError::NotReady {
            status: Some(OrderStatus::Failed),
            ..
        })
    ));
    assert!(matches!(
        failed.decide(&reserve(&[("A", 250, 10)])),
        Err(OrderError::NotReady { .. })
    ));
}

#[test]
fn a_paid_order_s_failure_is_recorded_before_its_refund_and_no_reservation_follows_it() {
    let mut h = validated_and_paid();
    let begin = OrderCommand::BeginFailure {
        error: "States.Timeout: UpdateInventory".into(),
    };
    let events = when(&mut h, &begin);
    assert!(matches!(
        &events[..],
        [OrderEvent::OrderFailing(f)] if f.message == "States.Timeout: UpdateInventory"
    ));
    let failing = given(&h);
    assert_eq!(failing.state.status(), Some(OrderStatus::Paid));
    assert_eq!(failing.state.ending(), None);
    assert!(
        failing.state.refund_due().is_some(),
        "the charge is still due back"
    );
    assert!(when(&mut h, &begin).is_empty(), "recorded once");
    assert_eq!(
        given(&h).decide(&reserve(&[("A", 250, 10)])),
        Err(OrderError::Failing),
        "another execution's reservation is refused"
    );
    assert_eq!(
        given(&h).decide(&OrderCommand::RequestCancellation {
            reason: "too late".into()
        }),
        Err(OrderError::Failing)
    );

    // The step (or the sweeper) that finishes it fails it for the recorded reason, whatever
    // error it caught itself.
    let refund = refund_of(&given(&h).state);
    let events = when(&mut h, &fail("Sweeper: stuck", Some(refund)));
    assert!(matches!(
        &events[..],
        [OrderEvent::PaymentRefunded(_), OrderEvent::OrderFailed(f)]
            if f.reason == FailureReason::ProcessingError
                && f.message == "States.Timeout: UpdateInventory"
    ));
    let state = given(&h).state;
    assert_eq!(
        state.ending(),
        Some(FailOutcome::Failed(FailureReason::ProcessingError))
    );
    assert_eq!(state.refund_due(), None);
    assert!(matches!(
        state,
        OrderState::Failed(ref f) if matches!(f.progress.stage(), Progress::Refunded(..))
    ));
}

#[test]
fn only_a_paid_order_that_nothing_else_stops_records_its_failure_first() {
    let begin = OrderCommand::BeginFailure {
        error: "boom".into(),
    };
    // Not paid: nothing to give back, so nothing to guard.
    let mut placed_only = vec![placed(&[("A", 1)], "tok_visa")];
    assert!(when(&mut placed_only, &begin).is_empty());
    // Out of stock: the shortage in the log already stops a reservation.
    let mut short = validated_and_paid();
    when(&mut short, &reserve(&[]));
    assert!(when(&mut short, &begin).is_empty());
    // Cancelling: the customer's request does.
    let mut cancelling = validated_and_paid();
    when(
        &mut cancelling,
        &OrderCommand::RequestCancellation {
            reason: "changed my mind".into(),
        },
    );
    assert!(when(&mut cancelling, &begin).is_empty());
    // Completed (by another execution first): nothing to fail, nothing to refund.
    let mut completed = validated_and_paid();
    when(&mut completed, &reserve(&[("A", 250, 5)]));
    assert!(when(&mut completed, &begin).is_empty());
    assert_eq!(given(&completed).state.refund_due(), None);
    assert_eq!(
        given(&[]).decide(&begin),
        Err(OrderError::NotPlaced),
        "no order, no failure"
    );
}
