//! Read models of the order pipeline, as pure projections of the event log.
//!
//! # Layout
//! - [`order_status`]: `OrderView`, what GET /orders/{id} answers.
//! - [`inventory`]: `InventoryView`, stock per product (InventoryTable).
//! - [`Step`]: how a projection treats one delivered record. Deliveries come at least once and
//!   may come out of order (Streams, the change feed after a crash): each view keeps the last
//!   applied version of its stream, skips what it has seen, and asks for the stream's history
//!   when a record arrives past a gap. Any duplication or reordering thus ends in the same view
//!   as a straight fold (property-tested in `tests`).
//!
//! The embedded host and the stream-triggered Lambdas both drive these functions.

pub mod inventory;
pub mod order_status;

pub use inventory::InventoryView;
pub use order_status::OrderView;

/// What a projection does with one delivered record.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<V> {
    /// Store this new view (the record was the next version).
    Apply(V),
    /// Already applied (duplicate or older record): leave the view as it is.
    Skip,
    /// The record is beyond a gap: fold the stream's events after `after_version` instead.
    NeedHistory { after_version: u64 },
}

/// Names of the projections, used as checkpoint keys.
pub const ORDER_STATUS: &str = "order-status";
pub const INVENTORY: &str = "inventory";
