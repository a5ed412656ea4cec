//! OrderStatusTable's customer index: a customer's orders, newest first (GET /orders).
//!
//! The index projects keys only (`customerId`, `placedKey`, `orderId`), all three fixed from
//! an order's first put on. DynamoDB writes to an index only when what it keeps of a row
//! changes, so an order enters the index once and the status puts after it (about three an
//! order) write nothing to it. With every attribute projected, each of them copied the whole
//! row into the index: an index write per status put, and a second copy of every view stored.
//! A page reads its rows back instead: one Query of the index, then one BatchGetItem of the
//! table (strongly consistent, as GET /orders/{id} reads).

use std::collections::HashMap;

use order_domain::ports::PortError;
use order_domain::{CustomerId, OrderId};
use order_read_models::{OrderCursor, OrderPage, OrderView};

use super::{DynamoRow, Item, ViewTable, decode_view, s};
use crate::errors::port_error;

/// The name of OrderStatusTable's index on (`customerId`, `placedKey`), keys only: a
/// customer's orders, newest first with `ScanIndexForward = false` (GET /orders). Named apart
/// from `byCustomer`, its predecessor that projected every attribute: DynamoDB cannot change
/// an index's projection, so the index was made anew under a new name.
pub const CUSTOMER_INDEX: &str = "byCustomerKeys";
/// The customer index's partition key: the order's customer id.
pub const CUSTOMER_ID: &str = "customerId";
/// The customer index's sort key: `format!("{:013}#{order_id}", placed_at_ms)`.
pub const PLACED_KEY: &str = "placedKey";

impl ViewTable<OrderView> {
    /// A page of `customer`'s orders after `after`, newest first, from the customer index.
    ///
    /// The index is eventually consistent (a global secondary index offers no consistent
    /// read): an order placed a moment ago may be missing for as long as DynamoDB takes to
    /// propagate its first put (typically well under a second). The rows are then read
    /// strongly consistent, so an order the page lists shows the status GET /orders/{id}
    /// shows. The cursor is rebuilt into the index's ExclusiveStartKey (its keys plus the
    /// table's `orderId`); a page costs one Query of `limit + 1` keys (the extra one only says
    /// whether a next page exists) and one BatchGetItem of `limit` rows (two past 100).
    pub async fn by_customer(
        &self,
        customer: &CustomerId,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, PortError> {
        let fetch = limit.saturating_add(1);
        let mut start = after.map(|at| {
            HashMap::from([
                (CUSTOMER_ID.to_owned(), s(customer.as_str())),
                (PLACED_KEY.to_owned(), s(at.placed_key())),
                (OrderView::KEY.to_owned(), s(at.order_id.to_string())),
            ])
        });
        let mut positions: Vec<OrderCursor> = Vec::with_capacity(fetch);
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(CUSTOMER_INDEX)
                .key_condition_expression("#c = :c")
                .expression_attribute_names("#c", CUSTOMER_ID)
                .expression_attribute_values(":c", s(customer.as_str()))
                .scan_index_forward(false)
                .limit(i32::try_from(fetch - positions.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(&self.table, &e))?;
            for item in page.items() {
                positions.push(self.position(item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() && positions.len() < fetch => start = Some(key),
                _ => break,
            }
        }
        let more = positions.len() > limit;
        positions.truncate(limit);
        let keys = positions
            .iter()
            .map(|at| HashMap::from([(OrderView::KEY.to_owned(), s(at.order_id.to_string()))]))
            .collect();
        let mut views: HashMap<OrderId, OrderView> = HashMap::with_capacity(positions.len());
        for row in self.rows(keys, &["view"]).await? {
            let view: OrderView = decode_view(&self.table, &row)?;
            views.insert(view.order_id, view);
        }
        // The index's order; a key whose row is gone (none is ever deleted) is left out, and
        // the next page still starts after the last key read.
        let next = if more {
            positions.last().copied()
        } else {
            None
        };
        let orders = positions
            .iter()
            .filter_map(|at| views.remove(&at.order_id))
            .collect();
        Ok(OrderPage { orders, next })
    }

    /// An index item's listing position: its `placedKey`, which holds the order's id too.
    fn position(&self, item: &Item) -> Result<OrderCursor, PortError> {
        let key = item
            .get(PLACED_KEY)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| {
                PortError(format!(
                    "{}: an index item without `{PLACED_KEY}`",
                    self.table
                ))
            })?;
        OrderCursor::from_placed_key(key).map_err(|e| {
            PortError(format!(
                "{}: an index item's `{PLACED_KEY}` {key:?}: {e}",
                self.table
            ))
        })
    }
}
