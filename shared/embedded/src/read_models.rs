//! Read models on SQLite (order_status, inventory) and the projection step that keeps them:
//! a batch of change-feed events applied with the shared pure projections, and the checkpoint
//! moved, in one transaction.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use order_app::ReadModels;
use order_domain::ports::PortError;
use order_domain::{OrderId, ProductId, RecordedEvent};
use order_read_models::{INVENTORY, InventoryView, ORDER_STATUS, OrderView, Step};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, now_ms};
use crate::store::stream_events;

#[derive(Clone)]
pub struct SqliteReadModels {
    db: Db,
    /// Products seen in the inventory view. Products are never removed, so a yes is kept:
    /// validating a POST's lines then needs no read. Bounded by the catalogue (only products
    /// that exist get in).
    known_products: Arc<RwLock<HashSet<String>>>,
}

impl SqliteReadModels {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            known_products: Arc::default(),
        }
    }

    /// Every inventory row (for listings and replay comparisons).
    pub async fn all_inventory(&self) -> Result<Vec<InventoryView>, PortError> {
        self.db
            .read(|c| {
                let mut s = c.prepare_cached("SELECT view FROM inventory ORDER BY product_id")?;
                let rows = s.query_map([], |r| r.get::<_, String>(0))?;
                rows.map(|r| r.and_then(|t| decode(&t))).collect()
            })
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    /// Order ids whose status is PLACED and unchanged for `older_than_ms`, with no execution.
    pub async fn stuck_placed_orders(
        &self,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.db
            .read(move |c| {
                let mut s = c.prepare_cached(
                    "SELECT o.order_id FROM order_status o WHERE o.status = 'PLACED' AND o.updated_at < ?1 \
                     AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.name = o.order_id) LIMIT ?2",
                )?;
                let rows = s.query_map(
                    params![now_ms() - older_than_ms, i64::try_from(limit).unwrap_or(100)],
                    |r| r.get::<_, String>(0),
                )?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .map(|ids| ids.iter().filter_map(|i| OrderId::parse(i).ok()).collect())
            .map_err(|e| PortError(e.to_string()))
    }
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn encode<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

pub fn get_order_view(c: &Connection, id: &str) -> rusqlite::Result<Option<OrderView>> {
    c.prepare_cached("SELECT view FROM order_status WHERE order_id = ?1")?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|t| decode(&t))
        .transpose()
}

pub fn get_inventory_view(c: &Connection, id: &str) -> rusqlite::Result<Option<InventoryView>> {
    c.prepare_cached("SELECT view FROM inventory WHERE product_id = ?1")?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|t| decode(&t))
        .transpose()
}

fn put_order_view(c: &Connection, v: &OrderView) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO order_status (order_id, status, version, updated_at, view) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (order_id) DO UPDATE SET status = ?2, version = ?3, updated_at = ?4, view = ?5 \
         WHERE order_status.version < ?3",
    )?
    .execute(params![
        v.order_id.to_string(),
        v.status.as_str(),
        i64::try_from(v.version).unwrap_or(i64::MAX),
        i64::try_from(v.updated_at.as_millis()).unwrap_or(i64::MAX),
        encode(v)?,
    ])
    .map(|_| ())
}

fn put_inventory_view(c: &Connection, v: &InventoryView) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO inventory (product_id, available, version, view) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (product_id) DO UPDATE SET available = ?2, version = ?3, view = ?4 \
         WHERE inventory.version < ?3",
    )?
    .execute(params![
        v.product_id.as_str(),
        i64::try_from(v.available).unwrap_or(i64::MAX),
        i64::try_from(v.version).unwrap_or(i64::MAX),
        encode(v)?,
    ])
    .map(|_| ())
}

pub fn checkpoint(c: &Connection, consumer: &str) -> rusqlite::Result<i64> {
    c.prepare_cached("SELECT position FROM checkpoints WHERE consumer = ?1")?
        .query_row([consumer], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

pub fn set_checkpoint(c: &Connection, consumer: &str, position: i64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO checkpoints (consumer, position, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (consumer) DO UPDATE SET position = MAX(position, ?2), updated_at = ?3",
    )?
    .execute(params![consumer, position, now_ms()])
    .map(|_| ())
}

/// Which read model a projection worker keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    OrderStatus,
    Inventory,
}

impl Projection {
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderStatus => ORDER_STATUS,
            Self::Inventory => INVENTORY,
        }
    }

    /// Applies one delivered record with the shared pure step (skip seen, refetch past a gap).
    pub fn apply(self, c: &Connection, record: &RecordedEvent) -> rusqlite::Result<()> {
        self.apply_records(c, &[record])
    }

    /// Applies a batch and moves the checkpoint to its last position, in the caller's transaction.
    pub fn apply_batch(
        self,
        c: &Connection,
        batch: &[(i64, RecordedEvent)],
    ) -> rusqlite::Result<()> {
        let records: Vec<&RecordedEvent> = batch.iter().map(|(_, r)| r).collect();
        self.apply_records(c, &records)?;
        if let Some((last, _)) = batch.last() {
            set_checkpoint(c, self.name(), *last)?;
        }
        Ok(())
    }

    /// Folds the records into their views in memory and writes each changed view once: an
    /// order's several events in one batch cost one read and one write, not one of each per
    /// event (the projections were a fifth of the writer thread's time).
    fn apply_records(self, c: &Connection, records: &[&RecordedEvent]) -> rusqlite::Result<()> {
        match self {
            Self::OrderStatus => fold_views(
                c,
                records,
                |r| r.stream_id.order_id().map(|id| id.to_string()),
                get_order_view,
                OrderView::step,
                OrderView::fold,
                put_order_view,
            ),
            Self::Inventory => fold_views(
                c,
                records,
                |r| r.stream_id.product_id().map(|id| id.as_str().to_owned()),
                get_inventory_view,
                InventoryView::step,
                InventoryView::fold,
                put_inventory_view,
            ),
        }
    }
}

type StepFn<V> =
    fn(Option<&V>, &RecordedEvent) -> Result<Step<V>, order_domain::events::DecodeError>;
type FoldFn<V> =
    fn(Option<V>, &[RecordedEvent]) -> Result<Option<V>, order_domain::events::DecodeError>;

/// One projection's batch: each view read at most once, stepped through its records with the
/// shared pure step, and written once if it changed.
fn fold_views<V: Clone>(
    c: &Connection,
    records: &[&RecordedEvent],
    key: impl Fn(&RecordedEvent) -> Option<String>,
    load: fn(&Connection, &str) -> rusqlite::Result<Option<V>>,
    step: StepFn<V>,
    fold: FoldFn<V>,
    put: fn(&Connection, &V) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let bad =
        |e: order_domain::events::DecodeError| rusqlite::Error::ToSqlConversionFailure(e.into());
    // Per view: its current state and whether the batch changed it; first-seen order.
    let mut views: HashMap<String, (Option<V>, bool)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for record in records {
        let Some(k) = key(record) else { continue };
        if !views.contains_key(&k) {
            views.insert(k.clone(), (load(c, &k)?, false));
            order.push(k.clone());
        }
        let Some((current, dirty)) = views.get_mut(&k) else {
            continue;
        };
        let next = match step(current.as_ref(), record).map_err(bad)? {
            Step::Apply(v) => Some(v),
            Step::Skip => None,
            Step::NeedHistory { after_version } => fold(
                current.clone(),
                &stream_events(c, record.stream_id.as_str(), after_version)?,
            )
            .map_err(bad)?,
        };
        if let Some(v) = next {
            *current = Some(v);
            *dirty = true;
        }
    }
    for k in order {
        if let Some((Some(v), true)) = views.get(&k) {
            put(c, v)?;
        }
    }
    Ok(())
}

impl crate::host::StuckOrders for SqliteReadModels {
    async fn placed_before(
        &self,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.stuck_placed_orders(older_than_ms, limit).await
    }
}

impl ReadModels for SqliteReadModels {
    async fn get_order(&self, id: OrderId) -> Result<Option<OrderView>, PortError> {
        let id = id.to_string();
        self.db
            .read(move |c| get_order_view(c, &id))
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    async fn get_inventory(&self, id: &ProductId) -> Result<Option<InventoryView>, PortError> {
        let id = id.as_str().to_owned();
        self.db
            .read(move |c| get_inventory_view(c, &id))
            .await
            .map_err(|e| PortError(e.to_string()))
    }

    async fn product_exists(&self, id: &ProductId) -> Result<bool, PortError> {
        if self
            .known_products
            .read()
            .is_ok_and(|known| known.contains(id.as_str()))
        {
            return Ok(true);
        }
        let exists = self.get_inventory(id).await?.is_some();
        if exists && let Ok(mut known) = self.known_products.write() {
            known.insert(id.as_str().to_owned());
        }
        Ok(exists)
    }
}

#[cfg(test)]
mod tests {
    use order_domain::events::{
        OrderLine, OrderPlaced, OrderValidated, PaymentCaptured, PricedLine,
    };
    use order_domain::ports::EventStore;
    use order_domain::{
        CustomerId, Email, EventMeta, Money, OrderEvent, PaymentToken, Quantity, Timestamp,
    };

    use super::*;
    use crate::db::{Db, Durability};
    use crate::store::SqliteEventStore;

    /// An order's first three events, appended to a fresh store.
    async fn logged_order(store: &SqliteEventStore) -> (OrderId, Vec<RecordedEvent>) {
        let id = OrderId::generate();
        let p = ProductId::parse("P1").unwrap();
        let q = Quantity::new(2).unwrap();
        let events = [
            OrderEvent::OrderPlaced(OrderPlaced {
                order_id: id,
                customer_id: CustomerId::parse("c").unwrap(),
                email: Email::parse("a@example.com").unwrap(),
                items: vec![OrderLine {
                    product_id: p.clone(),
                    quantity: q,
                }],
                payment_token: PaymentToken::parse("tok_visa").unwrap(),
            }),
            OrderEvent::OrderValidated(OrderValidated {
                lines: vec![PricedLine {
                    product_id: p,
                    quantity: q,
                    unit_price: Money::from_minor(150),
                }],
                total: Money::from_minor(300),
            }),
            OrderEvent::PaymentCaptured(PaymentCaptured {
                payment_id: "ch_1".into(),
                amount: Money::from_minor(300),
            }),
        ];
        let meta = EventMeta {
            correlation_id: "c".into(),
            causation_id: "c".into(),
            occurred_at: Timestamp::from_millis(7),
        };
        let write = order_app::stream::seal(
            &id.stream(),
            0,
            order_domain::GENESIS_HASH,
            events.iter().map(OrderEvent::encode),
            &meta,
        );
        let recorded = write.events.clone();
        store.append(vec![write]).await.unwrap();
        (id, recorded)
    }

    /// A batch that repeats and reorders an order's events (at-least-once delivery) yields the
    /// view that delivering them one at a time in order yields.
    #[tokio::test]
    async fn a_duplicated_and_reordered_batch_projects_the_same_view_as_single_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("p.db"), Durability::Normal).unwrap();
        let store = SqliteEventStore::new(db.clone());
        let (id, e) = logged_order(&store).await;
        let (a, b) = (id.to_string(), id.to_string());

        let batch: Vec<(i64, RecordedEvent)> = [&e[1], &e[0], &e[0], &e[2], &e[1]]
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i64::try_from(i).unwrap() + 1, r.clone()))
            .collect();
        let batched = db
            .write(move |c| {
                Projection::OrderStatus.apply_batch(c, &batch)?;
                get_order_view(c, &a)
            })
            .await
            .unwrap();

        let singles = e.clone();
        let single = db
            .write(move |c| {
                c.execute("DELETE FROM order_status", [])?;
                for r in &singles {
                    Projection::OrderStatus.apply(c, r)?;
                }
                get_order_view(c, &b)
            })
            .await
            .unwrap();
        let view = batched.expect("projected");
        assert_eq!(Some(&view), single.as_ref());
        assert_eq!(view.version, 3);
        db.close();
    }
}
