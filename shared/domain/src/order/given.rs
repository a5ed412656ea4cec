//! The order tests' vocabulary: `given` a stored history, `when` a command is decided (its
//! events appended), then the state says so; plus the events and commands they are built from.

use std::collections::BTreeMap;

use super::{
    ChargeResult, GENESIS_HASH, Order, OrderCommand, OrderEvent, OrderPlaced, OrderState,
    RecordedEvent,
};
use crate::envelope::EventMeta;
use crate::events::{OrderLine, PaymentRefunded};
use crate::personal::{Personal, PersonalData};
use crate::product::ProductState;
use crate::time::Timestamp;
use crate::values::{CustomerId, Email, Money, OrderId, PaymentToken, ProductId, Quantity};

pub fn pid(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

pub fn placed(lines: &[(&str, i64)], token: &str) -> OrderEvent {
    OrderEvent::OrderPlaced(OrderPlaced {
        order_id: OrderId::generate(),
        customer_id: CustomerId::parse("c-1").unwrap(),
        items: lines
            .iter()
            .map(|(p, q)| OrderLine {
                product_id: pid(p),
                quantity: Quantity::new(*q).unwrap(),
            })
            .collect(),
        // The domain never opens it: clear data stands in for a sealed field.
        personal: Personal::Clear(PersonalData {
            email: Email::parse("jane@example.com").unwrap(),
            payment_token: PaymentToken::parse(token).unwrap(),
        }),
    })
}

pub fn product(id: &str, price: u64, stock: u64) -> (ProductId, ProductState) {
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

pub fn catalog(products: &[(&str, u64, u64)]) -> BTreeMap<ProductId, ProductState> {
    products
        .iter()
        .map(|(id, price, stock)| product(id, *price, *stock))
        .collect()
}

/// `given(history)` folds the events the way a stored stream would be folded.
pub fn given(history: &[OrderEvent]) -> Order {
    let meta = EventMeta {
        correlation_id: "c".into(),
        causation_id: "c".into(),
        occurred_at: Timestamp::from_millis(0),
        trace_parent: None,
    };
    let stream = OrderId::generate().stream();
    let mut stored: Vec<RecordedEvent> = Vec::new();
    for e in history {
        let prev = stored
            .last()
            .map_or(GENESIS_HASH.to_owned(), |x| x.hash.to_string());
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

/// Decides `command` on the history and appends what it decided; answers the events.
pub fn when(history: &mut Vec<OrderEvent>, command: &OrderCommand) -> Vec<OrderEvent> {
    let events = given(history).decide(command).unwrap();
    history.extend(events.clone());
    events
}

pub fn validate(products: &[(&str, u64, u64)]) -> OrderCommand {
    OrderCommand::Validate {
        products: catalog(products),
    }
}

pub fn reserve(products: &[(&str, u64, u64)]) -> OrderCommand {
    OrderCommand::Reserve {
        products: catalog(products),
    }
}

pub fn captured(payment_id: &str) -> OrderCommand {
    OrderCommand::RecordCharge(ChargeResult::Captured {
        payment_id: payment_id.into(),
    })
}

pub fn fail(error: &str, refund: Option<PaymentRefunded>) -> OrderCommand {
    OrderCommand::Fail {
        error: error.into(),
        refund,
    }
}

pub fn validated_and_paid() -> Vec<OrderEvent> {
    let mut h = vec![placed(&[("A", 2)], "tok_visa")];
    when(&mut h, &validate(&[("A", 250, 10)]));
    when(&mut h, &captured("ch_1"));
    h
}

pub fn refund_of(state: &OrderState) -> PaymentRefunded {
    let due = state.refund_due().unwrap();
    PaymentRefunded {
        payment_id: due.payment_id.clone(),
        refund_id: "re_1".into(),
        amount: due.amount,
    }
}
