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
        if let Some(step) = Self::unless_newer(current, record) {
            return Ok(step);
        }
        Ok(Self::apply(current, record, &decode_product(record)?))
    }
}

impl InventoryView {
    /// [`View::step`] for a record its caller has already decoded as `event` (audit replay
    /// decodes each event once, for the view and for its own checks).
    pub fn step_decoded(
        current: Option<&Self>,
        record: &RecordedEvent,
        event: &ProductEvent,
    ) -> Step<Self> {
        Self::unless_newer(current, record).unwrap_or_else(|| Self::apply(current, record, event))
    }

    /// What a record of another stream, or one the view has seen, does: nothing. `None` for a
    /// newer record, which applies.
    fn unless_newer(current: Option<&Self>, record: &RecordedEvent) -> Option<Step<Self>> {
        let have = current.map_or(0, |v| v.version);
        (record.stream_id.product_id().is_none() || record.version <= have).then_some(Step::Skip)
    }

    fn apply(current: Option<&Self>, record: &RecordedEvent, event: &ProductEvent) -> Step<Self> {
        let Some(product_id) = record.stream_id.product_id() else {
            return Step::Skip;
        };
        let (name, price, available) = match (event, current) {
            (ProductEvent::ProductAdded(e), _) => (e.name.clone(), e.price, e.stock),
            (_, None) => return Step::NeedHistory { after_version: 0 },
            (ProductEvent::StockReserved(e), Some(v)) => (v.name.clone(), e.price, e.stock_after),
            (ProductEvent::StockAdded(e), Some(v)) => (v.name.clone(), e.price, e.stock_after),
        };
        Step::Apply(Self {
            product_id,
            name,
            price,
            available,
            updated_at: record.occurred_at,
            version: record.version,
        })
    }
}
