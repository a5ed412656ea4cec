//! The status view through each after-sale path, one decided event at a time: the view's status
//! is the aggregate's at every version, and it shows the shipment, the refunds and the amount
//! refunded.

use order_domain::events::DecodeError;
use order_domain::order::{OrderCommand, OrderStatus};
use order_domain::{Money, OrderEvent, Timestamp};
use order_read_models::order_status::{AfterSaleView, RefundStatus};
use order_read_models::{Next, OrderView, View, advance_batch, next};

use crate::story::{
    LINES, Story, TOTAL, cancel, captured, catalog, issued, refund, refund_failed, ship,
};

/// The view of the whole story, after checking that the view's status equals the aggregate's
/// after every event.
fn view_of(story: &Story) -> OrderView {
    let mut view: Option<OrderView> = None;
    for (n, record) in story.recorded.iter().enumerate() {
        view = OrderView::fold(view, std::slice::from_ref(record)).unwrap();
        let order = order_domain::order::Order::from_history(&story.recorded[..=n]).unwrap();
        assert_eq!(
            view.as_ref().map(|v| v.status),
            order.state.status(),
            "after {} (version {})",
            record.event_type,
            record.version
        );
    }
    view.expect("an order's view")
}

fn status(story: &Story) -> OrderStatus {
    view_of(story).status
}

#[test]
fn an_order_cancelled_before_validation_is_cancelling_then_cancelled_with_nothing_refunded() {
    let mut s = Story::placed();
    s.run(&cancel());
    assert_eq!(status(&s), OrderStatus::Cancelling);
    assert!(
        s.try_run(&OrderCommand::Validate {
            products: catalog(10)
        })
        .is_err()
    );
    s.fail().unwrap();
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Cancelled);
    assert!(!v.refunded);
    assert_eq!(v.total, None);
    assert_eq!(*v.after, AfterSaleView::default());
}

#[test]
fn an_order_cancelled_once_paid_stays_cancelling_while_the_workflow_runs_and_ends_refunded() {
    let mut s = Story::placed();
    s.run(&OrderCommand::Validate {
        products: catalog(10),
    });
    s.run(&cancel());
    // A charge the gateway made before the cancellation arrived is recorded all the same.
    s.run(&captured());
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Cancelling);
    assert_eq!(v.payment_id.as_deref(), Some("ch_1"));
    assert_eq!(v.after.lines.len(), LINES.len(), "priced lines kept");
    let events = s.fail().unwrap();
    assert!(matches!(
        &events[..],
        [OrderEvent::PaymentRefunded(_), OrderEvent::OrderCancelled(c)] if c.refunded.minor() == TOTAL
    ));
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Cancelled);
    assert!(v.refunded);
    assert_eq!(v.reason, None, "a cancellation is not a failure");
}

#[test]
fn a_completed_order_cancelled_is_cancelling_until_its_refund_is_issued_then_cancelled() {
    let mut s = Story::completed();
    s.run(&cancel());
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Cancelling);
    let r = &v.after.refunds[0];
    assert_eq!(r.refund_id, s.refund_id(1));
    assert_eq!(
        (r.status, r.cancellation, r.restock),
        (RefundStatus::Pending, true, true)
    );
    assert_eq!(r.amount, Money::from_minor(TOTAL));
    assert_eq!(r.settled_at, None);
    assert_eq!(v.after.amount_refunded, Money::default());

    s.run(&issued(&s.refund_id(1)));
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Cancelled);
    assert_eq!(v.after.amount_refunded, Money::from_minor(TOTAL));
    assert_eq!(v.after.refunds[0].status, RefundStatus::Issued);
    assert_eq!(v.after.refunds[0].settled_at, Some(v.updated_at));
    assert!(v.refunded);
    assert_eq!(v.version, s.recorded.len() as u64);
}

#[test]
fn a_completed_orders_cancellation_whose_refund_failed_is_completed_again() {
    let mut s = Story::completed();
    s.run(&cancel());
    s.run(&refund_failed(&s.refund_id(1)));
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Completed);
    assert_eq!(v.after.refunds[0].status, RefundStatus::Failed);
}

#[test]
fn a_shipped_order_shows_its_carrier_tracking_id_and_when() {
    let mut s = Story::completed();
    s.run(&ship());
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Shipped);
    let shipment = v.after.shipment.as_ref().unwrap();
    assert_eq!(
        (shipment.carrier.as_str(), shipment.tracking_id.as_str()),
        ("UPS", "1Z999")
    );
    assert_eq!(shipment.shipped_at, s.recorded.last().unwrap().occurred_at);
    assert!(
        s.try_run(&cancel()).is_err(),
        "a shipped order is not cancelled"
    );
}

#[test]
fn a_partial_refund_then_the_rest_is_partially_refunded_then_refunded() {
    let mut s = Story::completed();
    s.run(&ship());
    s.run(&refund("k1", &[("A", 1)], true));
    let v = view_of(&s);
    assert_eq!(
        v.status,
        OrderStatus::Shipped,
        "a pending refund changes nothing yet"
    );
    assert_eq!(v.after.refunds[0].status, RefundStatus::Pending);
    s.run(&issued(&s.refund_id(1)));
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::PartiallyRefunded);
    assert_eq!(v.after.amount_refunded, Money::from_minor(250));
    assert!(v.refunded);

    s.run(&refund("k2", &[("A", 2), ("B", 1)], false));
    s.run(&issued(&s.refund_id(2)));
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Refunded);
    assert_eq!(v.after.amount_refunded, Money::from_minor(TOTAL));
    let amounts: Vec<u64> = v.after.refunds.iter().map(|r| r.amount.minor()).collect();
    assert_eq!(amounts, [250, 2 * 250 + 1000]);
    assert!(
        v.after
            .refunds
            .iter()
            .all(|r| r.status == RefundStatus::Issued)
    );
    assert_eq!(
        v.after.shipment.as_ref().map(|x| x.carrier.as_str()),
        Some("UPS")
    );
}

#[test]
fn a_failed_refund_frees_its_lines_and_leaves_the_status_and_amount() {
    let mut s = Story::completed();
    s.run(&refund("k1", &[("B", 1)], true));
    s.run(&refund_failed(&s.refund_id(1)));
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::Completed);
    assert_eq!(v.after.refunds[0].status, RefundStatus::Failed);
    assert!(v.after.refunds[0].settled_at.is_some());
    assert_eq!(v.after.amount_refunded, Money::default());
    assert!(!v.refunded);
    // The same line may be refunded again, under a new refund id.
    s.run(&refund("k2", &[("B", 1)], true));
    s.run(&issued(&s.refund_id(2)));
    let v = view_of(&s);
    assert_eq!(v.status, OrderStatus::PartiallyRefunded);
    assert_eq!(v.after.amount_refunded, Money::from_minor(1000));
}

#[test]
fn a_refund_issued_twice_counts_its_amount_once_as_the_aggregate_does() {
    let mut s = Story::completed();
    s.run(&refund("k1", &[("A", 1)], false));
    let issued_once = s.run(&issued(&s.refund_id(1)));
    // A second RefundIssued of the same refund (only a corrupt log has one; the audit names it).
    s.append(issued_once);
    let v = view_of(&s);
    let order_domain::order::OrderState::Completed(c) = s.state() else {
        panic!("completed")
    };
    assert_eq!(c.after.amount_refunded(), 250);
    assert_eq!(v.after.amount_refunded, Money::from_minor(250));
    assert_eq!(v.status, OrderStatus::PartiallyRefunded);
}

/// Every after-sale event: shipped, refunded in part, a refund failed, the rest refunded.
fn everything() -> Story {
    let mut s = Story::completed();
    s.run(&ship());
    s.run(&refund("k1", &[("A", 1)], true));
    s.run(&issued(&s.refund_id(1)));
    s.run(&refund("k2", &[("B", 1)], false));
    s.run(&refund_failed(&s.refund_id(2)));
    s.run(&refund("k3", &[("A", 2), ("B", 1)], true));
    s.run(&issued(&s.refund_id(3)));
    s
}

#[test]
fn only_the_next_version_applies_an_after_sale_event() {
    let s = everything();
    let log = &s.recorded;
    let at = |n: usize| OrderView::fold(None, &log[..n]).unwrap().unwrap();
    for n in 1..log.len() {
        let view = at(n);
        // The next version applies; the same or an older one is a duplicate; a later one is
        // past a gap and asks for the history after the view's version.
        assert_eq!(next(Some(&view), &log[n]).unwrap(), Next::Write(at(n + 1)));
        assert_eq!(next(Some(&view), &log[n - 1]).unwrap(), Next::Keep);
        if let Some(later) = log.get(n + 1) {
            assert_eq!(
                next(Some(&view), later).unwrap(),
                Next::ReadHistory {
                    after_version: n as u64
                }
            );
        }
    }
}

#[test]
fn after_sale_events_redelivered_and_reordered_end_in_the_straight_fold() {
    let s = everything();
    let log = &s.recorded;
    let straight = OrderView::fold(None, log).unwrap().unwrap();
    assert_eq!(straight.status, OrderStatus::Refunded);
    let n = log.len();
    let orders: [Vec<usize>; 4] = [
        (0..n).rev().collect(),
        (0..n).flat_map(|i| [i, i]).collect(),
        (0..n).map(|i| (i * 7) % n).chain(0..n).collect(),
        [n - 1, 0]
            .into_iter()
            .chain(0..n)
            .chain([n - 2, 3])
            .collect(),
    ];
    for delivery in orders {
        let mut stored: Option<OrderView> = None;
        for &i in &delivery {
            let moved = advance_batch::<OrderView, DecodeError>(
                [&log[i]],
                |_| Ok(stored.clone()),
                |_, after| Ok(log[usize::try_from(after).unwrap()..].to_vec()),
            )
            .unwrap();
            // The put every store makes: guarded by the view's version.
            if let Some(v) = moved.into_iter().last()
                && stored.as_ref().is_none_or(|s| s.version < v.version)
            {
                stored = Some(v);
            }
        }
        assert_eq!(stored.as_ref(), Some(&straight), "{delivery:?}");
    }
}

#[test]
fn the_after_sale_fields_are_flattened_into_the_view_and_read_back() {
    let s = everything();
    let v = OrderView::fold(None, &s.recorded).unwrap().unwrap();
    let json = serde_json::to_value(&v).unwrap();
    for field in ["lines", "shipment", "refunds", "amountRefunded"] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert!(json.get("after").is_none(), "flattened, not nested: {json}");
    assert_eq!(json["status"], "REFUNDED");
    assert_eq!(json["refunds"][1]["status"], "FAILED");
    assert_eq!(json["shipment"]["trackingId"], "1Z999");
    let back: OrderView = serde_json::from_value(json).unwrap();
    assert_eq!(back, v);
    // A view written before the after-sale fields existed still reads, with them empty.
    let mut old = serde_json::to_value(OrderView::fold(None, &s.recorded[..1]).unwrap()).unwrap();
    for field in ["lines", "shipment", "refunds", "amountRefunded"] {
        old.as_object_mut().unwrap().remove(field);
    }
    let read: OrderView = serde_json::from_value(old).unwrap();
    assert_eq!(*read.after, AfterSaleView::default());
    assert_eq!(read.placed_at, Timestamp::from_millis(1_010));
}
