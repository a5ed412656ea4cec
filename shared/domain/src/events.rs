//! The events of the order and product streams, their wire names and schema versions.
//!
//! Stored events are decoded through [`decode`], which first upcasts an old schema version to the
//! current one, so the log is never rewritten when a payload's shape changes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::RecordedEvent;
use crate::personal::Personal;
use crate::values::{CustomerId, Money, OrderId, ProductId, Quantity};

mod aftersale;

pub use aftersale::{
    CancellationRequested, OrderCancelled, OrderShipped, RefundFailed, RefundIssued,
    RefundRequested,
};

/// One line of an order as the customer placed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
}

/// One line of an order with the price it was validated at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
    pub unit_price: Money,
}

/// One line of stock taken for an order, with the product's stock after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservedLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
    pub stock_after: u64,
}

/// Why an order ended FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureReason {
    /// Validation refused it (unknown product, not enough stock at validation, bad total).
    Rejected,
    /// The gateway declined the card.
    PaymentDeclined,
    /// Stock ran out between validation and reservation.
    OutOfStock,
    /// A step kept failing after its retries (gateway down, bug): see the message.
    ProcessingError,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "REJECTED",
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::OutOfStock => "OUT_OF_STOCK",
            Self::ProcessingError => "PROCESSING_ERROR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub items: Vec<OrderLine>,
    /// The email and payment token, sealed under the customer's data key: the only personal
    /// data of the log, never copied into ids or other events.
    pub personal: Personal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderValidated {
    pub lines: Vec<PricedLine>,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRejected {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCaptured {
    pub payment_id: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDeclined {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReserved {
    pub lines: Vec<ReservedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfStock {
    pub product_id: ProductId,
    pub requested: u32,
    pub available: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefunded {
    pub payment_id: String,
    pub refund_id: String,
    pub amount: Money,
}

/// The workflow's OrderFailed step (or the sweeper) decided to fail an order that holds a
/// captured charge, and recorded it before giving the charge back: from here no step can
/// complete the order, so the refund that follows cannot meet a completion another execution
/// made in the meantime. `PaymentRefunded` and `OrderFailed` follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFailing {
    /// Why: the caught error the failure was decided on (what `OrderFailed` will say).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCompleted {
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFailed {
    pub reason: FailureReason,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductAdded {
    pub name: String,
    pub price: Money,
    pub stock: u64,
}

/// Stock taken for an order. Carries the price and stock after it, so the stream's head is a
/// snapshot of the product and a decision needs to read only the last event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockReserved {
    pub order_id: OrderId,
    pub quantity: Quantity,
    pub stock_after: u64,
    pub price: Money,
}

/// Stock put back or added (a restock, or a refund's return), with the same snapshot fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockAdded {
    pub quantity: u64,
    pub stock_after: u64,
    pub price: Money,
    /// The refund that returned the stock (`<orderId>-R<n>`); none for a restock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
}

macro_rules! event_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $schema:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name { $($variant($variant)),+ }

        impl $name {
            /// The wire name stored as the event's type.
            pub fn event_type(&self) -> &'static str {
                match self { $(Self::$variant(_) => stringify!($variant)),+ }
            }

            /// The payload's current schema version.
            pub fn schema_version(&self) -> u32 {
                match self { $(Self::$variant(_) => $schema),+ }
            }

            /// `(type, schema version, payload JSON)` ready for [`RecordedEvent::seal`].
            pub fn encode(&self) -> (&'static str, u32, String) {
                let payload = match self {
                    $(Self::$variant(e) => serde_json::to_string(e)),+
                };
                // Serialising plain structs of strings and numbers cannot fail.
                (self.event_type(), self.schema_version(), payload.unwrap_or_default())
            }

            fn from_current(event_type: &str, payload: Value) -> Result<Self, DecodeError> {
                match event_type {
                    $(stringify!($variant) => serde_json::from_value(payload)
                        .map(Self::$variant)
                        .map_err(|e| DecodeError::Payload(event_type.to_owned(), e.to_string())),)+
                    other => Err(DecodeError::UnknownType(other.to_owned())),
                }
            }

            /// [`Self::from_current`] straight from the stored JSON text, without building a
            /// `Value` tree first (the common case: the payload is already current).
            fn from_current_str(event_type: &str, payload: &str) -> Result<Self, DecodeError> {
                match event_type {
                    $(stringify!($variant) => serde_json::from_str(payload)
                        .map(Self::$variant)
                        .map_err(|e| DecodeError::Payload(event_type.to_owned(), e.to_string())),)+
                    other => Err(DecodeError::UnknownType(other.to_owned())),
                }
            }

            fn current_schema(event_type: &str) -> Option<u32> {
                match event_type { $(stringify!($variant) => Some($schema),)+ _ => None }
            }
        }
    };
}

event_enum!(
    /// Events of an `order#<id>` stream.
    OrderEvent {
        OrderPlaced => 2,
        OrderValidated => 1,
        OrderRejected => 1,
        PaymentCaptured => 1,
        PaymentDeclined => 1,
        InventoryReserved => 1,
        OutOfStock => 1,
        OrderFailing => 1,
        PaymentRefunded => 1,
        OrderCompleted => 1,
        OrderFailed => 1,
        CancellationRequested => 1,
        OrderCancelled => 1,
        OrderShipped => 1,
        RefundRequested => 1,
        RefundIssued => 1,
        RefundFailed => 1,
    }
);

event_enum!(
    /// Events of a `product#<id>` stream.
    ProductEvent {
        ProductAdded => 1,
        StockReserved => 1,
        StockAdded => 1,
    }
);

impl OrderEvent {
    /// The events that end an order's processing: completed, failed, or cancelled before it
    /// completed. (A completed order may still be shipped, refunded or cancelled.)
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::OrderCompleted(_) | Self::OrderFailed(_) | Self::OrderCancelled(_)
        )
    }
}

/// Any event of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    Order(OrderEvent),
    Product(ProductEvent),
}

/// A stored event that cannot be read as a domain event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0}")]
    UnknownType(String),
    #[error("{0} has schema version {1}, newer than this build knows ({2})")]
    FutureSchema(String, u32, u32),
    #[error("{0} payload is not valid: {1}")]
    Payload(String, String),
}

/// Upcasts a stored payload from `schema_version` to the current schema of `event_type`.
/// Each arm moves one version forward; they chain until the current version is reached.
fn upcast(event_type: &str, schema_version: u32, mut payload: Value) -> (u32, Value) {
    let mut version = schema_version;
    loop {
        match (event_type, version) {
            // Schema 0 of OrderPlaced (pre-release) called the payment token `card`.
            ("OrderPlaced", 0) => {
                if let Some(obj) = payload.as_object_mut()
                    && let Some(card) = obj.remove("card")
                {
                    obj.insert("paymentToken".into(), card);
                }
                version = 1;
            }
            // Schema 1 kept the email and payment token in clear at the top level; schema 2
            // keeps personal data in one field, which such an old event fills in clear.
            ("OrderPlaced", 1) => {
                if let Some(obj) = payload.as_object_mut() {
                    let mut personal = serde_json::Map::new();
                    for field in ["email", "paymentToken"] {
                        if let Some(v) = obj.remove(field) {
                            personal.insert(field.into(), v);
                        }
                    }
                    obj.insert("personal".into(), Value::Object(personal));
                }
                version = 2;
            }
            _ => return (version, payload),
        }
    }
}

/// Decodes a stored event (upcasting old schema versions first). An event this process sealed
/// from a typed event is not parsed again: a copy of that event is the answer (see
/// [`DecodedCache`](crate::decoded::DecodedCache)); [`decode_order`] and [`decode_product`]
/// lend it without the copy.
pub fn decode(event: &RecordedEvent) -> Result<DomainEvent, DecodeError> {
    match cached(event) {
        Some(e) => Ok(e.clone()),
        None => decode_text(event),
    }
}

/// The typed event kept with `event`, if it was sealed from one in this process.
fn cached(event: &RecordedEvent) -> Option<&DomainEvent> {
    event
        .decoded
        .get(&event.event_type, event.schema_version, &event.payload)
}

/// [`decode`] from the stored text, always.
fn decode_text(event: &RecordedEvent) -> Result<DomainEvent, DecodeError> {
    // Most events are stored at their type's current schema: typed straight from the text.
    // Parsing into a `Value` first (for the upcasters) was most of the decoding's cost.
    let ty = event.event_type.as_str();
    if OrderEvent::current_schema(ty) == Some(event.schema_version) {
        return OrderEvent::from_current_str(ty, &event.payload).map(DomainEvent::Order);
    }
    if ProductEvent::current_schema(ty) == Some(event.schema_version) {
        return ProductEvent::from_current_str(ty, &event.payload).map(DomainEvent::Product);
    }
    let payload: Value = serde_json::from_str(&event.payload)
        .map_err(|e| DecodeError::Payload(event.event_type.to_string(), e.to_string()))?;
    let (version, payload) = upcast(&event.event_type, event.schema_version, payload);
    if let Some(current) = OrderEvent::current_schema(ty) {
        if version > current {
            return Err(DecodeError::FutureSchema(ty.to_owned(), version, current));
        }
        return OrderEvent::from_current(ty, payload).map(DomainEvent::Order);
    }
    if let Some(current) = ProductEvent::current_schema(ty) {
        if version > current {
            return Err(DecodeError::FutureSchema(ty.to_owned(), version, current));
        }
        return ProductEvent::from_current(ty, payload).map(DomainEvent::Product);
    }
    Err(DecodeError::UnknownType(ty.to_owned()))
}

/// Decodes an event of an order stream: lent from the event kept with it when there is one,
/// decoded from its text otherwise.
pub fn decode_order(event: &RecordedEvent) -> Result<Cow<'_, OrderEvent>, DecodeError> {
    match cached(event) {
        Some(DomainEvent::Order(e)) => Ok(Cow::Borrowed(e)),
        Some(DomainEvent::Product(_)) => Err(not_of_stream(event)),
        None => match decode_text(event)? {
            DomainEvent::Order(e) => Ok(Cow::Owned(e)),
            DomainEvent::Product(_) => Err(not_of_stream(event)),
        },
    }
}

/// Decodes an event of a product stream, as [`decode_order`] does an order's.
pub fn decode_product(event: &RecordedEvent) -> Result<Cow<'_, ProductEvent>, DecodeError> {
    match cached(event) {
        Some(DomainEvent::Product(e)) => Ok(Cow::Borrowed(e)),
        Some(DomainEvent::Order(_)) => Err(not_of_stream(event)),
        None => match decode_text(event)? {
            DomainEvent::Product(e) => Ok(Cow::Owned(e)),
            DomainEvent::Order(_) => Err(not_of_stream(event)),
        },
    }
}

fn not_of_stream(event: &RecordedEvent) -> DecodeError {
    DecodeError::UnknownType(event.event_type.to_string())
}

#[cfg(test)]
mod tests;
