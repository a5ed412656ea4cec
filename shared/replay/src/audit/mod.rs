//! The audit `--verify` adds to the chain check: the log's money and stock add up.
//!
//! A chain that verifies proves no event was changed, removed or inserted; it says nothing of
//! whether the events the pipeline wrote agree with each other. The audit checks that they do,
//! from the events alone (not through the aggregates whose decisions wrote them):
//!
//! - **per order** ([`order`]): what was given back, every `PaymentRefunded` and `RefundIssued`
//!   amount, is at most the `PaymentCaptured` amount; no line is refunded, or set aside for a
//!   refund still pending, beyond the quantity ordered; every refund issued was requested.
//! - **per product** ([`product`]): each event's `stockAfter` follows from the stock before it
//!   (less a reservation, plus a restock).
//! - **across streams** ([`ledger`]): every product's stock is what it was seeded with, less
//!   what completed orders took (their `InventoryReserved`), plus what was put back
//!   (`StockAdded`, returns included); and the stock refunds put back on a product's shelf is
//!   what its orders' issued, restocking refunds returned.
//!
//! Like the rest of replay, the audit holds one stream's facts at a time; the cross-stream
//! check keeps a few counters per product, never per order. A violation is reported as a
//! [`Failure::Audit`](crate::Failure::Audit), like a broken chain, and fails the replay with the
//! same exit code. A stream that fails its chain or does not decode is not audited (its facts
//! cannot be trusted), and the cross-stream check is then left out (it would only restate the
//! failure).

mod ledger;
mod order;
mod product;

use std::fmt;

use order_domain::{Money, OrderEvent, ProductEvent, RecordedEvent, Timestamp};

pub use ledger::Ledger;
use order::OrderBook;
use product::ProductBook;

/// Something the log's own events contradict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// An order gave back more than it captured.
    OverRefunded {
        stream: String,
        captured: Money,
        refunded: Money,
    },
    /// A line was refunded (or set aside for a pending refund) beyond its quantity.
    LineOverRefunded {
        stream: String,
        product: String,
        ordered: u64,
        refunded: u64,
    },
    /// A refund was issued that the order never requested.
    Unrequested { stream: String, refund_id: String },
    /// A refund was settled (issued or failed) again after it was settled: the gateway's
    /// money counted twice, or a refund both made and freed.
    SettledTwice { stream: String, refund_id: String },
    /// A product event's stock does not follow from the stock before it.
    StockStep {
        stream: String,
        version: u64,
        expected: u64,
        found: u64,
    },
    /// A product's stock is not seeded − taken by completed orders + restocked.
    Stock {
        stream: String,
        seeded: u64,
        taken: u64,
        restocked: u64,
        stock: u64,
    },
    /// The stock refunds put back on a product is not what its orders' refunds returned.
    Returns {
        stream: String,
        on_shelf: u64,
        by_refunds: u64,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OverRefunded {
                stream,
                captured,
                refunded,
            } => write!(
                f,
                "{stream}: refunded {refunded}, more than the {captured} captured"
            ),
            Self::LineOverRefunded {
                stream,
                product,
                ordered,
                refunded,
            } => write!(
                f,
                "{stream}: {refunded} of product {product} refunded or being refunded, \
                 {ordered} ordered"
            ),
            Self::Unrequested { stream, refund_id } => {
                write!(f, "{stream}: refund {refund_id} issued but never requested")
            }
            Self::SettledTwice { stream, refund_id } => {
                write!(
                    f,
                    "{stream}: refund {refund_id} settled again after it was settled"
                )
            }
            Self::StockStep {
                stream,
                version,
                expected,
                found,
            } => write!(
                f,
                "{stream} version {version}: stock after is {found}, the stock before it makes \
                 {expected}"
            ),
            Self::Stock {
                stream,
                seeded,
                taken,
                restocked,
                stock,
            } => write!(
                f,
                "{stream}: stock is {stock}, but seeded {seeded} − taken by completed orders \
                 {taken} + restocked {restocked} = {}",
                i128::from(*seeded) - i128::from(*taken) + i128::from(*restocked)
            ),
            Self::Returns {
                stream,
                on_shelf,
                by_refunds,
            } => write!(
                f,
                "{stream}: refunds put {on_shelf} back on the shelf, the orders' issued \
                 refunds returned {by_refunds}"
            ),
        }
    }
}

/// One stream's audit, fed its decoded events in version order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAudit {
    stream: String,
    book: Book,
    /// The cross-stream facts stop at the first event after this instant (a cut every stream
    /// is read past: see [`StreamAudit::until`]).
    until: Option<Timestamp>,
    /// Whether an event after `until` was seen.
    past: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Book {
    Order(Box<OrderBook>),
    Product(ProductBook),
}

/// An event of the stream being audited.
#[derive(Debug, Clone, Copy)]
pub enum Audited<'a> {
    Order(&'a OrderEvent),
    Product(&'a ProductEvent),
}

impl StreamAudit {
    /// The audit of an order stream.
    pub fn order(stream: &str) -> Self {
        Self::new(stream, Book::Order(Box::default()))
    }

    /// The audit of a product stream.
    pub fn product(stream: &str) -> Self {
        Self::new(stream, Book::Product(ProductBook::default()))
    }

    fn new(stream: &str, book: Book) -> Self {
        Self {
            stream: stream.to_owned(),
            book,
            until: None,
            past: false,
        }
    }

    /// Counts only events up to `at` towards the cross-stream check (the per-stream checks
    /// read every event). A driver that reads streams at different moments passes a cut it
    /// read every stream after, so that an append spanning an order and its products (one
    /// instant for all its events) is counted on both sides or on neither.
    #[must_use]
    pub fn until(mut self, at: Option<Timestamp>) -> Self {
        self.until = at;
        self
    }

    /// Takes the stream's next event.
    pub fn push(&mut self, record: &RecordedEvent, event: Audited<'_>) {
        self.past = self.past || self.until.is_some_and(|t| record.occurred_at > t);
        let counted = !self.past;
        match (&mut self.book, event) {
            (Book::Order(book), Audited::Order(e)) => book.push(e, counted),
            (Book::Product(book), Audited::Product(e)) => book.push(record.version, e, counted),
            // An event of the other kind does not decode on this stream: never handed over.
            _ => {}
        }
    }

    /// The stream's own violations.
    pub fn violations(&self) -> Vec<Violation> {
        match &self.book {
            Book::Order(book) => book.violations(&self.stream),
            Book::Product(book) => book.violations(&self.stream),
        }
    }

    /// Whether this is an order's audit.
    pub fn is_order(&self) -> bool {
        matches!(self.book, Book::Order(_))
    }
}
