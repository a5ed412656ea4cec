//! The order-status read model: one row per order, what GET /orders/{id} answers.

use std::borrow::Cow;

use order_domain::events::{DecodeError, OrderLine, PricedLine, decode_order};
use order_domain::order::{Order, OrderStatus, RefundFacts, RefundPhase, status_after};
use order_domain::{FailureReason, Money, OrderEvent, OrderId, RecordedEvent, StreamId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{ORDER_STATUS, Step, View};

/// A shipment as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentView {
    pub carrier: String,
    pub tracking_id: String,
    pub shipped_at: Timestamp,
}

/// Where a refund stands, as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    Pending,
    Issued,
    Failed,
}

/// A refund as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub refund_id: String,
    pub status: RefundStatus,
    pub amount: Money,
    pub lines: Vec<PricedLine>,
    pub restock: bool,
    pub reason: String,
    /// The refund of the order's cancellation.
    pub cancellation: bool,
    pub requested_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<Timestamp>,
}

/// What a view shows of an order once priced: its lines' prices, its shipment and refunds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AfterSaleView {
    /// The lines at the prices they were validated at, once validated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<PricedLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<ShipmentView>,
    /// Every refund after completion, in the order they were requested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<RefundView>,
    /// The sum of the refunds issued after completion.
    #[serde(default)]
    pub amount_refunded: Money,
}

/// An order as clients see it. Carries no personal data (the email stays in the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "StoredOrderView")]
pub struct OrderView {
    pub order_id: OrderId,
    pub status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub customer_id: String,
    pub items: Vec<OrderLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Whether any money was given back (a failed order's refund, or a refund after completion).
    pub refunded: bool,
    /// Prices, shipment and refunds (boxed: most views never need them, and views are moved
    /// around in bulk by the replay).
    #[serde(flatten)]
    pub after: Box<AfterSaleView>,
    pub placed_at: Timestamp,
    pub updated_at: Timestamp,
    /// The last applied version of the order's stream.
    pub version: u64,
}

/// [`OrderView`]'s JSON with the after-sale fields in line, as it is read back. A flattened
/// field makes serde buffer the whole document (every key and string copied) before it decodes
/// it; the projection reads a view back for nearly every record it applies.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredOrderView {
    order_id: OrderId,
    status: OrderStatus,
    reason: Option<FailureReason>,
    message: Option<String>,
    customer_id: String,
    items: Vec<OrderLine>,
    total: Option<Money>,
    payment_id: Option<String>,
    refunded: bool,
    #[serde(default)]
    lines: Vec<PricedLine>,
    #[serde(default)]
    shipment: Option<ShipmentView>,
    #[serde(default)]
    refunds: Vec<RefundView>,
    #[serde(default)]
    amount_refunded: Money,
    placed_at: Timestamp,
    updated_at: Timestamp,
    version: u64,
}

impl From<StoredOrderView> for OrderView {
    fn from(v: StoredOrderView) -> Self {
        Self {
            order_id: v.order_id,
            status: v.status,
            reason: v.reason,
            message: v.message,
            customer_id: v.customer_id,
            items: v.items,
            total: v.total,
            payment_id: v.payment_id,
            refunded: v.refunded,
            after: Box::new(AfterSaleView {
                lines: v.lines,
                shipment: v.shipment,
                refunds: v.refunds,
                amount_refunded: v.amount_refunded,
            }),
            placed_at: v.placed_at,
            updated_at: v.updated_at,
            version: v.version,
        }
    }
}

impl View for OrderView {
    const NAME: &'static str = ORDER_STATUS;

    fn key(stream: &StreamId) -> Option<String> {
        stream.order_id().map(|id| id.to_string())
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn row_key(&self) -> String {
        self.order_id.to_string()
    }

    /// An order's events do not restate its state, so only the next version applies.
    fn step(current: Option<&Self>, record: &RecordedEvent) -> Result<Step<Self>, DecodeError> {
        if let Some(step) = Self::unless_next(current, record) {
            return Ok(step);
        }
        let mut next = current.cloned();
        Ok(
            match Self::apply(&mut next, record, decode_order(record)?) {
                Step::Apply(()) => next.map_or(Step::Skip, Step::Apply),
                _ => Step::Skip,
            },
        )
    }

    /// The same step without copying the view (a view holds its lines, prices and refunds).
    fn step_in_place(
        current: &mut Option<Self>,
        record: &RecordedEvent,
    ) -> Result<Step<()>, DecodeError> {
        if let Some(step) = Self::unless_next(current.as_ref(), record) {
            return Ok(step);
        }
        Ok(Self::apply(current, record, decode_order(record)?))
    }
}

impl OrderView {
    /// [`View::step_in_place`] for a record its caller has already decoded as `event` (audit
    /// replay decodes each event once, for the view and for its own checks).
    pub fn step_decoded_in_place(
        current: &mut Option<Self>,
        record: &RecordedEvent,
        event: OrderEvent,
    ) -> Step<()> {
        Self::unless_next(current.as_ref(), record)
            .unwrap_or_else(|| Self::apply(current, record, Cow::Owned(event)))
    }

    /// What a record that is not the view's next version does: nothing if seen, a refold if
    /// past a gap. `None` for the next version, which applies.
    fn unless_next<T>(current: Option<&Self>, record: &RecordedEvent) -> Option<Step<T>> {
        let have = current.map_or(0, |v| v.version);
        if record.version <= have {
            Some(Step::Skip)
        } else if record.version != have + 1 {
            Some(Step::NeedHistory {
                after_version: have,
            })
        } else {
            None
        }
    }

    /// Applies the next version's event (lent, when its record kept it) to the view, in place.
    fn apply(
        view: &mut Option<Self>,
        record: &RecordedEvent,
        event: Cow<'_, OrderEvent>,
    ) -> Step<()> {
        if let Some(view) = view.as_mut() {
            view.evolve(&event, record);
            return Step::Apply(());
        }
        // A stream that does not start with OrderPlaced is not an order we can show. (A lent
        // OrderPlaced is copied here, once an order: the view keeps its items.)
        let OrderEvent::OrderPlaced(p) = event.into_owned() else {
            return Step::Skip;
        };
        *view = Some(Self {
            order_id: p.order_id,
            status: OrderStatus::Placed,
            reason: None,
            message: None,
            customer_id: p.customer_id.as_str().to_owned(),
            items: p.items,
            total: None,
            payment_id: None,
            refunded: false,
            after: Box::default(),
            placed_at: record.occurred_at,
            updated_at: record.occurred_at,
            version: record.version,
        });
        Step::Apply(())
    }
}

impl OrderView {
    fn evolve(&mut self, event: &OrderEvent, record: &RecordedEvent) {
        match event {
            // A failure being carried out shows PAID until its OrderFailed.
            OrderEvent::OrderPlaced(_)
            | OrderEvent::InventoryReserved(_)
            | OrderEvent::OutOfStock(_)
            | OrderEvent::OrderFailing(_) => {}
            OrderEvent::OrderValidated(v) => {
                if self.status != OrderStatus::Cancelling {
                    self.status = OrderStatus::Validated;
                }
                self.total = Some(v.total);
                self.after.lines.clone_from(&v.lines);
            }
            OrderEvent::OrderRejected(r) => self.message = Some(r.message.clone()),
            OrderEvent::PaymentCaptured(p) => {
                if self.status != OrderStatus::Cancelling {
                    self.status = OrderStatus::Paid;
                }
                self.payment_id = Some(p.payment_id.clone());
            }
            OrderEvent::PaymentDeclined(d) => self.message = Some(d.message.clone()),
            OrderEvent::PaymentRefunded(_) => self.refunded = true,
            OrderEvent::OrderCompleted(c) => {
                self.status = OrderStatus::Completed;
                self.total = Some(c.total);
            }
            OrderEvent::OrderFailed(f) => {
                self.status = OrderStatus::Failed;
                self.reason = Some(f.reason);
                self.message = Some(f.message.clone());
            }
            OrderEvent::CancellationRequested(_) => self.status = OrderStatus::Cancelling,
            OrderEvent::OrderCancelled(_) => self.status = OrderStatus::Cancelled,
            OrderEvent::OrderShipped(s) => {
                self.after.shipment = Some(ShipmentView {
                    carrier: s.carrier.clone(),
                    tracking_id: s.tracking_id.clone(),
                    shipped_at: record.occurred_at,
                });
            }
            OrderEvent::RefundRequested(r) => self.after.refunds.push(RefundView {
                refund_id: r.refund_id.clone(),
                status: RefundStatus::Pending,
                amount: r.amount,
                lines: r.lines.clone(),
                restock: r.restock,
                reason: r.reason.clone(),
                cancellation: r.cancellation,
                requested_at: record.occurred_at,
                settled_at: None,
            }),
            OrderEvent::RefundIssued(i) => {
                // As the aggregate: only a pending refund settles (and counts) once.
                if self.settle(&i.refund_id, RefundStatus::Issued, record.occurred_at) {
                    self.refunded = true;
                    let sum = self.after.amount_refunded.checked_add(i.amount);
                    self.after.amount_refunded = sum.unwrap_or(self.after.amount_refunded);
                }
            }
            OrderEvent::RefundFailed(f) => {
                self.settle(&f.refund_id, RefundStatus::Failed, record.occurred_at);
            }
        }
        self.version = record.version;
        self.updated_at = record.occurred_at;
        if self.status.is_terminal() || self.status == OrderStatus::Cancelling {
            self.status = self.status_after_completion();
        }
    }

    /// Settles the pending refund `refund_id`; whether there was one.
    fn settle(&mut self, refund_id: &str, status: RefundStatus, at: Timestamp) -> bool {
        let pending =
            |r: &&mut RefundView| r.refund_id == refund_id && r.status == RefundStatus::Pending;
        let found = self.after.refunds.iter_mut().find(pending);
        found
            .map(|r| (r.status, r.settled_at) = (status, Some(at)))
            .is_some()
    }

    /// A completed order's status from what happened since, decided as the aggregate decides
    /// it; any other order's as it is.
    fn status_after_completion(&self) -> OrderStatus {
        let completed = matches!(
            self.status,
            OrderStatus::Completed
                | OrderStatus::Shipped
                | OrderStatus::PartiallyRefunded
                | OrderStatus::Refunded
        ) || (self.status == OrderStatus::Cancelling
            && !self.after.refunds.is_empty());
        if !completed {
            return self.status;
        }
        let refunds: Vec<RefundFacts<'_>> = self
            .after
            .refunds
            .iter()
            .map(|r| RefundFacts {
                lines: &r.lines,
                phase: match r.status {
                    RefundStatus::Pending => RefundPhase::Pending,
                    RefundStatus::Issued => RefundPhase::Issued,
                    RefundStatus::Failed => RefundPhase::Failed,
                },
                cancellation: r.cancellation,
            })
            .collect();
        status_after(
            &self.after.lines,
            self.after.shipment.is_some(),
            false,
            &refunds,
        )
    }

    /// The view of an order straight from its stream (for GET while the projection lags).
    ///
    /// # Errors
    /// The stream does not decode as an order's.
    pub fn from_order_stream(history: &[RecordedEvent]) -> Result<Option<Self>, DecodeError> {
        // Decoding through the aggregate first surfaces a corrupt stream as an error.
        Order::from_history(history)?;
        Self::fold(None, history)
    }
}

#[cfg(test)]
mod stored_tests {
    use serde_json::{Value, json};

    use super::*;

    fn full() -> Value {
        json!({
            "orderId": "01J0000000000000000000000A",
            "status": "PARTIALLY_REFUNDED",
            "reason": "PAYMENT_DECLINED",
            "message": "a note",
            "customerId": "cust-7",
            "items": [{"productId": "p-1", "quantity": 2}],
            "total": 1998,
            "paymentId": "pay-1",
            "refunded": true,
            "lines": [{"productId": "p-1", "quantity": 2, "unitPrice": 999}],
            "shipment": {"carrier": "UPS", "trackingId": "1Z", "shippedAt": "2026-12-04T20:00:00.000Z"},
            "refunds": [{
                "refundId": "r-1", "status": "ISSUED", "amount": 999,
                "lines": [{"productId": "p-1", "quantity": 1, "unitPrice": 999}],
                "restock": true, "reason": "damaged", "cancellation": false,
                "requestedAt": "2026-12-04T20:01:00.000Z", "settledAt": "2026-12-04T20:02:00.000Z"
            }],
            "amountRefunded": 999,
            "placedAt": "2026-12-04T19:59:00.000Z",
            "updatedAt": "2026-12-04T20:02:00.000Z",
            "version": 9
        })
    }

    /// What the projection writes reads back as the same view, every after-sale field in place.
    #[test]
    fn a_stored_view_reads_back_field_for_field() {
        let view: OrderView = serde_json::from_value(full()).unwrap();
        assert_eq!(view.after.lines.len(), 1);
        assert_eq!(view.after.refunds[0].status, RefundStatus::Issued);
        assert_eq!(view.after.amount_refunded, Money::from_minor(999));
        assert_eq!(serde_json::to_value(&view).unwrap(), full());
        let text = serde_json::to_string(&view).unwrap();
        assert_eq!(serde_json::from_str::<OrderView>(&text).unwrap(), view);
    }

    /// A view written before the after-sale fields existed (or with none of them) reads with
    /// their defaults, and the optional fields absent.
    #[test]
    fn a_view_without_after_sale_fields_reads_with_their_defaults() {
        let mut old = full();
        let fields = old.as_object_mut().unwrap();
        for key in [
            "reason",
            "message",
            "total",
            "paymentId",
            "lines",
            "shipment",
            "refunds",
            "amountRefunded",
        ] {
            fields.remove(key);
        }
        fields.insert("status".into(), json!("PLACED"));
        let view: OrderView = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(*view.after, AfterSaleView::default());
        assert_eq!(
            (view.reason, view.total, view.payment_id.as_deref()),
            (None, None, None)
        );
        assert_eq!(
            serde_json::to_value(&view).unwrap()["amountRefunded"],
            json!(0)
        );
    }
}
