//! A generator of large, realistic logs on the embedded database, for the replay benchmark and
//! tests: orders that complete, are declined, rejected or run out of stock, and, after
//! placement, are cancelled (before or after completing), shipped and refunded in part or in
//! full (returns put their stock back), each with the product events they cause, correctly
//! chained (sealed with `RecordedEvent::seal`), inserted in large transactions, and projected
//! into the live read models by the embedded projection code itself
//! (`Projection::apply_batch`, checkpoints included), exactly as the running pipeline does.
//!
//! Like the pipeline, one decision is one append at one instant: an order's completion and the
//! stock it takes, or a refund issued and the stock it puts back, carry the same
//! `occurred_at`, so the log as it stood at any instant (`--as-of`) still adds up. Appends are
//! 3 ms apart.

mod endings;

use std::path::Path;

use order_domain::envelope::{EventMeta, GENESIS_HASH};
use order_domain::events::{OrderLine, OrderPlaced, PricedLine, ProductAdded};
use order_domain::{
    CustomerId, Email, Money, OrderEvent, OrderId, PaymentToken, ProductEvent, ProductId, Quantity,
    RecordedEvent, SharedStr, StreamId, Timestamp,
};
use order_embedded::db::{Db, Durability};
use order_embedded::read_models::Projection;
use order_embedded::store::insert_event;
use rusqlite::Connection;

/// Events per transaction while generating.
const PER_TRANSACTION: usize = 20_000;

/// What was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generated {
    pub events: u64,
    pub orders: u64,
    pub products: u64,
}

struct Product {
    id: ProductId,
    stream: StreamId,
    version: u64,
    head: SharedStr,
    stock: u64,
    price: Money,
}

/// One append of an order's history: its events, and the product events that go with them
/// (by index into the catalogue), all at one instant.
#[derive(Default)]
struct Append {
    order: Vec<OrderEvent>,
    products: Vec<(usize, ProductEvent)>,
}

impl Append {
    fn of(events: impl IntoIterator<Item = OrderEvent>) -> Self {
        Self {
            order: events.into_iter().collect(),
            products: Vec::new(),
        }
    }
}

struct Writer<'c> {
    conn: &'c Connection,
    batch: Vec<(i64, RecordedEvent)>,
    clock: u64,
    generated: Generated,
}

impl Writer<'_> {
    /// The instant of the next append.
    fn tick(&mut self) -> Timestamp {
        self.clock += 3;
        Timestamp::from_millis(self.clock)
    }

    /// Seals and inserts one event after `(version, head)` at `at`; returns the new head.
    fn append(
        &mut self,
        stream: &StreamId,
        after: (u64, &SharedStr),
        event: (&str, u32, String),
        correlation: &str,
        at: Timestamp,
    ) -> rusqlite::Result<(u64, SharedStr)> {
        let meta = EventMeta {
            correlation_id: correlation.into(),
            causation_id: format!("synthetic-{}", self.generated.events).into(),
            occurred_at: at,
            trace_parent: None,
        };
        let e = RecordedEvent::seal(stream.clone(), after.0, after.1, event, &meta);
        let position = insert_event(self.conn, &e)?;
        let head = (e.version, e.hash.clone());
        self.batch.push((position, e));
        self.generated.events += 1;
        Ok(head)
    }

    /// Writes an order's appends, each at its own instant with its product events.
    fn order(
        &mut self,
        id: OrderId,
        catalogue: &mut [Product],
        appends: Vec<Append>,
    ) -> rusqlite::Result<()> {
        let stream = id.stream();
        let correlation = id.to_string();
        let mut head: (u64, SharedStr) = (0, GENESIS_HASH.into());
        for append in appends {
            let at = self.tick();
            for e in append.order {
                head = self.append(&stream, (head.0, &head.1), e.encode(), &correlation, at)?;
            }
            for (i, e) in append.products {
                self.product(&mut catalogue[i], &e, &correlation, at)?;
            }
        }
        self.generated.orders += 1;
        Ok(())
    }

    fn product(
        &mut self,
        p: &mut Product,
        event: &ProductEvent,
        correlation: &str,
        at: Timestamp,
    ) -> rusqlite::Result<()> {
        let (version, head) = self.append(
            &p.stream,
            (p.version, &p.head),
            event.encode(),
            correlation,
            at,
        )?;
        p.version = version;
        p.head = head;
        Ok(())
    }

    /// Projects the batch into the live read models and commits it.
    fn commit(&mut self) -> rusqlite::Result<()> {
        for p in [Projection::OrderStatus, Projection::Inventory] {
            p.apply_batch(self.conn, &self.batch)?;
        }
        self.batch.clear();
        self.conn.execute_batch("COMMIT; BEGIN")
    }
}

fn value<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    // The generator's literals are all valid values.
    r.unwrap_or_else(|e| unreachable!("invalid synthetic value: {e:?}"))
}

/// Generates at least `events` events over `products` products into a new database at `path`
/// (which must not exist yet), starting at `start`, appends 3 ms apart.
pub fn generate(
    path: &Path,
    events: u64,
    products: usize,
    start: Timestamp,
) -> rusqlite::Result<Generated> {
    // Creates the file with the embedded schema (its migrations), then writes directly.
    Db::open(path, Durability::Normal)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?
        .close();
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.execute_batch("BEGIN")?;
    let mut w = Writer {
        conn: &conn,
        batch: Vec::with_capacity(PER_TRANSACTION + 16),
        clock: start.as_millis(),
        generated: Generated::default(),
    };
    let mut catalogue = seed(&mut w, products.max(1))?;
    let mut n: u64 = 0;
    while w.generated.events < events {
        n += 1;
        order(&mut w, &mut catalogue, n)?;
        if w.batch.len() >= PER_TRANSACTION {
            w.commit()?;
        }
    }
    w.commit()?;
    conn.execute_batch("COMMIT")?;
    Ok(w.generated)
}

/// Adds the products, each with plenty of stock.
fn seed(w: &mut Writer<'_>, products: usize) -> rusqlite::Result<Vec<Product>> {
    let mut catalogue: Vec<Product> = Vec::with_capacity(products);
    for i in 0..products {
        let id = value(ProductId::parse(&format!("SKU-{i:05}")));
        let mut p = Product {
            stream: id.stream(),
            id,
            version: 0,
            head: GENESIS_HASH.into(),
            stock: 1_000_000_000,
            price: Money::from_minor(500 + 100 * (i as u64 % 50)),
        };
        let added = ProductEvent::ProductAdded(ProductAdded {
            name: format!("Product {i}"),
            price: p.price,
            stock: p.stock,
        });
        let at = w.tick();
        w.product(&mut p, &added, "seed", at)?;
        catalogue.push(p);
    }
    w.generated.products = catalogue.len() as u64;
    Ok(catalogue)
}

/// What an order is placed with: its id, its OrderPlaced, the catalogue indexes of its lines,
/// the lines priced, and its total.
struct NewOrder {
    id: OrderId,
    placed: OrderEvent,
    picks: Vec<usize>,
    lines: Vec<PricedLine>,
    total: Money,
}

/// The `n`th order: one or two lines, and an ending chosen by `n` (see [`endings::ending`]).
fn order(w: &mut Writer<'_>, catalogue: &mut [Product], n: u64) -> rusqlite::Result<()> {
    let id = OrderId::generate();
    let count = catalogue.len() as u64;
    let picks: Vec<usize> = (0..=(n % 2))
        .map(|k| usize::try_from((n * 7 + k * 13) % count).unwrap_or(0))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let quantity = value(Quantity::new(i64::try_from(n % 3 + 1).unwrap_or(1)));
    let lines: Vec<PricedLine> = picks
        .iter()
        .map(|&i| PricedLine {
            product_id: catalogue[i].id.clone(),
            quantity,
            unit_price: catalogue[i].price,
        })
        .collect();
    let total = Money::from_minor(
        lines
            .iter()
            .map(|l| l.unit_price.minor() * u64::from(quantity.get()))
            .sum(),
    );
    let placed = OrderEvent::OrderPlaced(OrderPlaced {
        order_id: id,
        customer_id: value(CustomerId::parse(&format!("cust-{}", n % 10_000))),
        items: lines
            .iter()
            .map(|l| OrderLine {
                product_id: l.product_id.clone(),
                quantity,
            })
            .collect(),
        personal: order_domain::personal::Personal::Clear(order_domain::personal::PersonalData {
            email: value(Email::parse("jane.doe@example.com")),
            payment_token: value(PaymentToken::parse("tok_visa")),
        }),
    });
    let new = NewOrder {
        id,
        placed,
        picks,
        lines,
        total,
    };
    let appends = endings::ending(catalogue, n, &new);
    w.order(id, catalogue, appends)
}
