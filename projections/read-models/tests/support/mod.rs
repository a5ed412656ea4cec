//! Shared by the read-models test binaries.

use order_domain::envelope::{EventMeta, GENESIS_HASH};
use order_domain::events::{OrderLine, OrderPlaced, OrderValidated, PricedLine};
use order_domain::{
    CustomerId, Email, Money, OrderEvent, OrderId, PaymentToken, ProductId, RecordedEvent,
    StreamId, Timestamp,
};

/// `events` sealed onto `stream` from its first version, hash-chained.
pub fn seal_all(stream: &StreamId, events: Vec<(&'static str, u32, String)>) -> Vec<RecordedEvent> {
    let meta = EventMeta {
        correlation_id: "c".into(),
        causation_id: "c".into(),
        occurred_at: Timestamp::from_millis(7),
        trace_parent: None,
    };
    let mut out: Vec<RecordedEvent> = Vec::new();
    for e in events {
        let prev = out
            .last()
            .map_or(GENESIS_HASH.to_owned(), |x| x.hash.to_string());
        out.push(RecordedEvent::seal(
            stream.clone(),
            out.len() as u64,
            &prev,
            e,
            &meta,
        ));
    }
    out
}

/// The first two events of order `id`: placed and validated for one unit of `product` at 1.00.
pub fn placed_and_validated(id: OrderId, product: &ProductId) -> [OrderEvent; 2] {
    let q = order_domain::Quantity::new(1).unwrap();
    [
        OrderEvent::OrderPlaced(OrderPlaced {
            order_id: id,
            customer_id: CustomerId::parse("c").unwrap(),
            items: vec![OrderLine {
                product_id: product.clone(),
                quantity: q,
            }],
            personal: order_domain::personal::Personal::Clear(
                order_domain::personal::PersonalData {
                    email: Email::parse("a@example.com").unwrap(),
                    payment_token: PaymentToken::parse("tok_visa").unwrap(),
                },
            ),
        }),
        OrderEvent::OrderValidated(OrderValidated {
            lines: vec![PricedLine {
                product_id: product.clone(),
                quantity: q,
                unit_price: Money::from_minor(100),
            }],
            total: Money::from_minor(100),
        }),
    ]
}
