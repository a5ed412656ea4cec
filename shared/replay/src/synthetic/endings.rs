//! How each synthetic order goes on after it is placed, as the appends the pipeline would make.

use order_domain::events::{
    CancellationRequested, FailureReason, InventoryReserved, OrderCancelled, OrderCompleted,
    OrderFailed, OrderRejected, OrderShipped, OrderValidated, OutOfStock, PaymentCaptured,
    PaymentDeclined, PaymentRefunded, PricedLine, RefundFailed, RefundIssued, RefundRequested,
    ReservedLine, StockAdded, StockReserved,
};
use order_domain::{Money, OrderEvent, ProductEvent, Quantity};

use super::{Append, NewOrder, Product, value};

/// The appends of the `n`th order, by `n % 20`: 5 % rejected, 10 % declined, 5 % out of stock
/// (refunded), 5 % cancelled once paid, and 75 % completed, of which a third go on: cancelled
/// (refunded in full, restocked), shipped, shipped and one unit returned, a refund that failed,
/// refunded in full in two refunds.
pub(super) fn ending(catalogue: &mut [Product], n: u64, o: &NewOrder) -> Vec<Append> {
    let validated = OrderEvent::OrderValidated(OrderValidated {
        lines: o.lines.clone(),
        total: o.total,
    });
    let payment_id = format!("ch_{}", o.id);
    let captured = OrderEvent::PaymentCaptured(PaymentCaptured {
        payment_id: payment_id.clone(),
        amount: o.total,
    });
    let refunded = PaymentRefunded {
        payment_id,
        refund_id: format!("re_{}", o.id),
        amount: o.total,
    };
    let failed = |reason, message: &str| {
        OrderEvent::OrderFailed(OrderFailed {
            reason,
            message: message.to_owned(),
        })
    };
    let mut appends = vec![Append::of([o.placed.clone()])];
    match n % 20 {
        0 => appends.extend([
            Append::of([OrderEvent::OrderRejected(OrderRejected {
                code: "INSUFFICIENT_STOCK".into(),
                message: "not enough stock".into(),
            })]),
            Append::of([failed(FailureReason::Rejected, "not enough stock")]),
        ]),
        1 | 2 => appends.extend([
            Append::of([validated]),
            Append::of([OrderEvent::PaymentDeclined(PaymentDeclined {
                code: "card_declined".into(),
                message: "the card was declined".into(),
            })]),
            Append::of([failed(
                FailureReason::PaymentDeclined,
                "the card was declined",
            )]),
        ]),
        3 => appends.extend([
            Append::of([validated]),
            Append::of([captured]),
            Append::of([OrderEvent::OutOfStock(OutOfStock {
                product_id: o.lines[0].product_id.clone(),
                requested: o.lines[0].quantity.get(),
                available: 0,
            })]),
            Append::of([
                OrderEvent::PaymentRefunded(refunded),
                failed(FailureReason::OutOfStock, "out of stock"),
            ]),
        ]),
        4 => appends.extend([
            Append::of([validated]),
            Append::of([OrderEvent::CancellationRequested(CancellationRequested {
                reason: "changed my mind".into(),
            })]),
            Append::of([captured]),
            Append::of([
                OrderEvent::PaymentRefunded(refunded),
                OrderEvent::OrderCancelled(OrderCancelled {
                    refunded: o.total,
                    reason: "changed my mind".into(),
                }),
            ]),
        ]),
        k => {
            appends.extend([
                Append::of([validated]),
                Append::of([captured]),
                completion(catalogue, o),
            ]);
            appends.extend(after_completion(catalogue, o, k));
        }
    }
    appends
}

/// The completion: the order's reservation and completion with the stock taken from each
/// product's stream, in one append.
fn completion(catalogue: &mut [Product], o: &NewOrder) -> Append {
    let mut append = Append::default();
    let mut reserved = Vec::new();
    for (&i, line) in o.picks.iter().zip(&o.lines) {
        let p = &mut catalogue[i];
        p.stock -= u64::from(line.quantity.get());
        reserved.push(ReservedLine {
            product_id: p.id.clone(),
            quantity: line.quantity,
            stock_after: p.stock,
        });
        let taken = ProductEvent::StockReserved(StockReserved {
            order_id: o.id,
            quantity: line.quantity,
            stock_after: p.stock,
            price: p.price,
        });
        append.products.push((i, taken));
    }
    append.order = vec![
        OrderEvent::InventoryReserved(InventoryReserved { lines: reserved }),
        OrderEvent::OrderCompleted(OrderCompleted { total: o.total }),
    ];
    append
}

/// What happens to a completed order next, by `k = n % 20` (nothing for most).
fn after_completion(catalogue: &mut [Product], o: &NewOrder, k: u64) -> Vec<Append> {
    let shipped = || {
        Append::of([OrderEvent::OrderShipped(OrderShipped {
            carrier: "UPS".into(),
            tracking_id: format!("1Z{}", o.id),
        })])
    };
    match k {
        5 => {
            let cancel = request(o, 1, o.lines.clone(), true, true);
            let issued = issue(catalogue, o, &cancel);
            vec![Append::of([OrderEvent::RefundRequested(cancel)]), issued]
        }
        6 => vec![shipped()],
        7 => {
            let one = PricedLine {
                quantity: value(Quantity::new(1)),
                ..o.lines[0].clone()
            };
            let returned = request(o, 1, vec![one], true, false);
            let issued = issue(catalogue, o, &returned);
            vec![
                shipped(),
                Append::of([OrderEvent::RefundRequested(returned)]),
                issued,
            ]
        }
        8 => {
            let refund = request(o, 1, o.lines.clone(), false, false);
            let failed = OrderEvent::RefundFailed(RefundFailed {
                refund_id: refund.refund_id.clone(),
                message: "gateway unavailable".into(),
            });
            vec![
                Append::of([OrderEvent::RefundRequested(refund)]),
                Append::of([failed]),
            ]
        }
        9 => {
            let (first, rest) = o.lines.split_at(1);
            let mut appends = Vec::new();
            for (nth, lines) in [first, rest].into_iter().enumerate() {
                if lines.is_empty() {
                    continue;
                }
                let refund = request(o, nth + 1, lines.to_vec(), false, false);
                let issued = issue(catalogue, o, &refund);
                appends.extend([Append::of([OrderEvent::RefundRequested(refund)]), issued]);
            }
            appends
        }
        _ => Vec::new(),
    }
}

/// The order's `nth` refund of `lines` at their validated prices.
fn request(
    o: &NewOrder,
    nth: usize,
    lines: Vec<PricedLine>,
    restock: bool,
    cancellation: bool,
) -> RefundRequested {
    let amount = Money::from_minor(
        lines
            .iter()
            .map(|l| l.unit_price.minor() * u64::from(l.quantity.get()))
            .sum(),
    );
    RefundRequested {
        refund_id: format!("{}-R{nth}", o.id),
        idempotency_key: (!cancellation).then(|| format!("key-{}-{nth}", o.id)),
        lines,
        amount,
        restock,
        reason: if cancellation {
            "cancelled"
        } else {
            "returned"
        }
        .into(),
        cancellation,
    }
}

/// The refund issued, in one append with the order's cancellation (a cancellation's refund) and
/// the stock it puts back (a restocking refund), as the refund workflow appends it.
fn issue(catalogue: &mut [Product], o: &NewOrder, refund: &RefundRequested) -> Append {
    let mut append = Append::of([OrderEvent::RefundIssued(RefundIssued {
        refund_id: refund.refund_id.clone(),
        gateway_refund_id: format!("re_{}", refund.refund_id),
        amount: refund.amount,
    })]);
    if refund.cancellation {
        append
            .order
            .push(OrderEvent::OrderCancelled(OrderCancelled {
                refunded: refund.amount,
                reason: refund.reason.clone(),
            }));
    }
    if refund.restock {
        for line in &refund.lines {
            let Some(i) = o.lines.iter().position(|l| l.product_id == line.product_id) else {
                continue;
            };
            let i = o.picks[i];
            let p = &mut catalogue[i];
            let quantity = u64::from(line.quantity.get());
            p.stock += quantity;
            let put_back = ProductEvent::StockAdded(StockAdded {
                quantity,
                stock_after: p.stock,
                price: p.price,
                refund_id: Some(refund.refund_id.clone()),
            });
            append.products.push((i, put_back));
        }
    }
    append
}
