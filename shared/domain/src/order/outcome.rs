//! What each workflow step answers, read from the order's state rather than from the decision
//! that recorded it: asked before or after its events were appended, a step answers the same.

use crate::events::{FailureReason, PaymentCaptured};
use crate::personal::Personal;
use crate::values::{CustomerId, Money, ProductId};

use super::decide::OrderError;
use super::state::{OrderState, Progress};

/// What validation concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidateOutcome {
    Validated { total: Money },
    Rejected { code: String, message: String },
}

/// What the charge concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Captured { payment_id: String, amount: Money },
    Declined { code: String, message: String },
}

/// What paying needs: either a charge to make, or the answer already recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStep {
    /// The token is in the order's sealed personal field; the customer's key opens it.
    Charge {
        amount: Money,
        customer: CustomerId,
        personal: Personal,
    },
    Done(PaymentOutcome),
}

/// What the gateway said to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeResult {
    Captured { payment_id: String },
    Declined { code: String, message: String },
}

/// What taking stock concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    Reserved {
        total: Money,
    },
    OutOfStock {
        product_id: ProductId,
        requested: u32,
        available: u64,
    },
}

/// How an order ended, for the OrderFailed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOutcome {
    Failed(FailureReason),
    /// The order completed; there is nothing to fail (a stray redelivery).
    AlreadyCompleted,
    /// The customer's cancellation ended it.
    Cancelled,
}

impl OrderState {
    /// Validation's answer, once recorded.
    pub fn validation(&self) -> Option<ValidateOutcome> {
        if let Some(Progress::Rejected(_, r)) = self.progress().map(Progress::stage) {
            return Some(ValidateOutcome::Rejected {
                code: r.code.clone(),
                message: r.message.clone(),
            });
        }
        self.priced().map(|p| ValidateOutcome::Validated {
            total: p.validated.total,
        })
    }

    /// The charge's answer, once recorded.
    pub fn payment_outcome(&self) -> Option<PaymentOutcome> {
        if let Some(Progress::Declined(_, d)) = self.progress().map(Progress::stage) {
            return Some(PaymentOutcome::Declined {
                code: d.code.clone(),
                message: d.message.clone(),
            });
        }
        self.paid().map(|p| PaymentOutcome::Captured {
            payment_id: p.payment.payment_id.clone(),
            amount: p.payment.amount,
        })
    }

    /// What paying requires now.
    pub fn payment_step(&self) -> Result<PaymentStep, OrderError> {
        if let Some(outcome) = self.payment_outcome() {
            return Ok(PaymentStep::Done(outcome));
        }
        match self {
            Self::New => Err(OrderError::NotPlaced),
            Self::Open(p) if p.cancellation().is_some() => Err(OrderError::Cancelled),
            Self::Open(Progress::Validated(priced)) => Ok(PaymentStep::Charge {
                amount: priced.validated.total,
                customer: priced.placed.customer_id.clone(),
                personal: priced.placed.personal.clone(),
            }),
            _ => Err(OrderError::NotReady {
                step: "payment",
                status: self.status(),
            }),
        }
    }

    /// The reservation's answer, once recorded.
    pub fn reservation(&self) -> Option<ReserveOutcome> {
        if let Self::Completed(c) = self {
            return Some(ReserveOutcome::Reserved {
                total: c.completed.total,
            });
        }
        match self.progress()?.stage() {
            Progress::OutOfStock(_, o) | Progress::Refunded(_, Some(o), _) => {
                Some(ReserveOutcome::OutOfStock {
                    product_id: o.product_id.clone(),
                    requested: o.requested,
                    available: o.available,
                })
            }
            _ => None,
        }
    }

    /// How the order ended, once it did.
    pub fn ending(&self) -> Option<FailOutcome> {
        match self {
            Self::Completed(_) => Some(FailOutcome::AlreadyCompleted),
            Self::Failed(f) => Some(FailOutcome::Failed(f.failed.reason)),
            Self::Cancelled(_) => Some(FailOutcome::Cancelled),
            Self::New | Self::Open(_) => None,
        }
    }

    /// The payment a failing order must give back first, if any: a charge captured and neither
    /// refunded nor followed by the order's completion.
    pub fn refund_due(&self) -> Option<&PaymentCaptured> {
        match self {
            Self::Open(progress) => match progress.stage() {
                Progress::Paid(paid)
                | Progress::OutOfStock(paid, _)
                | Progress::Reserved(paid, _) => Some(&paid.payment),
                _ => None,
            },
            _ => None,
        }
    }
}
