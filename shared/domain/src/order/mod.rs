//! The Order aggregate in the cqrs-es shape: [`OrderState`] says where an order stands, one
//! variant per stage holding only the facts that stage has; [`evolve`] folds an event onto it and
//! never fails; [`decide`] turns the state and an [`OrderCommand`] into the events to append.
//!
//! Every decision is idempotent on the state: asked again after its events were appended, it
//! decides nothing, and the step's answer, read from the state ([`outcome`]), is the same. That is
//! what makes redelivered workflow tasks safe.
//!
//! # Layout
//! - [`state`]: the state enum, its stages, [`OrderStatus`] and [`evolve`].
//! - [`decide`]: the commands, [`OrderError`] and [`decide`], plus the product side of a
//!   reservation ([`take_stock`]).
//! - [`aftersale`] and [`after_decide`]: a completed order's shipment, refunds and
//!   cancellation, and the decisions that record them.
//! - [`outcome`]: what a step answers, read from the state (validation, payment, reservation,
//!   ending), and what the gateway said to a charge ([`ChargeResult`]).

pub mod after_decide;
pub mod aftersale;
pub mod decide;
pub mod outcome;
pub mod state;

pub use after_decide::{RefundRequest, RefundResult, return_stock};
pub use aftersale::{AfterSale, Refund, RefundFacts, RefundPhase, RefundSettlement, status_after};
pub use decide::{OrderCommand, OrderError, ProductDecision, decide, take_stock};
pub use outcome::{
    ChargeResult, FailOutcome, PaymentOutcome, PaymentStep, ReserveOutcome, ValidateOutcome,
};
pub use state::{
    Cancelled, Completed, Failed, OrderState, OrderStatus, Paid, Priced, Progress, evolve,
};

use crate::envelope::{GENESIS_HASH, RecordedEvent};
use crate::events::{DecodeError, OrderEvent, OrderPlaced, decode_order};
use crate::shared_str::SharedStr;

/// An order's stream, folded: its state, and the head the next append must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The stream's version: how many events it holds.
    pub version: u64,
    /// The hash of the stream's last event (the genesis hash for an empty stream).
    pub head_hash: SharedStr,
    pub state: OrderState,
}

impl Default for Order {
    fn default() -> Self {
        Self {
            version: 0,
            head_hash: GENESIS_HASH.into(),
            state: OrderState::New,
        }
    }
}

/// The events that open an order's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `[OrderPlaced]` on a new stream, nothing on one that has events.
    pub events: Vec<OrderEvent>,
}

impl Order {
    /// Folds a stream's stored events.
    pub fn from_history(events: &[RecordedEvent]) -> Result<Self, DecodeError> {
        let mut order = Self::default();
        for e in events {
            order.apply(e.version, &e.hash, &*decode_order(e)?);
        }
        Ok(order)
    }

    /// Applies one event at `version` with stored `hash`.
    pub fn apply(&mut self, version: u64, hash: &SharedStr, event: &OrderEvent) {
        self.state = evolve(std::mem::take(&mut self.state), event);
        self.version = version;
        self.head_hash = hash.clone();
    }

    /// Decides `command` on the order's state (see [`decide`]).
    pub fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        decide(&self.state, command)
    }

    /// Places the order. On a stream that already has events, decides nothing: the caller
    /// compares the stored OrderPlaced with its own (idempotent retry or id clash).
    pub fn place(&self, placed: OrderPlaced) -> Placement {
        if self.version > 0 {
            return Placement { events: Vec::new() };
        }
        Placement {
            events: self
                .decide(&OrderCommand::Place(placed))
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod after_tests;
#[cfg(test)]
mod evolve_tests;
#[cfg(test)]
mod given;
#[cfg(test)]
mod tests;
