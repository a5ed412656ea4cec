//! The inventory read model (InventoryTable): stock per product.

use order_domain::events::{DecodeError, decode_product};
use order_domain::{Money, ProductEvent, ProductId, RecordedEvent, StreamId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{INVENTORY, Step, View};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryView {
    pub product_id: ProductId,
    pub name: String,
    pub price: Money,
    pub available: u64,
    pub updated_at: Timestamp,
    /// The last applied version of the product's stream.
    pub version: u64,
}

impl View for InventoryView {
    const NAME: &'static str = INVENTORY;

    fn key(stream: &StreamId) -> Option<String> {
        stream.product_id().map(|id| id.as_str().to_owned())
    }

    fn version(&self) -> u64 {
        self.version
    }

    /// Every product event carries the stock after it, so any newer record can be applied
    /// directly (skipped versions change nothing the newer one does not restate). Only the name
    /// comes from the first event: without a view, a record past version 1 needs the history.
    fn step(current: Option<&Self>, record: &RecordedEvent) -> Result<Step<Self>, DecodeError> {
        let Some(product_id) = record.stream_id.product_id() else {
            return Ok(Step::Skip);
        };
        let have = current.map_or(0, |v| v.version);
        if record.version <= have {
            return Ok(Step::Skip);
        }
        let event = decode_product(record)?;
        let (name, price, available) = match (&event, current) {
            (ProductEvent::ProductAdded(e), _) => (e.name.clone(), e.price, e.stock),
            (_, None) => return Ok(Step::NeedHistory { after_version: 0 }),
            (ProductEvent::StockReserved(e), Some(v)) => (v.name.clone(), e.price, e.stock_after),
            (ProductEvent::StockAdded(e), Some(v)) => (v.name.clone(), e.price, e.stock_after),
        };
        Ok(Step::Apply(Self {
            product_id,
            name,
            price,
            available,
            updated_at: record.occurred_at,
            version: record.version,
        }))
    }
}
