//! The decisions on an order after it was placed: cancel, ship, request a refund and settle it.
//! Like the workflow's decisions, each is idempotent on the state: asked again once its events
//! are in the stream, it decides nothing.

use std::collections::BTreeMap;

use crate::events::{
    CancellationRequested, OrderCancelled, OrderEvent, OrderLine, OrderShipped, PricedLine,
    RefundFailed, RefundIssued, RefundRequested,
};
use crate::product::{self, ProductCommand, ProductError, ProductState};
use crate::values::{Money, ProductId, Quantity};

use super::aftersale::{Refund, RefundSettlement};
use super::decide::{OrderError, ProductDecision};
use super::state::{Completed, OrderState, OrderStatus};

/// A refund as an admin asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The request's Idempotency-Key: the same key with the same lines is the same refund.
    pub idempotency_key: String,
    pub items: Vec<OrderLine>,
    pub restock: bool,
    pub reason: String,
}

/// What the gateway said to a refund, or that the workflow gave up on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundResult {
    Issued { gateway_refund_id: String },
    Failed { message: String },
}

fn closed(state: &OrderState) -> OrderError {
    OrderError::Closed {
        status: state.status(),
    }
}

/// The completed order a shipment or refund applies to; refuses an order that is open, ended
/// otherwise, cancelled or being cancelled.
fn completed(state: &OrderState) -> Result<&Completed, OrderError> {
    match state {
        OrderState::New => Err(OrderError::NotPlaced),
        OrderState::Open(_) => Err(OrderError::NotCompleted {
            status: state.status(),
        }),
        OrderState::Failed(_) | OrderState::Cancelled(_) => Err(closed(state)),
        OrderState::Completed(c) => {
            if c.after.cancelled.is_some() || c.after.pending_cancellation().is_some() {
                Err(closed(state))
            } else {
                Ok(c)
            }
        }
    }
}

pub(super) fn request_cancellation(
    state: &OrderState,
    reason: &str,
) -> Result<Vec<OrderEvent>, OrderError> {
    let c = match state {
        OrderState::New => return Err(OrderError::NotPlaced),
        OrderState::Open(progress) if progress.cancellation().is_some() => return Ok(vec![]),
        // Its failure is being carried out: the charge is on its way back already.
        OrderState::Open(progress) if progress.failing().is_some() => {
            return Err(OrderError::Failing);
        }
        OrderState::Open(_) => {
            return Ok(vec![OrderEvent::CancellationRequested(
                CancellationRequested {
                    reason: reason.to_owned(),
                },
            )]);
        }
        OrderState::Cancelled(_) => return Ok(vec![]),
        OrderState::Failed(_) => return Err(closed(state)),
        OrderState::Completed(c) => c,
    };
    if c.after.cancelled.is_some() || c.after.pending_cancellation().is_some() {
        return Ok(vec![]);
    }
    if c.after.shipment.is_some() {
        return Err(OrderError::AlreadyShipped);
    }
    if c.after.refund_pending() {
        return Err(OrderError::RefundInProgress);
    }
    let lines: Vec<PricedLine> = unique_lines(c)
        .into_iter()
        .filter_map(|l| {
            let left = u32::try_from(c.refundable(&l.product_id)).ok()?;
            let quantity = Quantity::new(i64::from(left)).ok()?;
            Some(PricedLine { quantity, ..l })
        })
        .collect();
    if lines.is_empty() {
        return Err(OrderError::NothingToRefund);
    }
    Ok(vec![OrderEvent::RefundRequested(RefundRequested {
        refund_id: next_refund_id(c, state),
        idempotency_key: None,
        amount: amount_of(&lines)?,
        lines,
        restock: true,
        reason: reason.to_owned(),
        cancellation: true,
    })])
}

pub(super) fn ship(
    state: &OrderState,
    carrier: &str,
    tracking_id: &str,
) -> Result<Vec<OrderEvent>, OrderError> {
    let c = completed(state)?;
    if let Some(s) = &c.after.shipment {
        return if s.carrier == carrier && s.tracking_id == tracking_id {
            Ok(vec![])
        } else {
            Err(OrderError::AlreadyShipped)
        };
    }
    if c.status() == OrderStatus::Refunded {
        return Err(closed(state));
    }
    Ok(vec![OrderEvent::OrderShipped(OrderShipped {
        carrier: carrier.to_owned(),
        tracking_id: tracking_id.to_owned(),
    })])
}

pub(super) fn request_refund(
    state: &OrderState,
    request: &RefundRequest,
) -> Result<Vec<OrderEvent>, OrderError> {
    if let OrderState::Completed(c) = state
        && let Some(earlier) = c.after.refund_by_key(&request.idempotency_key)
    {
        return if same_refund(earlier, request) {
            Ok(vec![])
        } else {
            Err(OrderError::IdempotencyKeyReused)
        };
    }
    let c = completed(state)?;
    let mut lines: Vec<PricedLine> = Vec::new();
    for item in &request.items {
        if let Some(line) = lines.iter_mut().find(|l| l.product_id == item.product_id) {
            let sum = i64::from(line.quantity.get()) + i64::from(item.quantity.get());
            line.quantity = Quantity::new(sum).map_err(|_| OrderError::ExceedsLine {
                product_id: item.product_id.clone(),
                requested: u64::try_from(sum).unwrap_or(u64::MAX),
                refundable: c.refundable(&item.product_id),
            })?;
            continue;
        }
        let priced = c
            .lines()
            .iter()
            .find(|l| l.product_id == item.product_id)
            .ok_or_else(|| OrderError::NotInOrder(item.product_id.clone()))?;
        lines.push(PricedLine {
            product_id: item.product_id.clone(),
            quantity: item.quantity,
            unit_price: priced.unit_price,
        });
    }
    for line in &lines {
        let refundable = c.refundable(&line.product_id);
        if u64::from(line.quantity.get()) > refundable {
            return Err(OrderError::ExceedsLine {
                product_id: line.product_id.clone(),
                requested: u64::from(line.quantity.get()),
                refundable,
            });
        }
    }
    Ok(vec![OrderEvent::RefundRequested(RefundRequested {
        refund_id: next_refund_id(c, state),
        idempotency_key: Some(request.idempotency_key.clone()),
        amount: amount_of(&lines)?,
        lines,
        restock: request.restock,
        reason: request.reason.clone(),
        cancellation: false,
    })])
}

/// The same Idempotency-Key means the same refund only for the same lines and restock.
fn same_refund(earlier: &Refund, request: &RefundRequest) -> bool {
    let mut asked: BTreeMap<&ProductId, u64> = BTreeMap::new();
    for item in &request.items {
        *asked.entry(&item.product_id).or_default() += u64::from(item.quantity.get());
    }
    let mut had: BTreeMap<&ProductId, u64> = BTreeMap::new();
    for line in &earlier.request.lines {
        *had.entry(&line.product_id).or_default() += u64::from(line.quantity.get());
    }
    asked == had && earlier.request.restock == request.restock
}

pub(super) fn settle_refund(
    state: &OrderState,
    refund_id: &str,
    result: &RefundResult,
) -> Result<Vec<OrderEvent>, OrderError> {
    let OrderState::Completed(c) = state else {
        return Err(OrderError::UnknownRefund(refund_id.to_owned()));
    };
    let refund = c
        .after
        .refund(refund_id)
        .ok_or_else(|| OrderError::UnknownRefund(refund_id.to_owned()))?;
    match (&refund.settlement, result) {
        (RefundSettlement::Pending, RefundResult::Issued { gateway_refund_id }) => {
            let mut events = vec![OrderEvent::RefundIssued(RefundIssued {
                refund_id: refund_id.to_owned(),
                gateway_refund_id: gateway_refund_id.clone(),
                amount: refund.request.amount,
            })];
            if refund.request.cancellation {
                events.push(OrderEvent::OrderCancelled(OrderCancelled {
                    refunded: refund.request.amount,
                    reason: refund.request.reason.clone(),
                }));
            }
            Ok(events)
        }
        (RefundSettlement::Pending, RefundResult::Failed { message }) => {
            Ok(vec![OrderEvent::RefundFailed(RefundFailed {
                refund_id: refund_id.to_owned(),
                message: message.chars().take(500).collect(),
            })])
        }
        (RefundSettlement::Failed(_), RefundResult::Issued { .. }) => {
            Err(OrderError::RefundSettled(refund_id.to_owned()))
        }
        _ => Ok(vec![]),
    }
}

/// The product side of a refund the order decided to issue with its stock put back: for every
/// line, the product's StockAdded naming the refund, chained to the head in `products`. Nothing
/// when `events` issue no refund, or one that keeps its stock.
pub fn return_stock(
    state: &OrderState,
    events: &[OrderEvent],
    products: &BTreeMap<ProductId, ProductState>,
) -> Result<Vec<ProductDecision>, OrderError> {
    let OrderState::Completed(c) = state else {
        return Ok(vec![]);
    };
    let mut returned = Vec::new();
    for issued in events.iter().filter_map(|e| match e {
        OrderEvent::RefundIssued(i) => Some(i),
        _ => None,
    }) {
        let Some(refund) = c.after.refund(&issued.refund_id) else {
            continue;
        };
        if !refund.request.restock {
            continue;
        }
        for line in &refund.request.lines {
            let refused = |source| OrderError::Stock {
                product_id: line.product_id.clone(),
                source,
            };
            let product = products
                .get(&line.product_id)
                .ok_or_else(|| refused(ProductError::Unknown))?;
            let put_back = ProductCommand::Restock {
                quantity: u64::from(line.quantity.get()),
                refund_id: Some(issued.refund_id.clone()),
            };
            let events = product::decide(Some(product), &put_back).map_err(refused)?;
            returned.extend(events.into_iter().map(|event| ProductDecision {
                product: product.clone(),
                event,
            }));
        }
    }
    Ok(returned)
}

/// The order's lines, one per product (an order may list a product twice).
fn unique_lines(c: &Completed) -> Vec<PricedLine> {
    let mut out: Vec<PricedLine> = Vec::new();
    for l in c.lines() {
        if !out.iter().any(|o| o.product_id == l.product_id) {
            out.push(l.clone());
        }
    }
    out
}

fn next_refund_id(c: &Completed, state: &OrderState) -> String {
    let id = state.id().map(|id| id.to_string()).unwrap_or_default();
    format!("{id}-R{}", c.after.refunds.len() + 1)
}

fn amount_of(lines: &[PricedLine]) -> Result<Money, OrderError> {
    lines
        .iter()
        .try_fold(Money::default(), |sum, l| {
            l.unit_price
                .times(l.quantity)
                .and_then(|x| sum.checked_add(x))
        })
        .ok_or(OrderError::AmountTooLarge)
}
