//! The cross-stream check: per product, the stock its stream ends with against what the orders
//! took and gave back. A few counters per product, whatever the number of orders.

use std::collections::BTreeMap;

use super::{Book, StreamAudit, Violation};

/// One product's side of the books.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Account {
    /// Whether the product's stream was read.
    stream: bool,
    seeded: u64,
    /// Every StockAdded, returns included.
    added: u64,
    /// The StockAdded a refund put back.
    returned_on_shelf: u64,
    stock: u64,
    /// What completed orders took.
    taken: u64,
    /// What the orders' issued, restocking refunds returned.
    returned_by_orders: u64,
}

/// The books of every product the log mentions, filled one audited stream at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    accounts: BTreeMap<String, Account>,
    orders: u64,
    products: u64,
}

impl Ledger {
    /// Adds what `audit` (a finished stream's) says.
    pub fn add(&mut self, audit: &StreamAudit) {
        match &audit.book {
            Book::Order(book) => {
                self.orders += 1;
                for (product, quantity) in &book.taken {
                    let a = self.account(product);
                    a.taken = a.taken.saturating_add(*quantity);
                }
                for (product, quantity) in &book.returned {
                    let a = self.account(product);
                    a.returned_by_orders = a.returned_by_orders.saturating_add(*quantity);
                }
            }
            Book::Product(book) => {
                self.products += 1;
                let id = audit
                    .stream
                    .strip_prefix("product#")
                    .unwrap_or(&audit.stream);
                let a = self.account(id);
                a.stream = true;
                a.seeded = book.seeded;
                a.added = book.added;
                a.returned_on_shelf = book.returned;
                a.stock = book.counted_stock;
            }
        }
    }

    fn account(&mut self, product: &str) -> &mut Account {
        self.accounts.entry(product.to_owned()).or_default()
    }

    /// Orders and products audited.
    pub fn counts(&self) -> (u64, u64) {
        (self.orders, self.products)
    }

    /// Every product whose books do not balance.
    pub fn violations(&self) -> Vec<Violation> {
        let mut found = Vec::new();
        for (product, a) in &self.accounts {
            let stream = format!("product#{product}");
            let expected = i128::from(a.seeded) - i128::from(a.taken) + i128::from(a.added);
            if !a.stream || expected != i128::from(a.stock) {
                found.push(Violation::Stock {
                    stream: stream.clone(),
                    seeded: a.seeded,
                    taken: a.taken,
                    restocked: a.added,
                    stock: a.stock,
                });
            }
            if a.returned_on_shelf != a.returned_by_orders {
                found.push(Violation::Returns {
                    stream,
                    on_shelf: a.returned_on_shelf,
                    by_refunds: a.returned_by_orders,
                });
            }
        }
        found
    }
}
