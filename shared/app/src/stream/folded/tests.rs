//! The memo answers what a fold from the first event answers, for every history it is given.

use order_domain::events::{OrderFailed, OrderLine, OrderPlaced, PaymentDeclined};
use order_domain::order::Order;
use order_domain::personal::{Personal, PersonalData};
use order_domain::values::{CustomerId, Email, PaymentToken, ProductId, Quantity};
use order_domain::{
    EventMeta, FailureReason, GENESIS_HASH, OrderEvent, OrderId, RecordedEvent, Timestamp,
};

use super::fold;

fn placed(id: OrderId) -> OrderEvent {
    OrderEvent::OrderPlaced(OrderPlaced {
        order_id: id,
        customer_id: CustomerId::parse("c-1").unwrap(),
        items: vec![OrderLine {
            product_id: ProductId::parse("p-1").unwrap(),
            quantity: Quantity::new(2).unwrap(),
        }],
        personal: Personal::Clear(PersonalData {
            email: Email::parse("jane@example.com").unwrap(),
            payment_token: PaymentToken::parse("tok_visa").unwrap(),
        }),
    })
}

fn declined() -> OrderEvent {
    OrderEvent::PaymentDeclined(PaymentDeclined {
        code: "card_declined".into(),
        message: String::new(),
    })
}

fn failed() -> OrderEvent {
    OrderEvent::OrderFailed(OrderFailed {
        reason: FailureReason::PaymentDeclined,
        message: String::new(),
    })
}

/// `history` with `events` sealed after its head.
fn then(id: OrderId, history: &[RecordedEvent], events: &[OrderEvent]) -> Vec<RecordedEvent> {
    let mut out = history.to_vec();
    for e in events {
        let meta = EventMeta {
            correlation_id: id.into(),
            causation_id: "test".into(),
            occurred_at: Timestamp::from_millis(1),
            trace_parent: None,
        };
        let (version, prev) = out
            .last()
            .map_or((0, GENESIS_HASH.into()), |l| (l.version, l.hash.clone()));
        out.push(RecordedEvent::seal(
            id.stream(),
            version,
            prev,
            e.encode(),
            &meta,
        ));
    }
    out
}

fn fresh(history: &[RecordedEvent]) -> Order {
    Order::from_history(history).unwrap()
}

#[test]
fn a_remembered_fold_answers_as_a_fold_from_the_start_whatever_history_comes_next() {
    let id = OrderId::generate();
    let one = then(id, &[], &[placed(id)]);
    assert_eq!(fold(id, &one).unwrap(), fresh(&one));
    let two = then(id, &one, &[declined()]);
    assert_eq!(fold(id, &two).unwrap(), fresh(&two), "continued");
    assert_eq!(fold(id, &two).unwrap(), fresh(&two), "the same head again");
    let three = then(id, &two, &[failed()]);
    assert_eq!(fold(id, &three).unwrap(), fresh(&three), "continued");
    // Histories that do not hold the remembered one: a shorter one, a fork at version 2, a
    // stream whose first event is another's, an empty one.
    assert_eq!(fold(id, &one).unwrap(), fresh(&one), "shorter");
    let fork = then(id, &one, &[failed()]);
    assert_eq!(
        fold(id, &fork).unwrap(),
        fresh(&fork),
        "forked at version 2"
    );
    let other = then(id, &[], &[placed(id), declined(), failed()]);
    assert_eq!(
        fold(id, &other).unwrap(),
        fresh(&other),
        "another first event"
    );
    assert_eq!(fold(id, &[]).unwrap(), Order::default(), "empty");
}

/// What the memo trusts: an event's hash names its content and its predecessors'. Events up
/// to a remembered head are not decoded again (here, one the store would now answer
/// undecodable: a fold from the start refuses it); a history that does not reach the head
/// is folded, and refused, as before.
#[test]
fn events_up_to_a_remembered_head_are_not_decoded_again() {
    let id = OrderId::generate();
    let two = then(id, &[], &[placed(id), declined()]);
    let remembered = fold(id, &two).unwrap();
    let mut three = then(id, &two, &[failed()]);
    three[0].payload = "not json".into();
    assert!(Order::from_history(&three).is_err());
    let continued = fold(id, &three).unwrap();
    assert_eq!(continued.version, 3);
    assert_eq!(continued.head_hash, three[2].hash);
    assert_ne!(
        continued.state, remembered.state,
        "the third event was folded on"
    );
    assert!(
        fold(id, &three[..1]).is_err(),
        "shorter: folded from the start"
    );
}
