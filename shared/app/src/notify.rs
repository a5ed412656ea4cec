//! The emails the rules send from the order events the forwarder puts on the bus
//! ([`crate::forward`]): the confirmation (OrderConfirmationRule → OrderSuccessHandler) and the
//! failure notice (OrderFailureRule → OrderFailureHandler) here, the customer's emails of the
//! order's life (OrderUpdateRule → OrderUpdateHandler) in [`crate::notify_update`]. Each email's
//! dedup id is its event's log id, which every delivery of it carries (the forwarder puts it as
//! the bus event's id), so a redelivered event, from the stream, the bus or a retry, sends
//! nothing new.

use std::fmt::Write as _;

use order_domain::OrderId;
use order_domain::events::{OrderPlaced, PricedLine};
use order_domain::order::{Completed, Failed, OrderState, Progress};
use order_domain::personal::Opened;
use order_domain::ports::{
    BusEvent, CustomerKeyRef, EventStore, KeyStore, Notification, Notifier, PortError, Topic,
};

use crate::stream::{LoadError, load};
use crate::trace::{Step, step_with_context};
use crate::vault::{self, VaultError};
use tracing::Instrument;

/// The `source` of every bus event this system puts.
pub const BUS_SOURCE: &str = "order-pipeline";
/// The detail-type OrderConfirmationRule matches.
pub const ORDER_COMPLETED: &str = "OrderCompleted";
/// The detail-type OrderFailureRule matches.
pub const ORDER_FAILED: &str = "OrderFailed";
/// The detail-types OrderUpdateRule matches, one customer email each: "order received" ...
pub const ORDER_PLACED: &str = "OrderPlaced";
/// ... the cancellation (with what it refunded) ...
pub const ORDER_CANCELLED: &str = "OrderCancelled";
/// ... the shipment ...
pub const ORDER_SHIPPED: &str = "OrderShipped";
/// ... and a refund (but not a cancellation's: the cancellation email covers it).
pub const REFUND_ISSUED: &str = "RefundIssued";
/// The detail-type that starts the refund workflow (RefundRequestedRule); no email.
pub const REFUND_REQUESTED: &str = "RefundRequested";

/// Why an email for a bus event was not sent (the delivery is retried).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("bus event has no valid detail.orderId")]
    Malformed,
    #[error("bus event has no detail.{0}")]
    MissingField(&'static str),
    #[error("no handler for detail-type {0}")]
    UnknownDetailType(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Notify(#[from] PortError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What became of a confirmation (the success handler's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Confirmation {
    /// Published (or found already published: the notifier drops a duplicate).
    Sent,
    /// The order is not completed: nothing to confirm.
    NotCompleted,
    /// The customer was forgotten: there is no address to write to. Skipped, logged, counted.
    Erased,
}

/// The order a bus event names in `detail.orderId`.
pub(crate) fn order_of(event: &BusEvent) -> Result<OrderId, NotifyError> {
    let order_id = event
        .detail
        .get("orderId")
        .and_then(|v| v.as_str())
        .and_then(|s| OrderId::parse(s).ok())
        .ok_or(NotifyError::Malformed)?;
    tracing::Span::current().record("order_id", tracing::field::display(order_id));
    Ok(order_id)
}

/// One line per priced line: `  2 x MUG at 9.00 = 18.00`.
pub(crate) fn write_priced_lines(body: &mut String, lines: &[PricedLine]) {
    for line in lines {
        let _ = writeln!(
            body,
            "  {} x {} at {} = {}",
            line.quantity.get(),
            line.product_id,
            line.unit_price,
            line.unit_price.times(line.quantity).unwrap_or_default()
        );
    }
}

/// The customer's key `placed`'s email was opened with (none for data kept in clear).
pub(crate) fn opened_with(placed: &OrderPlaced) -> Option<CustomerKeyRef> {
    placed.personal.key_id().map(|key_id| CustomerKeyRef {
        customer: placed.customer_id.clone(),
        key_id: key_id.to_owned(),
    })
}

/// OrderSuccessHandler: emails the customer (and the topic's subscribers) a confirmation.
/// The message's dedup id is the bus event's id, so a redelivery sends nothing new.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn confirm_order<S: EventStore, N: Notifier, K: KeyStore>(
    store: &S,
    notifier: &N,
    keys: &K,
    event: &BusEvent,
) -> Result<Confirmation, NotifyError> {
    let order_id = order_of(event)?;
    let (order, history) = load(store, order_id).await?;
    let (span, trace) = step_with_context(Step::Notify, &history);
    let OrderState::Completed(Completed {
        paid, completed, ..
    }) = &order.state
    else {
        tracing::warn!("confirmation for an order that is not completed: ignored");
        return Ok(Confirmation::NotCompleted);
    };
    let (placed, validated) = (&paid.priced.placed, &paid.priced.validated);
    let email = match vault::open(keys, &placed.customer_id, order_id, &placed.personal).await? {
        Opened::Data(data) => data.email,
        Opened::Erased => {
            tracing::warn!(
                skipped = "personal_data_erased",
                "no confirmation: the customer was forgotten"
            );
            return Ok(Confirmation::Erased);
        }
    };
    let mut body = format!("Thank you for your order.\n\nOrder: {order_id}\n\n");
    write_priced_lines(&mut body, &validated.lines);
    let _ = write!(body, "\nTotal: {}\n", completed.total);
    let published = notifier
        .publish(
            Topic::OrderAlerts,
            Notification {
                dedup_id: event.id.clone(),
                subject: format!("Order {order_id} confirmed"),
                body,
                recipients: vec![email],
                trace_parent: trace,
                opened_with: opened_with(placed),
            },
        )
        .instrument(span)
        .await?;
    crate::metrics::email_published(Topic::OrderAlerts, published);
    Ok(Confirmation::Sent)
}

/// What became of a failure notice (the failure handler's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureNotice {
    /// Published (or found already published: the notifier drops a duplicate).
    Sent,
    /// The order has not failed: nothing to notify.
    NotFailed,
}

/// OrderFailureHandler: tells OrderErrorNotificationTopic's subscribers (operations, not the
/// customer: the notice holds no personal data) that an order failed, why, and whether its
/// payment was refunded. Every failure gets it, whoever closed the order (the workflow's
/// OrderFailed task, or a sweeper closing an order whose workflow died), because it follows
/// the OrderFailed event in the log rather than the workflow. The dedup id is the bus event's
/// id (the OrderFailed event's log id), so a redelivery sends nothing new.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn notify_failure<S: EventStore, N: Notifier>(
    store: &S,
    notifier: &N,
    event: &BusEvent,
) -> Result<FailureNotice, NotifyError> {
    let order_id = order_of(event)?;
    let (order, history) = load(store, order_id).await?;
    let (span, trace) = step_with_context(Step::Notify, &history);
    let OrderState::Failed(Failed { progress, failed }) = &order.state else {
        tracing::warn!("failure notice for an order that has not failed: ignored");
        return Ok(FailureNotice::NotFailed);
    };
    let refunded = matches!(progress.stage(), Progress::Refunded(..));
    let reason = failed.reason.as_str();
    let body = format!(
        "Order {order_id} failed with reason {reason}.{}\nDetail: {}\n",
        if refunded {
            " The payment was refunded."
        } else {
            ""
        },
        if failed.message.is_empty() {
            "none"
        } else {
            &failed.message
        },
    );
    let published = notifier
        .publish(
            Topic::OrderErrors,
            Notification {
                dedup_id: event.id.clone(),
                subject: format!("Order {order_id} failed: {reason}"),
                body,
                recipients: vec![],
                trace_parent: trace,
                opened_with: None,
            },
        )
        .instrument(span)
        .await?;
    crate::metrics::email_published(Topic::OrderErrors, published);
    Ok(FailureNotice::Sent)
}
