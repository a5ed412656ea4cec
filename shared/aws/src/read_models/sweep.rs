//! OrderStatusTable's sweep index: the open orders, sharded, so the sweeper finds the ones
//! left behind (PLACED and never enqueued, VALIDATED or PAID after their execution died, or
//! CANCELLING with nobody left to cancel it).
//!
//! The index is sparse: its key attributes are on a row only while the order is open (PLACED,
//! VALIDATED, PAID or CANCELLING: every status that is not terminal), and they do not change
//! while it stays open: the partition key is a
//! shard picked by the order id, the sort key the instant the order was placed. A row enters
//! the index once and leaves it once (2 index writes per order, whatever the number of status
//! puts in between; the index projects keys only, so a put that keeps them writes nothing to
//! it). A key on the status would move on every status put (a delete and a put each time).
//! A completed order being cancelled (its refund pending) is CANCELLING again for a while:
//! it enters the index a second time and leaves it once CANCELLED (2 more index writes, for
//! the few orders cancelled after completion).
//!
//! The shards spread the open orders over [`SWEEP_SHARDS`] partition keys, so the index's
//! writes are not capped by one partition key's 1,000 writes per second (about 500 orders/s
//! at 2 writes each): 16 shards hold about 8,000 orders/s. The sweeper queries every shard,
//! all at once: one after another, a run's two questions took 32 round trips.
//!
//! The placing instant is a lower bound of a row's last change, so "placed before the cutoff"
//! finds every candidate of "unchanged since before the cutoff"; the rows' own `status` and
//! `updatedAt` (read back, strongly consistent, in batches) then keep only those that are
//! still open and unchanged.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use order_domain::order::OrderStatus;
use order_domain::ports::{OpenOrder, PortError, StuckOrders};
use order_domain::{OrderId, Timestamp};
use order_read_models::OrderView;

use super::{BATCH_GET_KEYS, DynamoRow, Item, ViewTable, n, s};
use crate::errors::port_error;

/// The name of OrderStatusTable's sparse sweep index on (`sweepShard`, `sweepSince`). (It
/// replaces `bySweepStatus`, keyed on the status: an index's keys cannot change in place, so
/// the new keys get a new name and CloudFormation swaps the two.)
pub const SWEEP_INDEX: &str = "bySweepShard";
/// The sweep index's partition key: `OPEN#<n>`, `n` the order's shard ([`sweep_shard`]),
/// present only while the order is open.
pub const SWEEP_SHARD: &str = "sweepShard";
/// The sweep index's sort key: when the order was placed (ms), oldest first.
pub const SWEEP_SINCE: &str = "sweepSince";
/// How many shards the sweep index's partition key is spread over.
pub const SWEEP_SHARDS: u32 = 16;

/// The order's shard in `0..SWEEP_SHARDS`: FNV-1a of its id's text, so every writer of a
/// row (the projector, audit replay's repair) picks the same one on any platform or version.
pub fn sweep_shard(order_id: OrderId) -> u32 {
    let hash = order_id.to_string().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % SWEEP_SHARDS
}

fn shard_key(shard: u32) -> String {
    format!("OPEN#{shard}")
}

/// The sweep index's keys for `view` (its `sweepShard`, and its `sweepSince`: the placing
/// instant in ms): `Some` only while the order is open. `orders replay` compares a row's
/// attributes with these, so a row written before the index existed is rebuilt with them.
pub fn sweep_keys(view: &OrderView) -> Option<(String, u64)> {
    (!view.status.is_terminal()).then(|| {
        (
            shard_key(sweep_shard(view.order_id)),
            view.placed_at.as_millis(),
        )
    })
}

/// The sweep index's key attributes for `view`: `Some` only while the order is open. Every
/// writer of OrderStatusTable rows writes [`DynamoRow::item`], which adds these, so the index
/// stays sparse and exact; a PutItem replaces the whole row, so a row that ends leaves it.
pub(super) fn sweep_attributes(view: &OrderView) -> Option<[(String, AttributeValue); 2]> {
    sweep_keys(view).map(|(shard, since)| {
        [
            (SWEEP_SHARD.to_owned(), s(shard)),
            (SWEEP_SINCE.to_owned(), n(since)),
        ]
    })
}

/// An open status as the `status` attribute spells it (CANCELLING included: an order whose
/// cancellation was asked for stays open until it is cancelled).
fn open_status(text: &str) -> Option<OrderStatus> {
    OrderStatus::parse(text).filter(|s| !s.is_terminal())
}

impl ViewTable<OrderView> {
    /// Open orders in one of `statuses` whose row has not changed since before `before`,
    /// oldest first, at most `limit`: every shard of the sweep index queried (all at once) for
    /// orders placed before `before`, and the candidates' rows read back to keep those still
    /// in one of `statuses` and unchanged. (Within a shard the index orders by the placing instant, so
    /// past `limit` candidates a shard gives its earliest placed, not its longest unchanged.)
    pub async fn open_unchanged_since(
        &self,
        statuses: &[OrderStatus],
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OpenOrder>, PortError> {
        let shards =
            (0..SWEEP_SHARDS).map(|shard| self.open_in_shard(shard, statuses, before, limit));
        let mut out: Vec<OpenOrder> = futures_util::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .collect();
        out.sort_by_key(|o: &OpenOrder| (o.since, o.order_id));
        out.truncate(limit);
        Ok(out)
    }

    /// One shard's part of [`Self::open_unchanged_since`]: at most `limit` orders.
    async fn open_in_shard(
        &self,
        shard: u32,
        statuses: &[OrderStatus],
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OpenOrder>, PortError> {
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(SWEEP_INDEX)
                .key_condition_expression("#sh = :sh AND #since < :before")
                .expression_attribute_names("#sh", SWEEP_SHARD)
                .expression_attribute_names("#since", SWEEP_SINCE)
                .expression_attribute_values(":sh", s(shard_key(shard)))
                .expression_attribute_values(":before", n(before.as_millis()))
                .limit(i32::try_from(limit.min(BATCH_GET_KEYS)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(&self.table, &e))?;
            let keys: Vec<Item> = page
                .items()
                .iter()
                .filter_map(|i| i.get(OrderView::KEY))
                .map(|id| HashMap::from([(OrderView::KEY.to_owned(), id.clone())]))
                .collect();
            out.extend(
                self.rows(keys, &["status", "updatedAt"])
                    .await?
                    .iter()
                    .filter_map(open_order)
                    .filter(|o| o.since < before && statuses.contains(&o.status)),
            );
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

/// An open order from a row's `orderId`, `status` and `updatedAt`; `None` for an ended one
/// (the index lags the table) or a row that does not read.
fn open_order(row: &Item) -> Option<OpenOrder> {
    let text = |name: &str| row.get(name).and_then(|v| v.as_s().ok());
    Some(OpenOrder {
        order_id: OrderId::parse(text(OrderView::KEY)?).ok()?,
        status: open_status(text("status")?)?,
        since: Timestamp::from_millis(row.get("updatedAt")?.as_n().ok()?.parse().ok()?),
    })
}

/// The sweeper's question on the table alone (the sweeper Lambda is given no other table).
impl StuckOrders for ViewTable<OrderView> {
    async fn open_unchanged_since(
        &self,
        statuses: &[OrderStatus],
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OpenOrder>, PortError> {
        ViewTable::open_unchanged_since(self, statuses, before, limit).await
    }
}
