//! Where an order stands, as a type: one variant per stage, each holding only the facts that stage
//! has, so an order that is validated and rejected at once, or paid and declined, cannot be
//! written down. [`evolve`] is the fold step that moves it on.

use serde::{Deserialize, Serialize};

use crate::events::{
    InventoryReserved, OrderCompleted, OrderEvent, OrderFailed, OrderPlaced, OrderRejected,
    OrderValidated, OutOfStock, PaymentCaptured, PaymentDeclined, PaymentRefunded,
};
use crate::values::OrderId;

/// Where an order stands. The string forms are the API's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Placed,
    Validated,
    Paid,
    Completed,
    Failed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "PLACED",
            Self::Validated => "VALIDATED",
            Self::Paid => "PAID",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// An order's state, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OrderState {
    /// No OrderPlaced yet.
    #[default]
    New,
    /// Placed and not ended.
    Open(Progress),
    /// Stock taken and the order completed: the end of a successful order.
    Completed(Completed),
    /// Ended FAILED; keeps how far the order had got, so a late step still gets its answer.
    Failed(Failed),
}

/// How far an open order has got. The stages marked "next: fail" wait for the workflow's
/// OrderFailed step; the two marked "within one append" exist only between two events that are
/// always appended together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Placed, not yet validated.
    Placed(OrderPlaced),
    /// Validation refused it (next: fail).
    Rejected(OrderPlaced, OrderRejected),
    /// Priced, not yet charged.
    Validated(Priced),
    /// The card was declined (next: fail).
    Declined(Priced, PaymentDeclined),
    /// Charged, stock not yet taken.
    Paid(Paid),
    /// Charged, but stock ran short (next: refund and fail).
    OutOfStock(Paid, OutOfStock),
    /// Stock taken, completion not yet recorded (within one append).
    Reserved(Paid, InventoryReserved),
    /// The charge was given back, for the shortage if there was one (within one append with the
    /// OrderFailed).
    Refunded(Paid, Option<OutOfStock>, PaymentRefunded),
}

/// A validated order: what was placed and what it was priced at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub placed: OrderPlaced,
    pub validated: OrderValidated,
}

/// A validated order whose charge was captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub priced: Priced,
    pub payment: PaymentCaptured,
}

/// A completed order: paid, stock taken, completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub paid: Paid,
    pub reserved: InventoryReserved,
    pub completed: OrderCompleted,
}

/// A failed order: how far it had got, and its OrderFailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub progress: Progress,
    pub failed: OrderFailed,
}

/// The fold step. Infallible: the log is the truth, whatever it says. An event the state cannot
/// follow (only a hand-edited or corrupt log has one, since every append is decided on the state
/// it follows) leaves the state as it is: a second OrderPlaced, a capture before validation,
/// anything after the order ended. The decisions then answer from what the state holds, or refuse.
pub fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
    match (state, event) {
        (OrderState::New, OrderEvent::OrderPlaced(placed)) => {
            OrderState::Open(Progress::Placed(placed.clone()))
        }
        (OrderState::Open(progress), event) => progress.evolve(event),
        (state, _) => state,
    }
}

impl Progress {
    fn evolve(self, event: &OrderEvent) -> OrderState {
        let next = match (self, event) {
            (Self::Placed(placed), OrderEvent::OrderValidated(v)) => Self::Validated(Priced {
                placed,
                validated: v.clone(),
            }),
            (Self::Placed(placed), OrderEvent::OrderRejected(r)) => {
                Self::Rejected(placed, r.clone())
            }
            (Self::Validated(priced), OrderEvent::PaymentCaptured(p)) => Self::Paid(Paid {
                priced,
                payment: p.clone(),
            }),
            (Self::Validated(priced), OrderEvent::PaymentDeclined(d)) => {
                Self::Declined(priced, d.clone())
            }
            (Self::Paid(paid), OrderEvent::InventoryReserved(r)) => Self::Reserved(paid, r.clone()),
            (Self::Paid(paid), OrderEvent::OutOfStock(o)) => Self::OutOfStock(paid, o.clone()),
            (Self::Paid(paid), OrderEvent::PaymentRefunded(r)) => {
                Self::Refunded(paid, None, r.clone())
            }
            (Self::OutOfStock(paid, shortage), OrderEvent::PaymentRefunded(r)) => {
                Self::Refunded(paid, Some(shortage), r.clone())
            }
            (Self::Reserved(paid, reserved), OrderEvent::OrderCompleted(c)) => {
                return OrderState::Completed(Completed {
                    paid,
                    reserved,
                    completed: c.clone(),
                });
            }
            (progress, OrderEvent::OrderFailed(f)) => {
                return OrderState::Failed(Failed {
                    progress,
                    failed: f.clone(),
                });
            }
            (progress, _) => progress,
        };
        OrderState::Open(next)
    }

    /// What the customer placed.
    pub fn placed(&self) -> &OrderPlaced {
        match self {
            Self::Placed(placed) | Self::Rejected(placed, _) => placed,
            Self::Validated(priced) | Self::Declined(priced, _) => &priced.placed,
            Self::Paid(paid)
            | Self::OutOfStock(paid, _)
            | Self::Reserved(paid, _)
            | Self::Refunded(paid, ..) => &paid.priced.placed,
        }
    }

    /// The validation, once the order was priced.
    pub fn priced(&self) -> Option<&Priced> {
        match self {
            Self::Placed(_) | Self::Rejected(..) => None,
            Self::Validated(priced) | Self::Declined(priced, _) => Some(priced),
            Self::Paid(paid)
            | Self::OutOfStock(paid, _)
            | Self::Reserved(paid, _)
            | Self::Refunded(paid, ..) => Some(&paid.priced),
        }
    }

    /// The captured charge, once the order was paid.
    pub fn paid(&self) -> Option<&Paid> {
        match self {
            Self::Placed(_) | Self::Rejected(..) | Self::Validated(_) | Self::Declined(..) => None,
            Self::Paid(paid)
            | Self::OutOfStock(paid, _)
            | Self::Reserved(paid, _)
            | Self::Refunded(paid, ..) => Some(paid),
        }
    }

    /// The status an open order shows: a recorded refusal does not change it, the end does.
    pub fn status(&self) -> OrderStatus {
        if self.paid().is_some() {
            OrderStatus::Paid
        } else if self.priced().is_some() {
            OrderStatus::Validated
        } else {
            OrderStatus::Placed
        }
    }
}

impl OrderState {
    /// The stages an order went through before it ended, or is at now; `None` for a new or
    /// completed order.
    pub fn progress(&self) -> Option<&Progress> {
        match self {
            Self::Open(progress) => Some(progress),
            Self::Failed(failed) => Some(&failed.progress),
            Self::New | Self::Completed(_) => None,
        }
    }

    /// What the customer placed.
    pub fn placed(&self) -> Option<&OrderPlaced> {
        match self {
            Self::New => None,
            Self::Completed(c) => Some(&c.paid.priced.placed),
            Self::Open(_) | Self::Failed(_) => self.progress().map(Progress::placed),
        }
    }

    /// The validation, once the order was priced.
    pub fn priced(&self) -> Option<&Priced> {
        match self {
            Self::Completed(c) => Some(&c.paid.priced),
            _ => self.progress().and_then(Progress::priced),
        }
    }

    /// The captured charge, once the order was paid.
    pub fn paid(&self) -> Option<&Paid> {
        match self {
            Self::Completed(c) => Some(&c.paid),
            _ => self.progress().and_then(Progress::paid),
        }
    }

    /// The order's id, once placed.
    pub fn id(&self) -> Option<OrderId> {
        self.placed().map(|p| p.order_id)
    }

    /// The order's status; `None` before it is placed.
    pub fn status(&self) -> Option<OrderStatus> {
        match self {
            Self::New => None,
            Self::Open(progress) => Some(progress.status()),
            Self::Completed(_) => Some(OrderStatus::Completed),
            Self::Failed(_) => Some(OrderStatus::Failed),
        }
    }
}
