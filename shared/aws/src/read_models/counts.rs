//! OrderStatusTable counted by status (the console's counts).
//!
//! No index fits: the sweep index holds only open orders, the customer index is by customer.
//! So it is one paginated Scan that projects only `status` (a few bytes per item, so a 1 MB
//! page counts tens of thousands of orders and the read costs by item size stay small),
//! eventually consistent (half the read units; an operator's page can trail a moment). A
//! table of millions of orders would want a counter row kept by the projector instead; the
//! console asks every few seconds, which a Scan of the local and test tables answers in
//! milliseconds.

use order_app::query::StatusCounts;
use order_domain::order::OrderStatus;
use order_domain::ports::PortError;
use order_read_models::OrderView;

use super::ViewTable;
use crate::errors::port_error;

impl ViewTable<OrderView> {
    /// Every row's status, counted.
    pub async fn count_by_status(&self) -> Result<StatusCounts, PortError> {
        let mut counts = StatusCounts::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .projection_expression("#s")
                .expression_attribute_names("#s", "status")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(&self.table, &e))?;
            for item in page.items() {
                let text = item
                    .get("status")
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| {
                        PortError(format!("{}: a row without its status", self.table))
                    })?;
                let status = OrderStatus::parse(text)
                    .ok_or_else(|| PortError(format!("{}: unknown status {text}", self.table)))?;
                counts.add(status, 1);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(counts)
    }
}
