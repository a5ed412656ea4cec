//! The Product aggregate: a product's price and stock, guarded so that stock never goes below 0.
//! Its commands are decided in the same shape as the order's ([`decide`]).
//!
//! Every product event carries the stock after it and the price, so the stream's last event is a
//! full snapshot: a decision reads one item (strongly consistent), and the conditional append on
//! `(stream, version)` is the arbiter between concurrent orders.

use crate::envelope::RecordedEvent;
use crate::events::{
    DecodeError, ProductAdded, ProductEvent, StockAdded, StockReserved, decode_product,
};
use crate::shared_str::SharedStr;
use crate::values::{Money, OrderId, ProductId, Quantity};

/// A product as its stream's head describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductState {
    pub id: ProductId,
    pub price: Money,
    pub stock: u64,
    /// The head's version and hash: what the next append must chain to.
    pub version: u64,
    pub head_hash: SharedStr,
}

impl ProductState {
    /// Reads the snapshot from the stream's last event.
    pub fn from_head(head: &RecordedEvent) -> Result<Self, DecodeError> {
        let id = head
            .stream_id
            .product_id()
            .ok_or_else(|| DecodeError::UnknownType(head.event_type.to_string()))?;
        let (price, stock) = match &*decode_product(head)? {
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

    /// The stock left after taking `quantity`; `None` if there is not that much (stock never
    /// goes below 0).
    pub fn stock_after_taking(&self, quantity: Quantity) -> Option<u64> {
        self.stock.checked_sub(u64::from(quantity.get()))
    }
}

/// What may be asked of a product's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    /// Adds the product with its first stock. Idempotent: a product that exists keeps its stock
    /// (orders have taken from it since), so seeding twice adds nothing.
    Add {
        name: String,
        price: Money,
        stock: u64,
    },
    /// Takes stock for an order.
    Reserve {
        order_id: OrderId,
        quantity: Quantity,
    },
    /// Adds stock to an existing product; `refund_id` names the refund it came back with (a
    /// return), if any.
    Restock {
        quantity: u64,
        refund_id: Option<String>,
    },
}

/// A command the product's state refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("product does not exist")]
    Unknown,
    #[error("{available} available, {requested} requested")]
    InsufficientStock { requested: u32, available: u64 },
    #[error("stock would overflow")]
    StockOverflow,
}

/// Decides `command` on the product as its head describes it (`None`: no stream yet). There is
/// no separate fold: every product event is a full snapshot, so [`ProductState::from_head`] is
/// the state.
pub fn decide(
    product: Option<&ProductState>,
    command: &ProductCommand,
) -> Result<Vec<ProductEvent>, ProductError> {
    match (product, command) {
        (Some(_), ProductCommand::Add { .. }) => Ok(vec![]),
        (None, ProductCommand::Add { name, price, stock }) => {
            Ok(vec![ProductEvent::ProductAdded(ProductAdded {
                name: name.clone(),
                price: *price,
                stock: *stock,
            })])
        }
        (None, ProductCommand::Reserve { .. } | ProductCommand::Restock { .. }) => {
            Err(ProductError::Unknown)
        }
        (Some(p), ProductCommand::Reserve { order_id, quantity }) => {
            let stock_after =
                p.stock_after_taking(*quantity)
                    .ok_or(ProductError::InsufficientStock {
                        requested: quantity.get(),
                        available: p.stock,
                    })?;
            Ok(vec![ProductEvent::StockReserved(StockReserved {
                order_id: *order_id,
                quantity: *quantity,
                stock_after,
                price: p.price,
            })])
        }
        (
            Some(p),
            ProductCommand::Restock {
                quantity,
                refund_id,
            },
        ) => {
            let stock_after = p
                .stock
                .checked_add(*quantity)
                .ok_or(ProductError::StockOverflow)?;
            Ok(vec![ProductEvent::StockAdded(StockAdded {
                quantity: *quantity,
                stock_after,
                price: p.price,
                refund_id: refund_id.clone(),
            })])
        }
    }
}

/// What seeding a product decides: [`ProductCommand::Add`], `None` for a product that exists.
pub fn seed(
    existing: Option<&ProductState>,
    name: &str,
    price: Money,
    stock: u64,
) -> Option<ProductEvent> {
    let add = ProductCommand::Add {
        name: name.to_owned(),
        price,
        stock,
    };
    decide(existing, &add).ok()?.pop()
}

/// Adds stock to an existing product (a restock); `None` if the stock would overflow.
pub fn restock(product: &ProductState, quantity: u64) -> Option<ProductEvent> {
    let restock = ProductCommand::Restock {
        quantity,
        refund_id: None,
    };
    decide(Some(product), &restock).ok()?.pop()
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
            trace_parent: None,
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

    fn mug(stock: u64) -> ProductState {
        ProductState {
            id: ProductId::parse("P1").unwrap(),
            price: Money::from_minor(900),
            stock,
            version: 1,
            head_hash: GENESIS_HASH.into(),
        }
    }

    #[test]
    fn a_reservation_takes_stock_and_carries_the_snapshot_after_it() {
        let order_id = OrderId::generate();
        let take = ProductCommand::Reserve {
            order_id,
            quantity: Quantity::new(2).unwrap(),
        };
        let events = decide(Some(&mug(5)), &take).unwrap();
        assert!(matches!(
            &events[..],
            [ProductEvent::StockReserved(s)] if s.stock_after == 3 && s.order_id == order_id && s.price.minor() == 900
        ));
    }

    #[test]
    fn a_reservation_beyond_stock_or_of_an_unknown_product_is_refused() {
        let take = ProductCommand::Reserve {
            order_id: OrderId::generate(),
            quantity: Quantity::new(2).unwrap(),
        };
        assert_eq!(
            decide(Some(&mug(1)), &take),
            Err(ProductError::InsufficientStock {
                requested: 2,
                available: 1
            })
        );
        assert_eq!(decide(None, &take), Err(ProductError::Unknown));
    }

    #[test]
    fn a_restock_that_would_overflow_is_refused() {
        assert_eq!(restock(&mug(u64::MAX), 1), None);
        assert_eq!(
            decide(
                Some(&mug(u64::MAX)),
                &ProductCommand::Restock {
                    quantity: 1,
                    refund_id: None
                }
            ),
            Err(ProductError::StockOverflow)
        );
    }
}
