//! The stuck-order finder on AWS: the OrderStatus table's `bySweepStatus` index as the local
//! sweeper's source of orders left PLACED.

use order_domain::OrderId;
use order_domain::ports::{PortError, StuckOrders};

use crate::read_models::DynamoReadModels;

/// Orders PLACED and unchanged, found through the order-status read model.
#[derive(Debug, Clone)]
pub struct DynamoStuck(pub DynamoReadModels);

impl StuckOrders for DynamoStuck {
    async fn placed_before(
        &self,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.0
            .stuck_placed_orders(u64::try_from(older_than_ms).unwrap_or(0), limit)
            .await
    }
}
