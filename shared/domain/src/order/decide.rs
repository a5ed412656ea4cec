//! The order's decisions: [`decide`] turns the state and a command into the events to append.
//! A command whose outcome the state already holds decides nothing, so a redelivered step appends
//! once; the step then reads its answer from the state (see [`super::outcome`]).

use std::collections::BTreeMap;

use crate::events::{
    FailureReason, InventoryReserved, OrderCancelled, OrderCompleted, OrderEvent, OrderFailed,
    OrderFailing, OrderPlaced, OrderRejected, OrderValidated, OutOfStock, PaymentCaptured,
    PaymentDeclined, PaymentRefunded, PricedLine, ProductEvent, ReservedLine,
};
use crate::product::{self, ProductCommand, ProductError, ProductState};
use crate::values::{Money, OrderId, ProductId};

use super::after_decide::{self, RefundRequest, RefundResult};
use super::outcome::{ChargeResult, PaymentStep};
use super::state::{OrderState, OrderStatus, Paid, Progress};

/// What a workflow step (or the placement endpoint) asks of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// Opens the order's stream.
    Place(OrderPlaced),
    /// Checks the order against the products' current snapshots and prices it.
    Validate {
        products: BTreeMap<ProductId, ProductState>,
    },
    /// Records the gateway's answer to the charge that [`OrderState::payment_step`] asked for.
    RecordCharge(ChargeResult),
    /// Takes stock for every line from the products' heads, all or nothing, and completes the
    /// order. The caller appends the order's events and the products' ([`take_stock`]) in one
    /// transaction.
    Reserve {
        products: BTreeMap<ProductId, ProductState>,
    },
    /// Ends the order as FAILED. The reason comes from the order's own history (the log is the
    /// truth); `error` is the workflow's caught error, used for the message when the history
    /// names no business reason. A due refund ([`OrderState::refund_due`]) must be passed in,
    /// done.
    Fail {
        error: String,
        refund: Option<PaymentRefunded>,
    },
    /// Records the decision to fail a paid order before its charge is given back
    /// ([`OrderFailing`]), so no other execution can complete the order between the refund and
    /// the OrderFailed. Nothing to record for an order nothing else could complete: one not
    /// paid, whose failure is already in the log (out of stock, a cancellation), or ended.
    BeginFailure { error: String },
    /// The customer cancels: an open order records the request (the workflow's next step stops
    /// and its OrderFailed step cancels); a completed, unshipped order requests the refund of
    /// everything left, restocked, which cancels it once issued.
    RequestCancellation { reason: String },
    /// An admin records the shipment of a completed order.
    Ship {
        carrier: String,
        tracking_id: String,
    },
    /// An admin asks to refund lines of a completed order; the amount is set aside now and
    /// settled by the refund workflow.
    RequestRefund(RefundRequest),
    /// The refund workflow records what became of a requested refund. An issued refund that
    /// restocks is appended with the products' StockAdded ([`super::return_stock`]).
    SettleRefund {
        refund_id: String,
        result: RefundResult,
    },
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
    /// The customer asked to cancel: the workflow's steps do no new work.
    #[error("the order's cancellation was requested")]
    Cancelled,
    /// The order's failure was decided while it held its charge: no step completes it.
    #[error("the order is failing: its charge is being given back")]
    Failing,
    #[error("the order is not completed yet: it is {status:?}")]
    NotCompleted { status: Option<OrderStatus> },
    #[error("the order is {status:?}: there is nothing to do")]
    Closed { status: Option<OrderStatus> },
    #[error("the order has shipped")]
    AlreadyShipped,
    #[error("a refund of the order is in progress")]
    RefundInProgress,
    #[error("everything the order paid for was refunded")]
    NothingToRefund,
    #[error("product {0} is not in the order")]
    NotInOrder(ProductId),
    #[error("product {product_id}: {requested} requested, {refundable} refundable")]
    ExceedsLine {
        product_id: ProductId,
        requested: u64,
        refundable: u64,
    },
    #[error("the Idempotency-Key was used for a different refund")]
    IdempotencyKeyReused,
    #[error("the order has no refund {0}")]
    UnknownRefund(String),
    #[error("refund {0} was already settled as failed")]
    RefundSettled(String),
    #[error("the refund's amount overflows")]
    AmountTooLarge,
    /// The products refused stock the order decided to take (they were not the ones it decided
    /// on).
    #[error("product {product_id}: {source}")]
    Stock {
        product_id: ProductId,
        source: ProductError,
    },
}

/// Stock to take from one product stream, for a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDecision {
    /// The product's head the event chains to.
    pub product: ProductState,
    pub event: ProductEvent,
}

/// Decides `command` on `state`: the events to append, empty when the state already holds the
/// command's outcome.
pub fn decide(state: &OrderState, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
    match command {
        OrderCommand::Place(placed) => Ok(match state {
            OrderState::New => vec![OrderEvent::OrderPlaced(placed.clone())],
            _ => vec![],
        }),
        OrderCommand::Validate { products } => validate(state, products),
        OrderCommand::RecordCharge(result) => record_charge(state, result),
        OrderCommand::Reserve { products } => reserve(state, products),
        OrderCommand::Fail { error, refund } => fail(state, error, refund.as_ref()),
        OrderCommand::BeginFailure { error } => begin_failure(state, error),
        OrderCommand::RequestCancellation { reason } => {
            after_decide::request_cancellation(state, reason)
        }
        OrderCommand::Ship {
            carrier,
            tracking_id,
        } => after_decide::ship(state, carrier, tracking_id),
        OrderCommand::RequestRefund(request) => after_decide::request_refund(state, request),
        OrderCommand::SettleRefund { refund_id, result } => {
            after_decide::settle_refund(state, refund_id, result)
        }
    }
}

fn not_ready(step: &'static str, state: &OrderState) -> OrderError {
    match state {
        OrderState::New => OrderError::NotPlaced,
        _ => OrderError::NotReady {
            step,
            status: state.status(),
        },
    }
}

fn validate(
    state: &OrderState,
    products: &BTreeMap<ProductId, ProductState>,
) -> Result<Vec<OrderEvent>, OrderError> {
    if state.validation().is_some() {
        return Ok(vec![]);
    }
    let OrderState::Open(progress) = state else {
        return Err(not_ready("validation", state));
    };
    if progress.cancellation().is_some() {
        return Err(OrderError::Cancelled);
    }
    let Progress::Placed(placed) = progress else {
        return Err(not_ready("validation", state));
    };
    Ok(vec![match price(placed, products) {
        Ok(validated) => OrderEvent::OrderValidated(validated),
        Err(rejected) => OrderEvent::OrderRejected(rejected),
    }])
}

/// Prices every line at the product's current price, or says why the order cannot be taken.
fn price(
    placed: &OrderPlaced,
    products: &BTreeMap<ProductId, ProductState>,
) -> Result<OrderValidated, OrderRejected> {
    let reject = |code: &str, message: String| OrderRejected {
        code: code.to_owned(),
        message,
    };
    let mut lines = Vec::with_capacity(placed.items.len());
    let mut total = Money::default();
    for item in &placed.items {
        let Some(p) = products.get(&item.product_id) else {
            return Err(reject(
                "UNKNOWN_PRODUCT",
                format!("product {} does not exist", item.product_id),
            ));
        };
        if p.stock_after_taking(item.quantity).is_none() {
            return Err(reject(
                "INSUFFICIENT_STOCK",
                format!(
                    "product {} has {} available, {} requested",
                    item.product_id,
                    p.stock,
                    item.quantity.get()
                ),
            ));
        }
        total = p
            .price
            .times(item.quantity)
            .and_then(|line| total.checked_add(line))
            .ok_or_else(|| reject("TOTAL_TOO_LARGE", "order total overflows".to_owned()))?;
        lines.push(PricedLine {
            product_id: item.product_id.clone(),
            quantity: item.quantity,
            unit_price: p.price,
        });
    }
    Ok(OrderValidated { lines, total })
}

fn record_charge(state: &OrderState, result: &ChargeResult) -> Result<Vec<OrderEvent>, OrderError> {
    // A charge made before the customer's cancellation arrived is recorded all the same, so the
    // cancellation gives it back.
    let amount = match state.payment_step() {
        Ok(PaymentStep::Done(_)) => return Ok(vec![]),
        Ok(PaymentStep::Charge { amount, .. }) => amount,
        Err(OrderError::Cancelled) => match state {
            OrderState::Open(p) if matches!(p.stage(), Progress::Validated(_)) => p
                .priced()
                .map_or_else(Money::default, |priced| priced.validated.total),
            _ => return Err(not_ready("payment", state)),
        },
        Err(e) => return Err(e),
    };
    Ok(vec![match result {
        ChargeResult::Captured { payment_id } => OrderEvent::PaymentCaptured(PaymentCaptured {
            payment_id: payment_id.clone(),
            amount,
        }),
        ChargeResult::Declined { code, message } => OrderEvent::PaymentDeclined(PaymentDeclined {
            code: code.clone(),
            message: message.clone(),
        }),
    }])
}

fn reserve(
    state: &OrderState,
    products: &BTreeMap<ProductId, ProductState>,
) -> Result<Vec<OrderEvent>, OrderError> {
    if state.reservation().is_some() {
        return Ok(vec![]);
    }
    let OrderState::Open(progress) = state else {
        return Err(not_ready("inventory", state));
    };
    if progress.cancellation().is_some() {
        return Err(OrderError::Cancelled);
    }
    if progress.failing().is_some() {
        return Err(OrderError::Failing);
    }
    let Progress::Paid(paid) = progress else {
        return Err(not_ready("inventory", state));
    };
    Ok(take_all_or_nothing(paid, products))
}

fn take_all_or_nothing(
    paid: &Paid,
    products: &BTreeMap<ProductId, ProductState>,
) -> Vec<OrderEvent> {
    let validated = &paid.priced.validated;
    let mut reserved = Vec::with_capacity(validated.lines.len());
    for line in &validated.lines {
        let product = products.get(&line.product_id);
        let Some(stock_after) = product.and_then(|p| p.stock_after_taking(line.quantity)) else {
            return vec![OrderEvent::OutOfStock(OutOfStock {
                product_id: line.product_id.clone(),
                requested: line.quantity.get(),
                available: product.map_or(0, |p| p.stock),
            })];
        };
        reserved.push(ReservedLine {
            product_id: line.product_id.clone(),
            quantity: line.quantity,
            stock_after,
        });
    }
    vec![
        OrderEvent::InventoryReserved(InventoryReserved { lines: reserved }),
        OrderEvent::OrderCompleted(OrderCompleted {
            total: validated.total,
        }),
    ]
}

/// The product side of a reservation the order decided: for every line of its
/// InventoryReserved, the product's StockReserved, chained to the head in `products`. Nothing
/// when `events` took no stock.
pub fn take_stock(
    order_id: OrderId,
    events: &[OrderEvent],
    products: &BTreeMap<ProductId, ProductState>,
) -> Result<Vec<ProductDecision>, OrderError> {
    let lines = events.iter().flat_map(|e| match e {
        OrderEvent::InventoryReserved(r) => r.lines.as_slice(),
        _ => &[],
    });
    let mut taken = Vec::new();
    for line in lines {
        let refused = |source| OrderError::Stock {
            product_id: line.product_id.clone(),
            source,
        };
        let product = products
            .get(&line.product_id)
            .ok_or_else(|| refused(ProductError::Unknown))?;
        let take = ProductCommand::Reserve {
            order_id,
            quantity: line.quantity,
        };
        let events = product::decide(Some(product), &take).map_err(refused)?;
        taken.extend(events.into_iter().map(|event| ProductDecision {
            product: product.clone(),
            event,
        }));
    }
    Ok(taken)
}

fn begin_failure(state: &OrderState, error: &str) -> Result<Vec<OrderEvent>, OrderError> {
    match state {
        OrderState::New => Err(OrderError::NotPlaced),
        OrderState::Open(Progress::Paid(_)) => Ok(vec![OrderEvent::OrderFailing(OrderFailing {
            message: failure_message(error),
        })]),
        _ => Ok(vec![]),
    }
}

/// A caught error as an order's failure message: its first 500 characters.
fn failure_message(error: &str) -> String {
    error.chars().take(500).collect()
}

fn fail(
    state: &OrderState,
    error: &str,
    refund: Option<&PaymentRefunded>,
) -> Result<Vec<OrderEvent>, OrderError> {
    if state.ending().is_some() {
        return Ok(vec![]);
    }
    let OrderState::Open(progress) = state else {
        return Err(OrderError::NotPlaced);
    };
    if state.refund_due().is_some() && refund.is_none() {
        return Err(OrderError::RefundRequired);
    }
    let mut events: Vec<OrderEvent> = refund
        .cloned()
        .into_iter()
        .map(OrderEvent::PaymentRefunded)
        .collect();
    if let Some(request) = progress.cancellation() {
        events.push(OrderEvent::OrderCancelled(OrderCancelled {
            refunded: refund.map_or_else(Money::default, |r| r.amount),
            reason: request.reason.clone(),
        }));
        return Ok(events);
    }
    let (reason, message) = match (progress.failing(), progress.stage()) {
        // Recorded before the refund: the step and the sweeper that finish it agree on why.
        (Some(failing), _) => (FailureReason::ProcessingError, failing.message.clone()),
        (None, Progress::Rejected(_, r)) => (FailureReason::Rejected, r.message.clone()),
        (None, Progress::Declined(_, d)) => (FailureReason::PaymentDeclined, d.message.clone()),
        (None, Progress::OutOfStock(_, o) | Progress::Refunded(_, Some(o), _)) => (
            FailureReason::OutOfStock,
            format!(
                "product {} has {} available, {} requested",
                o.product_id, o.available, o.requested
            ),
        ),
        (None, _) => (FailureReason::ProcessingError, failure_message(error)),
    };
    events.push(OrderEvent::OrderFailed(OrderFailed { reason, message }));
    Ok(events)
}
