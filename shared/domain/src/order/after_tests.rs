//! Cancel, ship and refund decisions in given / when / then form.

use super::given::{
    captured, catalog, fail, given, pid, placed, refund_of, reserve, validate, when,
};
use super::*;
use crate::events::{OrderLine, ProductEvent};
use crate::values::Quantity;

fn completed() -> Vec<OrderEvent> {
    let mut h = vec![placed(&[("A", 3), ("B", 1)], "tok_visa")];
    when(&mut h, &validate(&[("A", 250, 10), ("B", 1000, 5)]));
    when(&mut h, &captured("ch_1"));
    when(&mut h, &reserve(&[("A", 250, 10), ("B", 1000, 5)]));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Completed));
    h
}

fn cancel() -> OrderCommand {
    OrderCommand::RequestCancellation {
        reason: "changed my mind".into(),
    }
}

fn refund(key: &str, items: &[(&str, i64)], restock: bool) -> OrderCommand {
    OrderCommand::RequestRefund(RefundRequest {
        idempotency_key: key.into(),
        items: items
            .iter()
            .map(|(p, q)| OrderLine {
                product_id: pid(p),
                quantity: Quantity::new(*q).unwrap(),
            })
            .collect(),
        restock,
        reason: "damaged".into(),
    })
}

fn issued(refund_id: &str) -> OrderCommand {
    OrderCommand::SettleRefund {
        refund_id: refund_id.into(),
        result: RefundResult::Issued {
            gateway_refund_id: format!("re_{refund_id}"),
        },
    }
}

fn refund_id(h: &[OrderEvent], n: usize) -> String {
    format!("{}-R{n}", given(h).state.id().unwrap())
}

fn refused(h: &[OrderEvent], command: &OrderCommand) -> OrderError {
    given(h).decide(command).unwrap_err()
}

#[test]
fn an_order_cancelled_before_validation_stops_and_ends_cancelled_with_nothing_refunded() {
    let mut h = vec![placed(&[("A", 1)], "tok_visa")];
    assert!(matches!(
        &when(&mut h, &cancel())[..],
        [OrderEvent::CancellationRequested(_)]
    ));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Cancelling));
    assert!(
        when(&mut h, &cancel()).is_empty(),
        "a second cancel is the same cancel"
    );
    assert_eq!(
        refused(&h, &validate(&[("A", 250, 10)])),
        OrderError::Cancelled
    );
    let events = when(&mut h, &fail("OrderCancelled", None));
    assert!(matches!(&events[..], [OrderEvent::OrderCancelled(c)] if c.refunded.minor() == 0));
    let state = given(&h).state;
    assert_eq!(state.status(), Some(OrderStatus::Cancelled));
    assert_eq!(state.ending(), Some(FailOutcome::Cancelled));
    assert!(when(&mut h, &cancel()).is_empty());
    assert!(when(&mut h, &fail("again", None)).is_empty());
}

#[test]
fn a_paid_order_cancelled_gives_its_charge_back_before_it_ends() {
    let mut h = vec![placed(&[("A", 2)], "tok_visa")];
    when(&mut h, &validate(&[("A", 250, 10)]));
    when(&mut h, &captured("ch_1"));
    when(&mut h, &cancel());
    assert_eq!(
        refused(&h, &reserve(&[("A", 250, 10)])),
        OrderError::Cancelled
    );
    assert_eq!(refused(&h, &fail("x", None)), OrderError::RefundRequired);
    let refund = refund_of(&given(&h).state);
    let events = when(&mut h, &fail("x", Some(refund)));
    assert!(matches!(
        &events[..],
        [OrderEvent::PaymentRefunded(_), OrderEvent::OrderCancelled(c)] if c.refunded.minor() == 500
    ));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Cancelled));
}

#[test]
fn a_charge_in_flight_when_the_cancel_arrived_is_recorded_so_it_is_given_back() {
    let mut h = vec![placed(&[("A", 2)], "tok_visa")];
    when(&mut h, &validate(&[("A", 250, 10)]));
    when(&mut h, &cancel());
    assert!(matches!(
        given(&h).state.payment_step(),
        Err(OrderError::Cancelled)
    ));
    assert!(matches!(
        &when(&mut h, &captured("ch_1"))[..],
        [OrderEvent::PaymentCaptured(_)]
    ));
    let state = given(&h).state;
    assert_eq!(state.status(), Some(OrderStatus::Cancelling));
    assert_eq!(state.refund_due().map(|p| p.amount.minor()), Some(500));
}

#[test]
fn a_completed_order_cancelled_refunds_everything_restocked_and_ends_cancelled() {
    let mut h = completed();
    let events = when(&mut h, &cancel());
    let [OrderEvent::RefundRequested(r)] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(r.cancellation && r.restock);
    assert_eq!((r.amount.minor(), r.lines.len()), (1750, 2));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Cancelling));
    assert!(when(&mut h, &cancel()).is_empty());
    let before = given(&h).state;
    let events = before.clone();
    let settled = given(&h).decide(&issued(&refund_id(&h, 1))).unwrap();
    assert!(matches!(
        &settled[..],
        [OrderEvent::RefundIssued(_), OrderEvent::OrderCancelled(c)] if c.refunded.minor() == 1750
    ));
    let put_back = return_stock(
        &events,
        &settled,
        &catalog(&[("A", 250, 7), ("B", 1000, 4)]),
    )
    .unwrap();
    assert!(matches!(
        &put_back[..],
        [ProductDecision { event: ProductEvent::StockAdded(a), .. }, ProductDecision { event: ProductEvent::StockAdded(b), .. }]
            if a.stock_after == 10 && b.stock_after == 5 && a.refund_id.as_deref() == Some(refund_id(&h, 1).as_str())
    ));
    h.extend(settled);
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Cancelled));
    assert_eq!(
        refused(&h, &refund("k", &[("A", 1)], false)),
        OrderError::Closed {
            status: Some(OrderStatus::Cancelled)
        }
    );
}

#[test]
fn a_shipped_order_cannot_be_cancelled_and_ships_once() {
    let mut h = vec![placed(&[("A", 1)], "tok_visa")];
    let ship = |carrier: &str| OrderCommand::Ship {
        carrier: carrier.into(),
        tracking_id: "TRK1".into(),
    };
    assert!(matches!(
        refused(&h, &ship("UPS")),
        OrderError::NotCompleted { .. }
    ));
    h = completed();
    assert!(matches!(
        &when(&mut h, &ship("UPS"))[..],
        [OrderEvent::OrderShipped(_)]
    ));
    assert_eq!(given(&h).state.status(), Some(OrderStatus::Shipped));
    assert!(when(&mut h, &ship("UPS")).is_empty());
    assert_eq!(refused(&h, &ship("DHL")), OrderError::AlreadyShipped);
    assert_eq!(refused(&h, &cancel()), OrderError::AlreadyShipped);
}

#[test]
fn a_partial_refund_then_the_rest_and_never_more_than_a_line_holds() {
    let mut h = completed();
    let events = when(&mut h, &refund("k1", &[("A", 1)], true));
    assert!(matches!(&events[..], [OrderEvent::RefundRequested(r)] if r.amount.minor() == 250));
    assert_eq!(
        refused(&h, &refund("k2", &[("A", 3)], true)),
        OrderError::ExceedsLine {
            product_id: pid("A"),
            requested: 3,
            refundable: 2
        }
    );
    assert_eq!(
        given(&h).state.status(),
        Some(OrderStatus::Completed),
        "pending is not refunded"
    );
    let first = issued(&refund_id(&h, 1));
    when(&mut h, &first);
    assert_eq!(
        given(&h).state.status(),
        Some(OrderStatus::PartiallyRefunded)
    );
    when(
        &mut h,
        &refund("k2", &[("A", 1), ("B", 1), ("A", 1)], false),
    );
    let second = issued(&refund_id(&h, 2));
    when(&mut h, &second);
    let OrderState::Completed(c) = given(&h).state else {
        panic!()
    };
    assert_eq!(
        (c.status(), c.after.amount_refunded()),
        (OrderStatus::Refunded, 1750)
    );
    assert!(matches!(
        refused(&h, &refund("k3", &[("A", 1)], true)),
        OrderError::ExceedsLine { refundable: 0, .. }
    ));
}

#[test]
fn an_idempotency_key_is_one_refund_and_a_failed_refund_frees_its_lines() {
    let mut h = completed();
    when(&mut h, &refund("k1", &[("A", 3)], true));
    assert!(when(&mut h, &refund("k1", &[("A", 3)], true)).is_empty());
    assert_eq!(
        refused(&h, &refund("k1", &[("A", 2)], true)),
        OrderError::IdempotencyKeyReused
    );
    assert_eq!(
        refused(&h, &refund("k9", &[("Z", 1)], true)),
        OrderError::NotInOrder(pid("Z"))
    );
    assert_eq!(refused(&h, &cancel()), OrderError::RefundInProgress);
    let failed = OrderCommand::SettleRefund {
        refund_id: refund_id(&h, 1),
        result: RefundResult::Failed {
            message: "gateway down".into(),
        },
    };
    assert!(matches!(
        &when(&mut h, &failed)[..],
        [OrderEvent::RefundFailed(_)]
    ));
    assert!(when(&mut h, &failed).is_empty());
    assert_eq!(
        refused(&h, &issued(&refund_id(&h, 1))),
        OrderError::RefundSettled(refund_id(&h, 1))
    );
    let OrderState::Completed(c) = given(&h).state else {
        panic!()
    };
    assert_eq!(
        (c.refundable(&pid("A")), c.status()),
        (3, OrderStatus::Completed)
    );
    assert!(
        matches!(&when(&mut h, &refund("k2", &[("A", 3)], false))[..], [OrderEvent::RefundRequested(r)] if r.refund_id.ends_with("-R2"))
    );
}
