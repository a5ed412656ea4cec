//! OrderUpdateHandler (OrderUpdateRule): the customer's emails of an order's life, one per
//! event, through OrderAlertsTopic like the confirmation:
//!
//! - OrderPlaced: "order received", at once (the confirmation or the failure notice follows when
//!   the order ends);
//! - OrderCancelled: the cancellation, with what it refunded;
//! - OrderShipped: the carrier and the tracking id;
//! - RefundIssued: the refund, except a cancellation's (its OrderCancelled is appended with it,
//!   and the cancellation email already says what was refunded).
//!
//! Written once for both hosts (the local rule bus and the order-update-handler Lambda). Each
//! email's dedup id is the event's log id (the bus event's id), so a redelivery sends nothing
//! new; the email's facts come from the order's stream, never from the bus event's detail. The
//! address is opened from the order's sealed personal data: a forgotten customer gets nothing.
//!
//! Each event's email goes out even when the order has moved on since (a retried OrderPlaced
//! after the order completed still says it was received): every event gets exactly one email,
//! whatever order the bus delivers them in.

use std::fmt::Write as _;

use order_domain::events::{OrderCancelled, PricedLine};
use order_domain::order::{Completed, Order, OrderState, RefundSettlement};
use order_domain::personal::Opened;
use order_domain::ports::{BusEvent, EventStore, KeyStore, Notification, Notifier, Topic};
use order_domain::{OrderId, TraceParent};

use crate::notify::{
    NotifyError, ORDER_CANCELLED, ORDER_PLACED, ORDER_SHIPPED, REFUND_ISSUED, order_of,
    write_priced_lines,
};
use crate::stream::{LoadError, load};
use crate::trace::{Step, step_with_context};
use crate::vault;
use tracing::{Instrument, Span};

/// What became of an order update (the update handler's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustomerNotice {
    /// Published (or found already published: the notifier drops a duplicate).
    Sent,
    /// The order's stream does not hold what the event says: nothing to tell. Logged.
    NotInHistory,
    /// The refund of a cancellation: the cancellation email covers it.
    CoveredByCancellation,
    /// The customer was forgotten: there is no address to write to. Skipped, logged.
    Erased,
}

/// An email to write, or why there is none.
enum Draft {
    Write { subject: String, body: String },
    Skip(CustomerNotice),
}

/// OrderUpdateHandler: emails the customer about the event `event` names (OrderPlaced,
/// OrderCancelled, OrderShipped or RefundIssued), once per event.
#[tracing::instrument(skip_all, fields(order_id, detail_type = %event.detail_type))]
pub async fn notify_order_update<S: EventStore, N: Notifier, K: KeyStore>(
    store: &S,
    notifier: &N,
    keys: &K,
    event: &BusEvent,
) -> Result<CustomerNotice, NotifyError> {
    let order_id = order_of(event)?;
    let (state, (span, trace)) = if event.detail_type == ORDER_PLACED {
        placed_only(store, order_id).await?
    } else {
        let (order, history) = load(store, order_id).await?;
        (order.state, step_with_context(Step::Notify, &history))
    };
    let (subject, body) = match draft(event, order_id, &state)? {
        Draft::Write { subject, body } => (subject, body),
        Draft::Skip(notice) => {
            if notice == CustomerNotice::NotInHistory {
                tracing::warn!("an update the order's stream does not hold: ignored");
            }
            return Ok(notice);
        }
    };
    let Some(placed) = state.placed() else {
        return Ok(CustomerNotice::NotInHistory);
    };
    let email = match vault::open(keys, &placed.customer_id, order_id, &placed.personal).await? {
        Opened::Data(data) => data.email,
        Opened::Erased => {
            tracing::warn!(
                skipped = "personal_data_erased",
                "no email: the customer was forgotten"
            );
            return Ok(CustomerNotice::Erased);
        }
    };
    let published = notifier
        .publish(
            Topic::OrderAlerts,
            Notification {
                dedup_id: event.id.clone(),
                subject,
                body,
                recipients: vec![email],
                trace_parent: trace,
                opened_with: crate::notify::opened_with(placed),
            },
        )
        .instrument(span)
        .await?;
    crate::metrics::email_published(Topic::OrderAlerts, published);
    Ok(CustomerNotice::Sent)
}

/// The order as its first event (OrderPlaced) leaves it: all "order received" needs, sent for
/// every order on the local forwarder's path, so the rest of the stream is not decoded; and
/// the email's span and trace context.
async fn placed_only<S: EventStore>(
    store: &S,
    id: OrderId,
) -> Result<(OrderState, (Span, Option<TraceParent>)), LoadError> {
    let history = store.read_stream(&id.stream(), 0).await?;
    let first = &history[..history.len().min(1)];
    Ok((
        Order::from_history(first)?.state,
        step_with_context(Step::Notify, first),
    ))
}

/// The email `event` asks for, from what the order's stream holds.
fn draft(event: &BusEvent, order_id: OrderId, state: &OrderState) -> Result<Draft, NotifyError> {
    Ok(match event.detail_type.as_str() {
        ORDER_PLACED => received(order_id, state),
        ORDER_CANCELLED => cancelled(order_id, state),
        ORDER_SHIPPED => shipped(order_id, state),
        REFUND_ISSUED => {
            let refund_id = event
                .detail
                .get("refundId")
                .and_then(serde_json::Value::as_str)
                .ok_or(NotifyError::MissingField("refundId"))?;
            refunded(order_id, state, refund_id)
        }
        other => return Err(NotifyError::UnknownDetailType(other.to_owned())),
    })
}

fn received(order_id: OrderId, state: &OrderState) -> Draft {
    let Some(placed) = state.placed() else {
        return Draft::Skip(CustomerNotice::NotInHistory);
    };
    let mut body =
        format!("We have received your order and are processing it.\n\nOrder: {order_id}\n\n");
    for line in &placed.items {
        let _ = writeln!(body, "  {} x {}", line.quantity.get(), line.product_id);
    }
    body.push_str("\nWe will email you again when it is confirmed.\n");
    Draft::Write {
        subject: format!("Order {order_id} received"),
        body,
    }
}

fn cancelled(order_id: OrderId, state: &OrderState) -> Draft {
    // An order cancelled while processing ends Cancelled; a completed one stays Completed with
    // its cancellation (the refund of everything left, restocked) recorded after it.
    let (cancelled, lines): (&OrderCancelled, &[PricedLine]) = match state {
        OrderState::Cancelled(c) => (&c.cancelled, &[]),
        OrderState::Completed(c) => match &c.after.cancelled {
            Some(cancelled) => (cancelled, cancellation_lines(c)),
            None => return Draft::Skip(CustomerNotice::NotInHistory),
        },
        _ => return Draft::Skip(CustomerNotice::NotInHistory),
    };
    let mut body = format!("Your order has been cancelled.\n\nOrder: {order_id}\n");
    if cancelled.refunded.minor() == 0 {
        body.push_str("Nothing was charged, so there is nothing to refund.\n");
    } else {
        let _ = writeln!(
            body,
            "Refunded: {} to the card you paid with.",
            cancelled.refunded
        );
    }
    if !lines.is_empty() {
        body.push_str("\nRefunded items:\n");
        write_priced_lines(&mut body, lines);
    }
    Draft::Write {
        subject: format!("Order {order_id} cancelled"),
        body,
    }
}

/// The lines a completed order's cancellation refunded.
fn cancellation_lines(c: &Completed) -> &[PricedLine] {
    c.after
        .refunds
        .iter()
        .find(|r| r.request.cancellation && r.is_issued())
        .map_or(&[], |r| r.request.lines.as_slice())
}

fn shipped(order_id: OrderId, state: &OrderState) -> Draft {
    let OrderState::Completed(Completed {
        after: order_domain::order::AfterSale {
            shipment: Some(s), ..
        },
        ..
    }) = state
    else {
        return Draft::Skip(CustomerNotice::NotInHistory);
    };
    Draft::Write {
        subject: format!("Order {order_id} shipped"),
        body: format!(
            "Your order is on its way.\n\nOrder: {order_id}\nCarrier: {}\nTracking id: {}\n",
            s.carrier, s.tracking_id
        ),
    }
}

fn refunded(order_id: OrderId, state: &OrderState, refund_id: &str) -> Draft {
    let OrderState::Completed(c) = state else {
        return Draft::Skip(CustomerNotice::NotInHistory);
    };
    let Some(refund) = c.after.refund(refund_id) else {
        return Draft::Skip(CustomerNotice::NotInHistory);
    };
    if refund.request.cancellation {
        return Draft::Skip(CustomerNotice::CoveredByCancellation);
    }
    let RefundSettlement::Issued(issued) = &refund.settlement else {
        return Draft::Skip(CustomerNotice::NotInHistory);
    };
    let mut body = format!(
        "We have refunded {} to the card you paid with.\n\nOrder: {order_id}\nRefund: {refund_id}\n\n",
        issued.amount
    );
    write_priced_lines(&mut body, &refund.request.lines);
    let _ = write!(
        body,
        "\nRefunded for this order so far: {}\n",
        order_domain::Money::from_minor(c.after.amount_refunded())
    );
    Draft::Write {
        subject: format!("Refund for order {order_id}"),
        body,
    }
}
