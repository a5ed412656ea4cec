//! The events of an order's life after it was placed and paid for: a customer's cancellation, the
//! shipment, and refunds (a return when they put stock back).
//!
//! A refund is requested first ([`RefundRequested`], which sets its lines and amount aside so no
//! two refunds can give back the same unit) and then settled by the refund workflow, once the
//! gateway answered ([`RefundIssued`]) or its retries ran out ([`RefundFailed`], which frees the
//! lines again).

use serde::{Deserialize, Serialize};

use super::PricedLine;
use crate::values::Money;

/// A customer asked to cancel an order that was still being processed: the workflow stops at its
/// next step and gives back what the order holds (`OrderCancelled` follows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancellationRequested {
    #[serde(default)]
    pub reason: String,
}

/// The order was cancelled. `refunded` is what its cancellation gave back (nothing when it was
/// cancelled before the charge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub refunded: Money,
    #[serde(default)]
    pub reason: String,
}

/// The order left the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderShipped {
    pub carrier: String,
    pub tracking_id: String,
}

/// A refund of some of an order's lines was asked for and its amount set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequested {
    /// `<orderId>-R<n>`, the n-th refund of the order: the gateway's idempotency key.
    pub refund_id: String,
    /// The caller's Idempotency-Key (a cancellation's refund has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The lines given back, at the unit prices the order was validated at.
    pub lines: Vec<PricedLine>,
    pub amount: Money,
    /// Whether the quantities go back on the shelf (a return).
    pub restock: bool,
    #[serde(default)]
    pub reason: String,
    /// The refund of a completed order's cancellation: everything left, restocked.
    #[serde(default)]
    pub cancellation: bool,
}

/// The gateway gave a requested refund's amount back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundIssued {
    pub refund_id: String,
    /// The gateway's id for the refund.
    pub gateway_refund_id: String,
    pub amount: Money,
}

/// A requested refund could not be made (the gateway stayed unavailable through the workflow's
/// retries): its lines may be refunded again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundFailed {
    pub refund_id: String,
    pub message: String,
}
