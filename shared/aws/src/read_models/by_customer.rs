//! OrderStatusTable's customer index: a customer's orders, newest first (GET /orders).

use std::collections::HashMap;

use order_domain::CustomerId;
use order_domain::ports::PortError;
use order_read_models::{OrderCursor, OrderPage, OrderView};

use super::{DynamoRow, ViewTable, decode_view, s};
use crate::errors::port_error;

/// The name of OrderStatusTable's index on (`customerId`, `placedKey`): a customer's orders,
/// newest first with `ScanIndexForward = false` (GET /orders).
pub const CUSTOMER_INDEX: &str = "byCustomer";
/// The customer index's partition key: the order's customer id.
pub const CUSTOMER_ID: &str = "customerId";
/// The customer index's sort key: `format!("{:013}#{order_id}", placed_at_ms)`.
pub const PLACED_KEY: &str = "placedKey";

impl ViewTable<OrderView> {
    /// A page of `customer`'s orders after `after`, newest first, from the customer index.
    ///
    /// The index is eventually consistent (a global secondary index offers no consistent
    /// read): an order written a moment ago may be missing, or show its previous status, for
    /// as long as DynamoDB takes to propagate the put (typically well under a second). The
    /// table's own GetItem stays strongly consistent. The cursor is rebuilt into the index's
    /// ExclusiveStartKey (its keys plus the table's `orderId`), so a page costs one Query of
    /// `limit + 1` items (more only if a 1 MB response page cuts it short).
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
        let mut fetched: Vec<OrderView> = Vec::with_capacity(fetch);
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
                .limit(i32::try_from(fetch - fetched.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(&self.table, &e))?;
            for item in page.items() {
                fetched.push(decode_view(&self.table, item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() && fetched.len() < fetch => start = Some(key),
                _ => break,
            }
        }
        Ok(OrderPage::from_fetched(fetched, limit))
    }
}
