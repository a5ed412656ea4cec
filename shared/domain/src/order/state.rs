//! Where an order stands, as a type: one variant per stage, each holding only the facts that stage
//! has, so an order that is validated and rejected at once, or paid and declined, cannot be
//! written down. [`evolve`] is the fold step that moves it on.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::events::{
    CancellationRequested, InventoryReserved, OrderCancelled, OrderCompleted, OrderEvent,
    OrderFailed, OrderFailing, OrderPlaced, OrderRejected, OrderValidated, OutOfStock,
    PaymentCaptured, PaymentDeclined, PaymentRefunded,
};
use crate::values::OrderId;

use super::aftersale::AfterSale;

/// Where an order stands. The string forms are the API's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Placed,
    Validated,
    Paid,
    Completed,
    Failed,
    /// A cancellation was asked for and is being carried out (the workflow's next step, or the
    /// refund of a completed order).
    Cancelling,
    Cancelled,
    Shipped,
    /// Some of a completed order was refunded, not all.
    PartiallyRefunded,
    /// Every line of a completed order was refunded.
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "PLACED",
            Self::Validated => "VALIDATED",
            Self::Paid => "PAID",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
            Self::Shipped => "SHIPPED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Self::Refunded => "REFUNDED",
        }
    }

    /// The statuses of an order whose processing is not over (see [`Self::is_terminal`]).
    pub const OPEN: [Self; 4] = [Self::Placed, Self::Validated, Self::Paid, Self::Cancelling];

    /// Every status.
    pub const ALL: [Self; 10] = [
        Self::Placed,
        Self::Validated,
        Self::Paid,
        Self::Completed,
        Self::Failed,
        Self::Cancelling,
        Self::Cancelled,
        Self::Shipped,
        Self::PartiallyRefunded,
        Self::Refunded,
    ];

    /// The status `text` spells ([`Self::as_str`]).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the order's processing is over: the workflow has nothing left to do for it. A
    /// CANCELLING order is not (its cancellation is being carried out).
    pub fn is_terminal(self) -> bool {
        !Self::OPEN.contains(&self)
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
    /// Cancelled before it completed; keeps how far it had got, like a failed order.
    Cancelled(Cancelled),
}

/// How far an open order has got. The stages marked "next: fail" wait for the workflow's
/// OrderFailed step; the two marked "within one append" exist only between two events that are
/// always appended together.
///
/// The OrderPlaced is shared (`Arc`): it never changes once folded, and it is most of an
/// order's state (its lines, its sealed personal data), so a copy of a state (the memo of
/// folded orders keeps one of every fold it hands out) shares it instead of copying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Placed, not yet validated.
    Placed(Arc<OrderPlaced>),
    /// Validation refused it (next: fail).
    Rejected(Arc<OrderPlaced>, OrderRejected),
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
    /// The customer asked to cancel at this stage (next: the workflow's next step refuses and its
    /// OrderFailed step cancels). The workflow's steps still record what the gateway already
    /// did, so a charge in flight is recorded and given back.
    Cancelling(Box<Progress>, CancellationRequested),
    /// Paid, and its failure decided and recorded before the charge is given back (next: refund
    /// and fail). No step completes it: a reservation refuses it.
    Failing(Box<Progress>, OrderFailing),
}

/// A validated order: what was placed and what it was priced at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub placed: Arc<OrderPlaced>,
    pub validated: OrderValidated,
}

/// A validated order whose charge was captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub priced: Priced,
    pub payment: PaymentCaptured,
}

/// A completed order: paid, stock taken, completed; and what happened to it since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub paid: Paid,
    pub reserved: InventoryReserved,
    pub completed: OrderCompleted,
    pub after: AfterSale,
}

/// A failed order: how far it had got, and its OrderFailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub progress: Progress,
    pub failed: OrderFailed,
}

/// An order cancelled before it completed: how far it had got, and its OrderCancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub progress: Progress,
    pub request: Option<CancellationRequested>,
    pub cancelled: OrderCancelled,
}

/// The fold step. Infallible: the log is the truth, whatever it says. An event the state cannot
/// follow (only a hand-edited or corrupt log has one, since every append is decided on the state
/// it follows) leaves the state as it is: a second OrderPlaced, a capture before validation,
/// anything after the order ended. The decisions then answer from what the state holds, or refuse.
pub fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
    match (state, event) {
        (OrderState::New, OrderEvent::OrderPlaced(placed)) => {
            OrderState::Open(Progress::Placed(Arc::new(placed.clone())))
        }
        (OrderState::Open(progress), event) => progress.evolve(event),
        (OrderState::Completed(completed), event) => completed.evolve(event),
        (state, _) => state,
    }
}

impl Progress {
    fn evolve(self, event: &OrderEvent) -> OrderState {
        let next = match (self, event) {
            (Self::Cancelling(stage, request), OrderEvent::OrderCancelled(c)) => {
                return OrderState::Cancelled(Cancelled {
                    progress: *stage,
                    request: Some(request),
                    cancelled: c.clone(),
                });
            }
            (progress, OrderEvent::OrderCancelled(c)) => {
                return OrderState::Cancelled(Cancelled {
                    progress,
                    request: None,
                    cancelled: c.clone(),
                });
            }
            (Self::Cancelling(stage, request), OrderEvent::CancellationRequested(_)) => {
                Self::Cancelling(stage, request)
            }
            (Self::Cancelling(stage, request), event) => {
                return match stage.evolve(event) {
                    OrderState::Open(next) => {
                        OrderState::Open(Self::Cancelling(Box::new(next), request))
                    }
                    ended => ended,
                };
            }
            (progress, OrderEvent::CancellationRequested(c)) => {
                Self::Cancelling(Box::new(progress), c.clone())
            }
            (Self::Failing(stage, failing), OrderEvent::OrderFailing(_)) => {
                Self::Failing(stage, failing)
            }
            (Self::Failing(stage, failing), event) => {
                return match stage.evolve(event) {
                    OrderState::Open(next) => {
                        OrderState::Open(Self::Failing(Box::new(next), failing))
                    }
                    ended => ended,
                };
            }
            (progress, OrderEvent::OrderFailing(f)) => Self::Failing(Box::new(progress), f.clone()),
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
                    after: AfterSale::default(),
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

    /// The stage the order had reached, whether or not its cancellation was asked for or its
    /// failure decided.
    pub fn stage(&self) -> &Progress {
        match self {
            Self::Cancelling(stage, _) | Self::Failing(stage, _) => stage.stage(),
            stage => stage,
        }
    }

    /// The failure decided while the order held its charge ([`OrderFailing`]), if it was.
    pub fn failing(&self) -> Option<&OrderFailing> {
        match self {
            Self::Failing(_, failing) => Some(failing),
            Self::Cancelling(stage, _) => stage.failing(),
            _ => None,
        }
    }

    /// The customer's request to cancel, if they made one.
    pub fn cancellation(&self) -> Option<&CancellationRequested> {
        match self {
            Self::Cancelling(_, request) => Some(request),
            _ => None,
        }
    }

    /// What the customer placed.
    pub fn placed(&self) -> &OrderPlaced {
        match self {
            Self::Cancelling(stage, _) | Self::Failing(stage, _) => stage.placed(),
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
            Self::Cancelling(stage, _) | Self::Failing(stage, _) => stage.priced(),
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
            Self::Cancelling(stage, _) | Self::Failing(stage, _) => stage.paid(),
            Self::Placed(_) | Self::Rejected(..) | Self::Validated(_) | Self::Declined(..) => None,
            Self::Paid(paid)
            | Self::OutOfStock(paid, _)
            | Self::Reserved(paid, _)
            | Self::Refunded(paid, ..) => Some(paid),
        }
    }

    /// The status an open order shows: a recorded refusal does not change it, the end does.
    pub fn status(&self) -> OrderStatus {
        if self.cancellation().is_some() {
            OrderStatus::Cancelling
        } else if self.paid().is_some() {
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
            Self::Cancelled(cancelled) => Some(&cancelled.progress),
            Self::New | Self::Completed(_) => None,
        }
    }

    /// What the customer placed.
    pub fn placed(&self) -> Option<&OrderPlaced> {
        match self {
            Self::New => None,
            Self::Completed(c) => Some(&c.paid.priced.placed),
            Self::Open(_) | Self::Failed(_) | Self::Cancelled(_) => {
                self.progress().map(Progress::placed)
            }
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
            Self::Completed(c) => Some(c.status()),
            Self::Failed(_) => Some(OrderStatus::Failed),
            Self::Cancelled(_) => Some(OrderStatus::Cancelled),
        }
    }

    /// The customer's request to cancel, while it is being carried out.
    pub fn cancellation_pending(&self) -> bool {
        match self {
            Self::Open(progress) => progress.cancellation().is_some(),
            Self::Completed(c) => c.after.pending_cancellation().is_some(),
            _ => false,
        }
    }
}
