//! OrderStatusTable counted by status (the console's counts).
//!
//! No index fits: the sweep index holds only open orders, the customer index is by customer.
//! So it is one paginated Scan, eventually consistent (half the read units; an operator's page
//! can trail a moment), that projects only `status`. The projection trims what comes back, not
//! what is read: each page reads up to 1 MB of whole items, and DynamoDB bills a Scan by the
//! size of the items it reads, so one count reads the whole table (its view rows are about
//! half a kilobyte: a million orders make about 500 MB, some 60,000 read request units a
//! count). The console asks every 2 s while it is open, which the local and test tables answer
//! in milliseconds; on a table of millions of orders that is a cost to weigh before leaving the
//! console open against it, and what such a table would want is a counter kept by the
//! projector instead (not built: it would add a conditional write to every status put).

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
