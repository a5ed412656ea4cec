//! The Order aggregate: `evolve` folds events into state (never fails); the decisions turn the
//! state plus what a workflow step learned into new events.
//!
//! Every decision is idempotent on the state: asked again after its events were appended, it
//! appends nothing and answers the same outcome. That is what makes redelivered workflow tasks safe.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::{GENESIS_HASH, RecordedEvent};
use crate::events::{
    DecodeError, FailureReason, InventoryReserved, OrderCompleted, OrderEvent, OrderFailed,
    OrderPlaced, OrderRejected, OrderValidated, OutOfStock, PaymentCaptured, PaymentDeclined,
    PaymentRefunded, PricedLine, ProductEvent, ReservedLine, StockReserved, decode_order,
};
use crate::product::ProductState;
use crate::values::{Money, OrderId, PaymentToken, ProductId};

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

/// An order's state, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub version: u64,
    pub head_hash: String,
    pub placed: Option<OrderPlaced>,
    pub validated: Option<OrderValidated>,
    pub rejected: Option<OrderRejected>,
    pub payment: Option<PaymentCaptured>,
    pub declined: Option<PaymentDeclined>,
    pub reserved: Option<InventoryReserved>,
    pub out_of_stock: Option<OutOfStock>,
    pub refund: Option<PaymentRefunded>,
    pub completed: Option<OrderCompleted>,
    pub failed: Option<OrderFailed>,
}

impl Default for Order {
    fn default() -> Self {
        Self {
            version: 0,
            head_hash: GENESIS_HASH.to_owned(),
            placed: None,
            validated: None,
            rejected: None,
            payment: None,
            declined: None,
            reserved: None,
            out_of_stock: None,
            refund: None,
            completed: None,
            failed: None,
        }
    }
}

/// A decision: the events to append and what the step answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<T> {
    pub events: Vec<OrderEvent>,
    pub outcome: T,
}

impl<T> Decision<T> {
    fn none(outcome: T) -> Self {
        Self {
            events: Vec::new(),
            outcome,
        }
    }
}

/// A step asked of an order that is not at that step (a bug or a message from the future).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("order has not been placed")]
    NotPlaced,
    #[error("order is not ready for {step}: it is {status:?}")]
    NotReady {
        step: &'static str,
        status: Option<OrderStatus>,
    },
    #[error("a captured payment must be refunded before the order can fail")]
    RefundRequired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidateOutcome {
    Validated { total: Money },
    Rejected { code: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Captured { payment_id: String, amount: Money },
    Declined { code: String, message: String },
}

/// What paying needs: either a charge to make, or the answer already recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStep {
    Charge { amount: Money, token: PaymentToken },
    Done(PaymentOutcome),
}

/// What the gateway said to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeResult {
    Captured { payment_id: String },
    Declined { code: String, message: String },
}

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

/// Stock to take from one product stream, for [`Order::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDecision {
    pub product: ProductState,
    pub event: ProductEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOutcome {
    Failed(FailureReason),
    /// The order completed; there is nothing to fail (a stray redelivery).
    AlreadyCompleted,
}

impl Order {
    /// Folds a stream's stored events.
    pub fn from_history(events: &[RecordedEvent]) -> Result<Self, DecodeError> {
        let mut order = Self::default();
        for e in events {
            order.apply(e.version, &e.hash, &decode_order(e)?);
        }
        Ok(order)
    }

    /// Applies one event at `version` with stored `hash`.
    pub fn apply(&mut self, version: u64, hash: &str, event: &OrderEvent) {
        self.evolve(event);
        self.version = version;
        self.hash_from(hash);
    }

    fn hash_from(&mut self, hash: &str) {
        hash.clone_into(&mut self.head_hash);
    }

    /// The fold step. Infallible: the log is the truth, whatever it says.
    pub fn evolve(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::OrderPlaced(e) => self.placed = Some(e.clone()),
            OrderEvent::OrderValidated(e) => self.validated = Some(e.clone()),
            OrderEvent::OrderRejected(e) => self.rejected = Some(e.clone()),
            OrderEvent::PaymentCaptured(e) => self.payment = Some(e.clone()),
            OrderEvent::PaymentDeclined(e) => self.declined = Some(e.clone()),
            OrderEvent::InventoryReserved(e) => self.reserved = Some(e.clone()),
            OrderEvent::OutOfStock(e) => self.out_of_stock = Some(e.clone()),
            OrderEvent::PaymentRefunded(e) => self.refund = Some(e.clone()),
            OrderEvent::OrderCompleted(e) => self.completed = Some(e.clone()),
            OrderEvent::OrderFailed(e) => self.failed = Some(e.clone()),
        }
    }

    pub fn status(&self) -> Option<OrderStatus> {
        self.placed.as_ref()?;
        Some(if self.failed.is_some() {
            OrderStatus::Failed
        } else if self.completed.is_some() {
            OrderStatus::Completed
        } else if self.payment.is_some() {
            OrderStatus::Paid
        } else if self.validated.is_some() {
            OrderStatus::Validated
        } else {
            OrderStatus::Placed
        })
    }

    pub fn id(&self) -> Option<OrderId> {
        self.placed.as_ref().map(|p| p.order_id)
    }

    /// Places the order. On a stream that already has events, decides nothing: the caller
    /// compares the stored OrderPlaced with its own (idempotent retry or id clash).
    pub fn place(&self, placed: OrderPlaced) -> Decision<()> {
        if self.version > 0 {
            return Decision::none(());
        }
        Decision {
            events: vec![OrderEvent::OrderPlaced(placed)],
            outcome: (),
        }
    }

    /// Checks the order against the products' current snapshots and prices it.
    pub fn validate(
        &self,
        products: &BTreeMap<ProductId, ProductState>,
    ) -> Result<Decision<ValidateOutcome>, OrderError> {
        let placed = self.placed.as_ref().ok_or(OrderError::NotPlaced)?;
        if let Some(v) = &self.validated {
            return Ok(Decision::none(ValidateOutcome::Validated {
                total: v.total,
            }));
        }
        if let Some(r) = &self.rejected {
            return Ok(Decision::none(ValidateOutcome::Rejected {
                code: r.code.clone(),
                message: r.message.clone(),
            }));
        }
        let mut lines = Vec::with_capacity(placed.items.len());
        let mut total = Money::default();
        let mut problem = None;
        for item in &placed.items {
            let Some(p) = products.get(&item.product_id) else {
                problem = Some((
                    "UNKNOWN_PRODUCT",
                    format!("product {} does not exist", item.product_id),
                ));
                break;
            };
            if p.stock < u64::from(item.quantity.get()) {
                problem = Some((
                    "INSUFFICIENT_STOCK",
                    format!(
                        "product {} has {} available, {} requested",
                        item.product_id,
                        p.stock,
                        item.quantity.get()
                    ),
                ));
                break;
            }
            let Some(t) = p
                .price
                .times(item.quantity)
                .and_then(|line| total.checked_add(line))
            else {
                problem = Some(("TOTAL_TOO_LARGE", "order total overflows".to_owned()));
                break;
            };
            total = t;
            lines.push(PricedLine {
                product_id: item.product_id.clone(),
                quantity: item.quantity,
                unit_price: p.price,
            });
        }
        Ok(match problem {
            Some((code, message)) => Decision {
                events: vec![OrderEvent::OrderRejected(OrderRejected {
                    code: code.to_owned(),
                    message: message.clone(),
                })],
                outcome: ValidateOutcome::Rejected {
                    code: code.to_owned(),
                    message,
                },
            },
            None => Decision {
                events: vec![OrderEvent::OrderValidated(OrderValidated { lines, total })],
                outcome: ValidateOutcome::Validated { total },
            },
        })
    }

    /// What paying requires now.
    pub fn payment_step(&self) -> Result<PaymentStep, OrderError> {
        if let Some(p) = &self.payment {
            return Ok(PaymentStep::Done(PaymentOutcome::Captured {
                payment_id: p.payment_id.clone(),
                amount: p.amount,
            }));
        }
        if let Some(d) = &self.declined {
            return Ok(PaymentStep::Done(PaymentOutcome::Declined {
                code: d.code.clone(),
                message: d.message.clone(),
            }));
        }
        let placed = self.placed.as_ref().ok_or(OrderError::NotPlaced)?;
        match (&self.validated, &self.failed) {
            (Some(v), None) => Ok(PaymentStep::Charge {
                amount: v.total,
                token: placed.payment_token.clone(),
            }),
            _ => Err(OrderError::NotReady {
                step: "payment",
                status: self.status(),
            }),
        }
    }

    /// Records the gateway's answer to the charge that [`Order::payment_step`] asked for.
    pub fn record_charge(
        &self,
        result: ChargeResult,
    ) -> Result<Decision<PaymentOutcome>, OrderError> {
        let amount = match self.payment_step()? {
            PaymentStep::Done(outcome) => return Ok(Decision::none(outcome)),
            PaymentStep::Charge { amount, .. } => amount,
        };
        Ok(match result {
            ChargeResult::Captured { payment_id } => Decision {
                events: vec![OrderEvent::PaymentCaptured(PaymentCaptured {
                    payment_id: payment_id.clone(),
                    amount,
                })],
                outcome: PaymentOutcome::Captured { payment_id, amount },
            },
            ChargeResult::Declined { code, message } => Decision {
                events: vec![OrderEvent::PaymentDeclined(PaymentDeclined {
                    code: code.clone(),
                    message: message.clone(),
                })],
                outcome: PaymentOutcome::Declined { code, message },
            },
        })
    }

    /// Takes stock for every line from the products' heads, all or nothing, and completes the
    /// order. The caller appends the order's and the products' events in one transaction.
    pub fn reserve(
        &self,
        products: &BTreeMap<ProductId, ProductState>,
    ) -> Result<(Decision<ReserveOutcome>, Vec<ProductDecision>), OrderError> {
        if let Some(c) = &self.completed {
            return Ok((
                Decision::none(ReserveOutcome::Reserved { total: c.total }),
                vec![],
            ));
        }
        if let Some(o) = &self.out_of_stock {
            return Ok((
                Decision::none(ReserveOutcome::OutOfStock {
                    product_id: o.product_id.clone(),
                    requested: o.requested,
                    available: o.available,
                }),
                vec![],
            ));
        }
        let (Some(validated), Some(_), None) = (&self.validated, &self.payment, &self.failed)
        else {
            return Err(OrderError::NotReady {
                step: "inventory",
                status: self.status(),
            });
        };
        let order_id = self.id().ok_or(OrderError::NotPlaced)?;
        let mut reserved = Vec::new();
        let mut product_events = Vec::new();
        for line in &validated.lines {
            let want = u64::from(line.quantity.get());
            let available = products.get(&line.product_id).map_or(0, |p| p.stock);
            let Some(product) = products.get(&line.product_id).filter(|_| available >= want) else {
                let shortage = OutOfStock {
                    product_id: line.product_id.clone(),
                    requested: line.quantity.get(),
                    available,
                };
                let outcome = ReserveOutcome::OutOfStock {
                    product_id: shortage.product_id.clone(),
                    requested: shortage.requested,
                    available,
                };
                return Ok((
                    Decision {
                        events: vec![OrderEvent::OutOfStock(shortage)],
                        outcome,
                    },
                    vec![],
                ));
            };
            let stock_after = product.stock - want;
            reserved.push(ReservedLine {
                product_id: line.product_id.clone(),
                quantity: line.quantity,
                stock_after,
            });
            product_events.push(ProductDecision {
                product: product.clone(),
                event: ProductEvent::StockReserved(StockReserved {
                    order_id,
                    quantity: line.quantity,
                    stock_after,
                    price: product.price,
                }),
            });
        }
        Ok((
            Decision {
                events: vec![
                    OrderEvent::InventoryReserved(InventoryReserved { lines: reserved }),
                    OrderEvent::OrderCompleted(OrderCompleted {
                        total: validated.total,
                    }),
                ],
                outcome: ReserveOutcome::Reserved {
                    total: validated.total,
                },
            },
            product_events,
        ))
    }

    /// The payment a failing order must give back first, if any.
    pub fn refund_due(&self) -> Option<&PaymentCaptured> {
        match (&self.payment, &self.refund, &self.completed) {
            (Some(p), None, None) => Some(p),
            _ => None,
        }
    }

    /// Ends the order as FAILED. The reason comes from the order's own history (the log is the
    /// truth); `error` is the workflow's caught error, used for the message when the history
    /// names no business reason. A due refund must be passed in, done.
    pub fn fail(
        &self,
        error: &str,
        refund: Option<PaymentRefunded>,
    ) -> Result<Decision<FailOutcome>, OrderError> {
        self.placed.as_ref().ok_or(OrderError::NotPlaced)?;
        if self.completed.is_some() {
            return Ok(Decision::none(FailOutcome::AlreadyCompleted));
        }
        if let Some(f) = &self.failed {
            return Ok(Decision::none(FailOutcome::Failed(f.reason)));
        }
        if self.refund_due().is_some() && refund.is_none() {
            return Err(OrderError::RefundRequired);
        }
        let (reason, message) = if let Some(r) = &self.rejected {
            (FailureReason::Rejected, r.message.clone())
        } else if let Some(d) = &self.declined {
            (FailureReason::PaymentDeclined, d.message.clone())
        } else if let Some(o) = &self.out_of_stock {
            (
                FailureReason::OutOfStock,
                format!(
                    "product {} has {} available, {} requested",
                    o.product_id, o.available, o.requested
                ),
            )
        } else {
            (
                FailureReason::ProcessingError,
                error.chars().take(500).collect(),
            )
        };
        let mut events: Vec<OrderEvent> = refund
            .into_iter()
            .map(OrderEvent::PaymentRefunded)
            .collect();
        events.push(OrderEvent::OrderFailed(OrderFailed { reason, message }));
        Ok(Decision {
            events,
            outcome: FailOutcome::Failed(reason),
        })
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
