//! The fold: every stage an order goes through, and what a log in an impossible order folds to
//! (never a failure).

use super::given::{given, placed, validated_and_paid};
use super::*;
use crate::events::{
    FailureReason, InventoryReserved, OrderCompleted, OrderFailed, OrderRejected, OrderValidated,
    OutOfStock, PaymentCaptured, PaymentDeclined, PaymentRefunded,
};
use crate::values::{Money, ProductId};

fn one_of_each() -> Vec<OrderEvent> {
    let p = ProductId::parse("A").unwrap();
    vec![
        placed(&[("A", 1)], "tok_visa"),
        OrderEvent::OrderValidated(OrderValidated {
            lines: vec![],
            total: Money::from_minor(1),
        }),
        OrderEvent::OrderRejected(OrderRejected {
            code: "C".into(),
            message: "m".into(),
        }),
        OrderEvent::PaymentCaptured(PaymentCaptured {
            payment_id: "ch".into(),
            amount: Money::from_minor(1),
        }),
        OrderEvent::PaymentDeclined(PaymentDeclined {
            code: "d".into(),
            message: "m".into(),
        }),
        OrderEvent::InventoryReserved(InventoryReserved { lines: vec![] }),
        OrderEvent::OutOfStock(OutOfStock {
            product_id: p,
            requested: 1,
            available: 0,
        }),
        OrderEvent::PaymentRefunded(PaymentRefunded {
            payment_id: "ch".into(),
            refund_id: "re".into(),
            amount: Money::from_minor(1),
        }),
        OrderEvent::OrderCompleted(OrderCompleted {
            total: Money::from_minor(1),
        }),
        OrderEvent::OrderFailed(OrderFailed {
            reason: FailureReason::ProcessingError,
            message: "m".into(),
        }),
    ]
}

fn fold(events: &[OrderEvent]) -> OrderState {
    events.iter().fold(OrderState::New, evolve)
}

#[test]
fn a_successful_order_moves_through_every_stage_in_turn() {
    let all = one_of_each();
    let path = [0, 1, 3, 5, 8].map(|i| all[i].clone());
    let stages: Vec<_> = (0..=path.len())
        .map(|n| fold(&path[..n]))
        .map(|s| match s {
            OrderState::New => "new",
            OrderState::Open(Progress::Placed(_)) => "placed",
            OrderState::Open(Progress::Validated(_)) => "validated",
            OrderState::Open(Progress::Paid(_)) => "paid",
            OrderState::Open(Progress::Reserved(..)) => "reserved",
            OrderState::Completed(_) => "completed",
            other => panic!("unexpected stage {other:?}"),
        })
        .collect();
    assert_eq!(
        stages,
        [
            "new",
            "placed",
            "validated",
            "paid",
            "reserved",
            "completed"
        ]
    );
}

#[test]
fn a_failed_order_keeps_how_far_it_had_got() {
    let all = one_of_each();
    let rejected = fold(&[0, 2, 9].map(|i| all[i].clone()));
    assert!(matches!(
        rejected,
        OrderState::Failed(ref f) if matches!(f.progress, Progress::Rejected(..))
    ));
    let declined = fold(&[0, 1, 4, 9].map(|i| all[i].clone()));
    assert!(matches!(
        declined,
        OrderState::Failed(ref f) if matches!(f.progress, Progress::Declined(..))
    ));
    let short = fold(&[0, 1, 3, 6, 7, 9].map(|i| all[i].clone()));
    assert!(matches!(
        short,
        OrderState::Failed(ref f) if matches!(f.progress, Progress::Refunded(_, Some(_), _))
    ));
    assert_eq!(short.status(), Some(OrderStatus::Failed));
    assert!(short.paid().is_some() && short.refund_due().is_none());
}

#[test]
fn an_event_the_state_cannot_follow_leaves_it_as_it_was() {
    let all = one_of_each();
    let placed_only = fold(&all[..1]);
    for early in [3, 4, 5, 6, 7, 8] {
        assert_eq!(
            evolve(placed_only.clone(), &all[early]),
            placed_only,
            "{:?} before validation",
            all[early].event_type()
        );
    }
    let second = placed(&[("B", 9)], "tok_visa");
    assert_eq!(evolve(placed_only.clone(), &second), placed_only);
    assert_eq!(evolve(OrderState::New, &all[1]), OrderState::New);
}

#[test]
fn an_ended_order_stays_ended_whatever_follows() {
    let completed = fold(&{
        let all = one_of_each();
        [0, 1, 3, 5, 8].map(|i| all[i].clone())
    });
    for e in one_of_each() {
        assert_eq!(evolve(completed.clone(), &e), completed);
    }
    let failed = given(&{
        let mut h = validated_and_paid();
        h.push(one_of_each()[9].clone());
        h
    })
    .state;
    for e in one_of_each() {
        assert_eq!(evolve(failed.clone(), &e), failed);
    }
}

#[test]
fn any_sequence_of_events_folds_without_failing_and_an_end_is_final() {
    let all = one_of_each();
    for a in &all {
        for b in &all {
            for c in &all {
                let mut state = OrderState::New;
                let mut ended = false;
                for e in [a, b, c] {
                    state = evolve(state, e);
                    let now_ended = state.status().is_some_and(OrderStatus::is_terminal);
                    assert!(!ended || now_ended, "an end was undone");
                    ended = now_ended;
                    assert_eq!(state.placed().is_some(), state.status().is_some());
                }
            }
        }
    }
}
