//! Builders of events and stream writes for tests.

use order_app::seed::SeedProduct;
use order_app::stream::seal;
use order_domain::events::{
    OrderLine, OrderPlaced, OrderValidated, PricedLine, ProductAdded, StockReserved,
};
use order_domain::ports::EventStore;
use order_domain::{
    CustomerId, Email, EventMeta, GENESIS_HASH, Money, OrderEvent, OrderId, PaymentToken,
    ProductEvent, ProductId, Quantity, RecordedEvent, StreamId, StreamWrite, Timestamp,
};

pub fn meta(order: OrderId) -> EventMeta {
    EventMeta {
        correlation_id: order.into(),
        causation_id: "test".into(),
        occurred_at: Timestamp::now(),
        trace_parent: None,
    }
}

pub fn product(id: &str) -> ProductId {
    ProductId::parse(id).unwrap()
}

/// An order for one `product`, paid with `tok_visa`.
pub fn order_placed(order: OrderId, product: &ProductId) -> OrderEvent {
    order_placed_for(order, &[(product.as_str(), 1)], "tok_visa")
}

/// An order for `items` of `(productId, quantity)`, paid with `token`.
pub fn order_placed_for(order: OrderId, items: &[(&str, i64)], token: &str) -> OrderEvent {
    OrderEvent::OrderPlaced(OrderPlaced {
        order_id: order,
        customer_id: CustomerId::parse("customer-1").unwrap(),
        items: items
            .iter()
            .map(|(p, q)| OrderLine {
                product_id: ProductId::parse(p).unwrap(),
                quantity: Quantity::new(*q).unwrap(),
            })
            .collect(),
        personal: order_domain::personal::Personal::Clear(order_domain::personal::PersonalData {
            email: Email::parse("jane@example.com").unwrap(),
            payment_token: PaymentToken::parse(token).unwrap(),
        }),
    })
}

/// Appends a new order's `OrderPlaced` as the placement endpoint does (no queue message: the
/// test drives the order itself).
pub async fn place<S: EventStore>(store: &S, items: &[(&str, i64)], token: &str) -> OrderId {
    let id = OrderId::generate();
    place_as(store, id, items, token).await;
    id
}

/// [`place`] under a given id.
pub async fn place_as<S: EventStore>(store: &S, id: OrderId, items: &[(&str, i64)], token: &str) {
    let placed = order_placed_for(id, items, token);
    let write = seal(&id.stream(), 0, GENESIS_HASH, [placed.encode()], &meta(id));
    store.append(vec![write]).await.unwrap();
}

/// A product for a seed: `Product {id}` at `price` minor units with `stock`.
pub fn seed_product(id: &str, price: u64, stock: u64) -> SeedProduct {
    serde_json::from_value(serde_json::json!({
        "productId": id, "name": format!("Product {id}"), "price": price, "stock": stock,
    }))
    .expect("valid seed product")
}

pub fn order_validated(product: &ProductId) -> OrderEvent {
    OrderEvent::OrderValidated(OrderValidated {
        lines: vec![PricedLine {
            product_id: product.clone(),
            quantity: Quantity::new(1).unwrap(),
            unit_price: Money::from_minor(1999),
        }],
        total: Money::from_minor(1999),
    })
}

pub fn product_added(stock: u64) -> ProductEvent {
    ProductEvent::ProductAdded(ProductAdded {
        name: "Widget".into(),
        price: Money::from_minor(1999),
        stock,
    })
}

/// A write of `events` onto `stream` at `head` (None: a new stream).
pub fn write_after<'a>(
    stream: &StreamId,
    head: Option<&RecordedEvent>,
    events: impl IntoIterator<Item = (&'a str, u32, String)>,
    meta: &EventMeta,
) -> StreamWrite {
    let (version, hash) = head.map_or((0, GENESIS_HASH.into()), |h| (h.version, h.hash.clone()));
    seal(stream, version, hash, events, meta)
}

/// `n` filler events of one made-up type (the store does not read payloads).
pub fn filler(n: usize) -> Vec<(&'static str, u32, String)> {
    (0..n)
        .map(|i| ("TestEvent", 1, format!("{{\"n\":{i}}}")))
        .collect()
}

/// A product's reservation of one unit, leaving `stock_after` (the stream's new snapshot).
pub fn one_reserved(stock_after: u64) -> ProductEvent {
    ProductEvent::StockReserved(StockReserved {
        order_id: OrderId::generate(),
        quantity: Quantity::new(1).unwrap(),
        stock_after,
        price: Money::from_minor(1999),
    })
}

/// A guard: a write of no event that only holds while `stream` is still at `head`.
pub fn guard(stream: &StreamId, head: Option<&RecordedEvent>) -> StreamWrite {
    StreamWrite {
        stream_id: stream.clone(),
        expected_version: head.map_or(0, |h| h.version),
        events: Vec::new(),
    }
}
