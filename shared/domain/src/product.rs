//! The Product aggregate: a product's price and stock, guarded so that stock never goes below 0.
//!
//! Every product event carries the stock after it and the price, so the stream's last event is a
//! full snapshot: a decision reads one item (strongly consistent), and the conditional append on
//! `(stream, version)` is the arbiter between concurrent orders.

use crate::envelope::RecordedEvent;
use crate::events::{DecodeError, ProductAdded, ProductEvent, StockAdded, decode_product};
use crate::values::{Money, ProductId};

/// A product as its stream's head describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductState {
    pub id: ProductId,
    pub price: Money,
    pub stock: u64,
    /// The head's version and hash: what the next append must chain to.
    pub version: u64,
    pub head_hash: String,
}

impl ProductState {
    /// Reads the snapshot from the stream's last event.
    pub fn from_head(head: &RecordedEvent) -> Result<Self, DecodeError> {
        let id = head
            .stream_id
            .product_id()
            .ok_or_else(|| DecodeError::UnknownType(head.event_type.clone()))?;
        let (price, stock) = match decode_product(head)? {
            ProductEvent::ProductAdded(e) => (e.price, e.stock),
            ProductEvent::StockReserved(e) => (e.price, e.stock_after),
            ProductEvent::StockAdded(e) => (e.price, e.stock_after),
        };
        Ok(Self {
            id,
            price,
            stock,
            version: head.version,
            head_hash: head.hash.clone(),
        })
    }
}

/// What seeding a product decides. Seeding is idempotent: a product that exists keeps its
/// stock (orders have taken from it since); a product that does not exist is added.
pub fn seed(
    existing: Option<&ProductState>,
    name: &str,
    price: Money,
    stock: u64,
) -> Option<ProductEvent> {
    match existing {
        Some(_) => None,
        None => Some(ProductEvent::ProductAdded(ProductAdded {
            name: name.to_owned(),
            price,
            stock,
        })),
    }
}

/// Adds stock to an existing product (a restock).
pub fn restock(product: &ProductState, quantity: u64) -> Option<ProductEvent> {
    let stock_after = product.stock.checked_add(quantity)?;
    Some(ProductEvent::StockAdded(StockAdded {
        quantity,
        stock_after,
        price: product.price,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EventMeta, GENESIS_HASH};
    use crate::time::Timestamp;

    #[test]
    fn the_head_of_a_product_stream_is_its_snapshot() {
        let id = ProductId::parse("P1").unwrap();
        let meta = EventMeta {
            correlation_id: "seed".into(),
            causation_id: "seed".into(),
            occurred_at: Timestamp::from_millis(0),
        };
        let added = seed(None, "Mug", Money::from_minor(900), 5).unwrap();
        let e1 = RecordedEvent::seal(id.stream(), 0, GENESIS_HASH, added.encode(), &meta);
        let p = ProductState::from_head(&e1).unwrap();
        assert_eq!((p.stock, p.price.minor(), p.version), (5, 900, 1));
        assert_eq!(seed(Some(&p), "Mug", Money::from_minor(1), 99), None);
        let more = restock(&p, 3).unwrap();
        let e2 = RecordedEvent::seal(id.stream(), 1, &e1.hash, more.encode(), &meta);
        assert_eq!(ProductState::from_head(&e2).unwrap().stock, 8);
    }
}
