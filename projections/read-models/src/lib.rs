//! Read models of the order pipeline, as pure projections of the event log.
//!
//! # Layout
//! - [`view`]: the [`View`] trait (key of a stream's row, `step`, `fold`) and [`Step`], how a
//!   view treats one delivered record. Deliveries come at least once and may come out of order
//!   (Streams, the change feed after a crash): each view keeps the last applied version of its
//!   stream, skips what it has seen, and asks for the stream's history when a record arrives
//!   past a gap. Any duplication or reordering thus ends in the same view as a straight fold
//!   (property-tested in `tests`).
//! - [`advance`]: the projection step written once ([`advance()`], [`advance_run`] for one
//!   stream's consecutive records, [`advance_batch`]) and the
//!   [`ViewStore`] port every read-model store implements.
//! - [`order_status`]: `OrderView`, what GET /orders/{id} answers.
//! - [`listing`]: a customer's orders a page at a time (GET /orders): [`OrderPage`] and its
//!   opaque [`OrderCursor`].
//! - [`inventory`]: `InventoryView`, stock per product (InventoryTable).
//! - [`remembered`]: [`Remembered`], a projector's memory of the views it last wrote, which
//!   spares the step its read of the view when the next records of a stream arrive.
//!
//! The embedded host and the stream-triggered Lambdas both drive these functions.

pub mod advance;
pub mod inventory;
pub mod listing;
pub mod order_status;
pub mod remembered;
pub mod view;

pub use advance::{
    AdvanceError, Applied, Next, ViewStore, ViewWrite, advance, advance_batch, advance_run, next,
    refold,
};
pub use inventory::InventoryView;
pub use listing::{CursorError, OrderCursor, OrderPage};
pub use order_status::OrderView;
pub use remembered::{Remembered, ViewMemory};
pub use view::{Step, View};

/// Names of the projections, used as checkpoint keys.
pub const ORDER_STATUS: &str = "order-status";
pub const INVENTORY: &str = "inventory";
