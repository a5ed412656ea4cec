//! A rebuilt read-model row, whichever model it belongs to, and how a stream maps to its row.

use std::fmt;

use order_domain::events::{DecodeError, decode_order, decode_product};
use order_domain::{OrderEvent, ProductEvent, RecordedEvent, StreamId};
use order_read_models::{INVENTORY, InventoryView, ORDER_STATUS, OrderCursor, OrderView};

use crate::audit::Audited;
use serde_json::Value;

/// The read models replay rebuilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    /// `order_status` (OrderStatus table): one row per order stream.
    OrderStatus,
    /// `inventory` (InventoryTable): one row per product stream.
    Inventory,
}

impl Model {
    /// The projection's name, as its checkpoint is keyed.
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderStatus => ORDER_STATUS,
            Self::Inventory => INVENTORY,
        }
    }

    /// The model whose row a stream feeds, and that row's key (order id or product id).
    pub fn of_stream(stream: &StreamId) -> Option<(Self, String)> {
        if let Some(id) = stream.order_id() {
            Some((Self::OrderStatus, id.to_string()))
        } else {
            stream
                .product_id()
                .map(|id| (Self::Inventory, id.as_str().to_owned()))
        }
    }

    /// The stream a row of this model is folded from.
    pub fn stream_of(self, key: &str) -> String {
        match self {
            Self::OrderStatus => format!("order#{key}"),
            Self::Inventory => format!("product#{key}"),
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One rebuilt row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Order(OrderView),
    Inventory(InventoryView),
}

impl View {
    pub fn model(&self) -> Model {
        match self {
            Self::Order(_) => Model::OrderStatus,
            Self::Inventory(_) => Model::Inventory,
        }
    }

    /// The last version of its stream the row reflects.
    pub fn version(&self) -> u64 {
        match self {
            Self::Order(v) => v.version,
            Self::Inventory(v) => v.version,
        }
    }

    /// An attribute a store keeps beside the document for its queries, by its storage name:
    /// `status`, `version`, `updated_at` (ms since the epoch), `available`, and the customer
    /// listing's `customer_id` with `placed_at` (ms, SQLite) or `placed_key` (the sortable
    /// `{ms:013}#{id}`, DynamoDB's `placedKey`), and DynamoDB's sweep index keys `sweep_shard`
    /// and `sweep_since` (null once the order ended). `None` for a name the model does not have.
    pub fn attribute(&self, name: &str) -> Option<Value> {
        match (self, name) {
            (_, "version") => Some(Value::from(self.version())),
            (Self::Order(v), "status") => Some(Value::from(v.status.as_str())),
            (Self::Order(v), "updated_at") => Some(Value::from(v.updated_at.as_millis())),
            (Self::Order(v), "customer_id") => Some(Value::from(v.customer_id.as_str())),
            (Self::Order(v), "placed_at") => Some(Value::from(v.placed_at.as_millis())),
            (Self::Order(v), "placed_key") => Some(Value::from(OrderCursor::of(v).placed_key())),
            // DynamoDB's sparse sweep index: an open order's shard and placing instant, none
            // once it ended.
            #[cfg(feature = "aws")]
            (Self::Order(v), "sweep_shard") => {
                Some(order_aws::read_models::sweep_keys(v).map_or(Value::Null, |k| k.0.into()))
            }
            #[cfg(feature = "aws")]
            (Self::Order(v), "sweep_since") => {
                Some(order_aws::read_models::sweep_keys(v).map_or(Value::Null, |k| k.1.into()))
            }
            (Self::Inventory(v), "available") => Some(Value::from(v.available)),
            _ => None,
        }
    }

    /// The row's JSON document, as the live tables store it.
    pub fn to_json(&self) -> Value {
        let value = match self {
            Self::Order(v) => serde_json::to_value(v),
            Self::Inventory(v) => serde_json::to_value(v),
        };
        // Plain structs of strings and numbers always serialise.
        value.unwrap_or(Value::Null)
    }

    /// The row's JSON document as text, byte for byte as the live projection writes it.
    pub fn to_json_text(&self) -> String {
        let text = match self {
            Self::Order(v) => serde_json::to_string(v),
            Self::Inventory(v) => serde_json::to_string(v),
        };
        text.unwrap_or_default()
    }

    /// Applies one record with the model's shared projection step, exactly as a straight
    /// `fold` does: `Apply` replaces the view, `Skip` and `NeedHistory` leave it.
    pub fn step(
        model: Model,
        current: Option<Self>,
        record: &RecordedEvent,
    ) -> Result<Option<Self>, DecodeError> {
        Ok(Self::step_decoded(
            current,
            record,
            Decoded::decode(model, record)?,
        ))
    }

    /// [`View::step`] of a record already decoded (the fold decodes each event once, for the
    /// view and for the audit).
    pub fn step_decoded(
        current: Option<Self>,
        record: &RecordedEvent,
        event: Decoded,
    ) -> Option<Self> {
        // A row of the other model (never handed over) counts as no row. The view is stepped
        // where it stands: the fold owns it, so no event pays for a copy of it.
        match event {
            Decoded::Order(event) => {
                let mut view = match current {
                    Some(Self::Order(v)) => Some(v),
                    _ => None,
                };
                OrderView::step_decoded_in_place(&mut view, record, event);
                view.map(Self::Order)
            }
            Decoded::Product(event) => {
                let mut view = match current {
                    Some(Self::Inventory(v)) => Some(v),
                    _ => None,
                };
                InventoryView::step_decoded_in_place(&mut view, record, &event);
                view.map(Self::Inventory)
            }
        }
    }
}

/// A stored event decoded as its stream's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Order(OrderEvent),
    Product(ProductEvent),
}

impl Decoded {
    /// Decodes `record` as an event of `model`'s streams (upcasting an old schema).
    ///
    /// # Errors
    /// The payload is not such an event.
    pub fn decode(model: Model, record: &RecordedEvent) -> Result<Self, DecodeError> {
        Ok(match model {
            Model::OrderStatus => Self::Order(decode_order(record)?.into_owned()),
            Model::Inventory => Self::Product(decode_product(record)?.into_owned()),
        })
    }

    /// The event as the audit takes it.
    pub fn audited(&self) -> Audited<'_> {
        match self {
            Self::Order(e) => Audited::Order(e),
            Self::Product(e) => Audited::Product(e),
        }
    }
}
