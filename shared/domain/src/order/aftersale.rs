//! A completed order's life after completion: its shipment, its refunds (requested, then issued
//! or failed), and its cancellation, which is the refund of everything left with the stock put
//! back.
//!
//! A refund's lines are set aside when it is requested, so what is refundable of a line is its
//! quantity less every refund issued or still pending. Two refunds decided on the same version
//! of the stream cannot both be appended, so however many are sent at once, no unit is given
//! back twice.

use crate::events::OrderCancelled;
use crate::events::{
    OrderEvent, OrderShipped, PricedLine, RefundFailed, RefundIssued, RefundRequested,
};
use crate::values::ProductId;

use super::state::{Completed, OrderState, OrderStatus};

/// What happened to a completed order since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AfterSale {
    pub shipment: Option<OrderShipped>,
    /// In the order they were requested.
    pub refunds: Vec<Refund>,
    pub cancelled: Option<OrderCancelled>,
}

/// One refund and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub request: RefundRequested,
    pub settlement: RefundSettlement,
}

/// Where a requested refund stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundSettlement {
    /// Its amount is set aside; the refund workflow has not finished.
    Pending,
    Issued(RefundIssued),
    /// Its lines are free again.
    Failed(RefundFailed),
}

impl Refund {
    pub fn is_pending(&self) -> bool {
        self.settlement == RefundSettlement::Pending
    }

    pub fn is_issued(&self) -> bool {
        matches!(self.settlement, RefundSettlement::Issued(_))
    }

    /// The quantity of `product` this refund gives back.
    fn quantity_of(&self, product: &ProductId) -> u64 {
        quantity_of(&self.request.lines, product)
    }
}

fn quantity_of(lines: &[PricedLine], product: &ProductId) -> u64 {
    lines
        .iter()
        .filter(|l| &l.product_id == product)
        .map(|l| u64::from(l.quantity.get()))
        .sum()
}

impl AfterSale {
    fn evolve(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::OrderShipped(s) if self.shipment.is_none() => {
                self.shipment = Some(s.clone());
            }
            OrderEvent::RefundRequested(r) if self.refund(&r.refund_id).is_none() => {
                self.refunds.push(Refund {
                    request: r.clone(),
                    settlement: RefundSettlement::Pending,
                });
            }
            OrderEvent::RefundIssued(i) => {
                self.settle(&i.refund_id, RefundSettlement::Issued(i.clone()));
            }
            OrderEvent::RefundFailed(f) => {
                self.settle(&f.refund_id, RefundSettlement::Failed(f.clone()));
            }
            OrderEvent::OrderCancelled(c) if self.cancelled.is_none() => {
                self.cancelled = Some(c.clone());
            }
            _ => {}
        }
    }

    fn settle(&mut self, refund_id: &str, settlement: RefundSettlement) {
        if let Some(r) = self
            .refunds
            .iter_mut()
            .find(|r| r.request.refund_id == refund_id)
            && r.is_pending()
        {
            r.settlement = settlement;
        }
    }

    /// The refund with this id.
    pub fn refund(&self, refund_id: &str) -> Option<&Refund> {
        self.refunds
            .iter()
            .find(|r| r.request.refund_id == refund_id)
    }

    /// The refund requested with this Idempotency-Key.
    pub fn refund_by_key(&self, key: &str) -> Option<&Refund> {
        self.refunds
            .iter()
            .find(|r| r.request.idempotency_key.as_deref() == Some(key))
    }

    /// The cancellation's refund, while it is pending.
    pub fn pending_cancellation(&self) -> Option<&Refund> {
        self.refunds
            .iter()
            .find(|r| r.request.cancellation && r.is_pending())
    }

    /// Whether any refund is pending.
    pub fn refund_pending(&self) -> bool {
        self.refunds.iter().any(Refund::is_pending)
    }

    /// The sum of the refunds issued, in minor units.
    pub fn amount_refunded(&self) -> u64 {
        self.refunds
            .iter()
            .filter_map(|r| match &r.settlement {
                RefundSettlement::Issued(i) => Some(i.amount.minor()),
                _ => None,
            })
            .sum()
    }
}

impl Completed {
    pub(super) fn evolve(mut self, event: &OrderEvent) -> OrderState {
        self.after.evolve(event);
        OrderState::Completed(self)
    }

    /// The lines the order was paid for, at their validated prices.
    pub fn lines(&self) -> &[PricedLine] {
        &self.paid.priced.validated.lines
    }

    /// How much of `product` may still be refunded: what was paid for, less every refund issued
    /// or pending.
    pub fn refundable(&self, product: &ProductId) -> u64 {
        let bought = quantity_of(self.lines(), product);
        let given_back: u64 = self
            .after
            .refunds
            .iter()
            .filter(|r| !matches!(r.settlement, RefundSettlement::Failed(_)))
            .map(|r| r.quantity_of(product))
            .sum();
        bought.saturating_sub(given_back)
    }

    /// The status a completed order shows ([`status_after`]).
    pub fn status(&self) -> OrderStatus {
        let refunds: Vec<RefundFacts<'_>> = self
            .after
            .refunds
            .iter()
            .map(|r| RefundFacts {
                lines: &r.request.lines,
                phase: match r.settlement {
                    RefundSettlement::Pending => RefundPhase::Pending,
                    RefundSettlement::Issued(_) => RefundPhase::Issued,
                    RefundSettlement::Failed(_) => RefundPhase::Failed,
                },
                cancellation: r.request.cancellation,
            })
            .collect();
        status_after(
            self.lines(),
            self.after.shipment.is_some(),
            self.after.cancelled.is_some(),
            &refunds,
        )
    }
}

/// Where a refund stands, as the status needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPhase {
    Pending,
    Issued,
    Failed,
}

/// One refund, as the status needs it.
#[derive(Debug, Clone, Copy)]
pub struct RefundFacts<'a> {
    pub lines: &'a [PricedLine],
    pub phase: RefundPhase,
    pub cancellation: bool,
}

/// The status of a completed order from what happened to it since: its cancellation, then its
/// refunds, then its shipment. Written once, for the aggregate and for the views that show it.
pub fn status_after(
    lines: &[PricedLine],
    shipped: bool,
    cancelled: bool,
    refunds: &[RefundFacts<'_>],
) -> OrderStatus {
    let issued = || refunds.iter().filter(|r| r.phase == RefundPhase::Issued);
    let fully_refunded = lines.iter().all(|l| {
        let given_back: u64 = issued().map(|r| quantity_of(r.lines, &l.product_id)).sum();
        given_back >= quantity_of(lines, &l.product_id)
    });
    if cancelled {
        OrderStatus::Cancelled
    } else if refunds
        .iter()
        .any(|r| r.cancellation && r.phase == RefundPhase::Pending)
    {
        OrderStatus::Cancelling
    } else if fully_refunded {
        OrderStatus::Refunded
    } else if issued().next().is_some() {
        OrderStatus::PartiallyRefunded
    } else if shipped {
        OrderStatus::Shipped
    } else {
        OrderStatus::Completed
    }
}
