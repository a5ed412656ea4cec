//! The order-status read model: one row per order, what GET /orders/{id} answers.

use order_domain::events::{DecodeError, OrderLine, decode_order};
use order_domain::order::{Order, OrderStatus};
use order_domain::{FailureReason, Money, OrderEvent, OrderId, RecordedEvent, StreamId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{ORDER_STATUS, Step, View};

/// An order as clients see it. Carries no personal data (the email stays in the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    pub refunded: bool,
    pub placed_at: Timestamp,
    pub updated_at: Timestamp,
    /// The last applied version of the order's stream.
    pub version: u64,
}

impl View for OrderView {
    const NAME: &'static str = ORDER_STATUS;

    fn key(stream: &StreamId) -> Option<String> {
        stream.order_id().map(|id| id.to_string())
    }

    fn version(&self) -> u64 {
        self.version
    }

    /// An order's events do not restate its state, so only the next version applies.
    fn step(current: Option<&Self>, record: &RecordedEvent) -> Result<Step<Self>, DecodeError> {
        let have = current.map_or(0, |v| v.version);
        if record.version <= have {
            return Ok(Step::Skip);
        }
        if record.version != have + 1 {
            return Ok(Step::NeedHistory {
                after_version: have,
            });
        }
        let event = decode_order(record)?;
        Ok(match (current, event) {
            (None, OrderEvent::OrderPlaced(p)) => Step::Apply(Self {
                order_id: p.order_id,
                status: OrderStatus::Placed,
                reason: None,
                message: None,
                customer_id: p.customer_id.as_str().to_owned(),
                items: p.items,
                total: None,
                payment_id: None,
                refunded: false,
                placed_at: record.occurred_at,
                updated_at: record.occurred_at,
                version: record.version,
            }),
            // A stream that does not start with OrderPlaced is not an order we can show.
            (None, _) => Step::Skip,
            (Some(view), event) => {
                let mut next = view.clone();
                next.evolve(&event, record);
                Step::Apply(next)
            }
        })
    }
}

impl OrderView {
    fn evolve(&mut self, event: &OrderEvent, record: &RecordedEvent) {
        match event {
            OrderEvent::OrderPlaced(_)
            | OrderEvent::InventoryReserved(_)
            | OrderEvent::OutOfStock(_) => {}
            OrderEvent::OrderValidated(v) => {
                self.status = OrderStatus::Validated;
                self.total = Some(v.total);
            }
            OrderEvent::OrderRejected(r) => self.message = Some(r.message.clone()),
            OrderEvent::PaymentCaptured(p) => {
                self.status = OrderStatus::Paid;
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
        }
        self.version = record.version;
        self.updated_at = record.occurred_at;
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
