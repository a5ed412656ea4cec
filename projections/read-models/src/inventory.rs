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

    fn row_key(&self) -> String {
        self.product_id.as_str().to_owned()
    }

    /// Every product event carries the stock after it, so any newer record can be applied
    /// directly (skipped versions change nothing the newer one does not restate). Only the name
    /// comes from the first event: without a view, a record past version 1 needs the history.
    fn step(current: Option<&Self>, record: &RecordedEvent) -> Result<Step<Self>, DecodeError> {
        if let Some(step) = Self::unless_newer(current, record) {
            return Ok(step);
        }
        let mut next = current.cloned();
        Ok(
            match Self::apply(&mut next, record, &*decode_product(record)?) {
                Step::Apply(()) => next.map_or(Step::Skip, Step::Apply),
                Step::Skip => Step::Skip,
                Step::NeedHistory { after_version } => Step::NeedHistory { after_version },
            },
        )
    }

    /// The same step, changing the view where it stands.
    fn step_in_place(
        current: &mut Option<Self>,
        record: &RecordedEvent,
    ) -> Result<Step<()>, DecodeError> {
        if let Some(step) = Self::unless_newer(current.as_ref(), record) {
            return Ok(step);
        }
        Ok(Self::apply(current, record, &*decode_product(record)?))
    }
}

impl InventoryView {
    /// [`View::step_in_place`] for a record its caller has already decoded as `event` (audit
    /// replay decodes each event once, for the view and for its own checks).
    pub fn step_decoded_in_place(
        current: &mut Option<Self>,
        record: &RecordedEvent,
        event: &ProductEvent,
    ) -> Step<()> {
        Self::unless_newer(current.as_ref(), record)
            .unwrap_or_else(|| Self::apply(current, record, event))
    }

    /// What a record of another stream, or one the view has seen, does: nothing. `None` for a
    /// newer record, which applies.
    fn unless_newer<T>(current: Option<&Self>, record: &RecordedEvent) -> Option<Step<T>> {
        let have = current.map_or(0, |v| v.version);
        (record.stream_id.product_id().is_none() || record.version <= have).then_some(Step::Skip)
    }

    /// Applies a newer record to the view, in place.
    fn apply(view: &mut Option<Self>, record: &RecordedEvent, event: &ProductEvent) -> Step<()> {
        let Some(product_id) = record.stream_id.product_id() else {
            return Step::Skip;
        };
        let (price, available) = match event {
            ProductEvent::ProductAdded(e) => (e.price, e.stock),
            ProductEvent::StockReserved(e) => (e.price, e.stock_after),
            ProductEvent::StockAdded(e) => (e.price, e.stock_after),
        };
        match (view.as_mut(), event) {
            (Some(v), _) => {
                if let ProductEvent::ProductAdded(e) = event {
                    v.name.clone_from(&e.name);
                }
                if v.product_id != product_id {
                    v.product_id = product_id;
                }
                v.price = price;
                v.available = available;
                v.updated_at = record.occurred_at;
                v.version = record.version;
            }
            (None, ProductEvent::ProductAdded(e)) => {
                *view = Some(Self {
                    product_id,
                    name: e.name.clone(),
                    price,
                    available,
                    updated_at: record.occurred_at,
                    version: record.version,
                });
            }
            (None, _) => return Step::NeedHistory { after_version: 0 },
        }
        Step::Apply(())
    }
}
