//! An order stream's money and lines, from its events.

use std::collections::BTreeMap;

use order_domain::events::PricedLine;
use order_domain::{Money, OrderEvent};

use super::Violation;

/// Where a requested refund stands, as the audit needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Pending,
    Issued,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requested {
    refund_id: String,
    lines: Vec<(String, u64)>,
    restock: bool,
    settled: Settled,
}

/// What one order stream says of its money, its lines and the stock it moved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OrderBook {
    /// Quantity ordered, per product (OrderPlaced).
    ordered: BTreeMap<String, u64>,
    captured: u64,
    /// Every PaymentRefunded and RefundIssued amount.
    refunded: u64,
    refunds: Vec<Requested>,
    unrequested: Option<String>,
    /// The first refund settled again after it was settled.
    resettled: Option<String>,
    /// Stock taken, recorded by InventoryReserved, awaiting its OrderCompleted.
    reserved: Vec<(String, u64)>,
    /// Stock taken by the completed order, up to the audit's cut.
    pub(super) taken: Vec<(String, u64)>,
    /// Stock the order's issued, restocking refunds returned, up to the audit's cut.
    pub(super) returned: Vec<(String, u64)>,
}

fn lines(lines: &[PricedLine]) -> Vec<(String, u64)> {
    lines
        .iter()
        .map(|l| {
            (
                l.product_id.as_str().to_owned(),
                u64::from(l.quantity.get()),
            )
        })
        .collect()
}

fn add(sum: &mut u64, amount: Money) {
    *sum = sum.saturating_add(amount.minor());
}

impl OrderBook {
    /// Takes the next event; `counted` when it is within the cross-stream cut.
    pub(super) fn push(&mut self, event: &OrderEvent, counted: bool) {
        match event {
            OrderEvent::OrderPlaced(p) => {
                for item in &p.items {
                    *self
                        .ordered
                        .entry(item.product_id.as_str().to_owned())
                        .or_default() += u64::from(item.quantity.get());
                }
            }
            OrderEvent::PaymentCaptured(c) => add(&mut self.captured, c.amount),
            OrderEvent::PaymentRefunded(r) => add(&mut self.refunded, r.amount),
            OrderEvent::InventoryReserved(r) => {
                self.reserved = r
                    .lines
                    .iter()
                    .map(|l| {
                        (
                            l.product_id.as_str().to_owned(),
                            u64::from(l.quantity.get()),
                        )
                    })
                    .collect();
            }
            OrderEvent::OrderCompleted(_) if counted => {
                self.taken.append(&mut self.reserved);
            }
            OrderEvent::RefundRequested(r) => self.refunds.push(Requested {
                refund_id: r.refund_id.clone(),
                lines: lines(&r.lines),
                restock: r.restock,
                settled: Settled::Pending,
            }),
            OrderEvent::RefundIssued(i) => {
                add(&mut self.refunded, i.amount);
                match self.settle(&i.refund_id, Settled::Issued) {
                    Some((r, true)) if r.restock && counted => {
                        let lines = r.lines.clone();
                        self.returned.extend(lines);
                    }
                    Some((_, true)) => {}
                    Some((_, false)) => {
                        self.resettled.get_or_insert_with(|| i.refund_id.clone());
                    }
                    None => {
                        self.unrequested.get_or_insert_with(|| i.refund_id.clone());
                    }
                }
            }
            OrderEvent::RefundFailed(f) => {
                if let Some((_, false)) = self.settle(&f.refund_id, Settled::Failed) {
                    self.resettled.get_or_insert_with(|| f.refund_id.clone());
                }
            }
            _ => {}
        }
    }

    /// Settles the pending refund `refund_id`; the refund, if it was requested, and whether it
    /// was still pending (a settled refund stays as it was settled).
    fn settle(&mut self, refund_id: &str, to: Settled) -> Option<(&Requested, bool)> {
        let pending = |r: &Requested| r.refund_id == refund_id && r.settled == Settled::Pending;
        let at = (self.refunds.iter().position(pending))
            .or_else(|| self.refunds.iter().position(|r| r.refund_id == refund_id))?;
        let r = &mut self.refunds[at];
        let pending = r.settled == Settled::Pending;
        if pending {
            r.settled = to;
        }
        Some((r, pending))
    }

    pub(super) fn violations(&self, stream: &str) -> Vec<Violation> {
        let mut found = Vec::new();
        if self.refunded > self.captured {
            found.push(Violation::OverRefunded {
                stream: stream.to_owned(),
                captured: Money::from_minor(self.captured),
                refunded: Money::from_minor(self.refunded),
            });
        }
        let mut given_back: BTreeMap<&str, u64> = BTreeMap::new();
        for r in self.refunds.iter().filter(|r| r.settled != Settled::Failed) {
            for (product, quantity) in &r.lines {
                *given_back.entry(product).or_default() += quantity;
            }
        }
        for (product, refunded) in given_back {
            let ordered = self.ordered.get(product).copied().unwrap_or(0);
            if refunded > ordered {
                found.push(Violation::LineOverRefunded {
                    stream: stream.to_owned(),
                    product: product.to_owned(),
                    ordered,
                    refunded,
                });
            }
        }
        if let Some(refund_id) = &self.unrequested {
            found.push(Violation::Unrequested {
                stream: stream.to_owned(),
                refund_id: refund_id.clone(),
            });
        }
        if let Some(refund_id) = &self.resettled {
            found.push(Violation::SettledTwice {
                stream: stream.to_owned(),
                refund_id: refund_id.clone(),
            });
        }
        found
    }
}
