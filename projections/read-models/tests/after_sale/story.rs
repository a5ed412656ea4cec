//! An order's history built the way the pipeline builds it: every event is what the aggregate
//! decided on the state before it (`Order::decide`), so each history is one a real log can hold.

use std::collections::BTreeMap;

use order_domain::envelope::{EventMeta, GENESIS_HASH};
use order_domain::events::{OrderLine, OrderPlaced, PaymentRefunded};
use order_domain::order::{
    ChargeResult, Order, OrderCommand, OrderError, OrderState, RefundRequest, RefundResult,
};
use order_domain::personal::{Personal, PersonalData};
use order_domain::product::ProductState;
use order_domain::{
    CustomerId, Email, Money, OrderEvent, OrderId, PaymentToken, ProductId, Quantity,
    RecordedEvent, Timestamp,
};

/// The order's products: `A` at 2.50 (3 ordered) and `B` at 10.00 (1 ordered).
pub const LINES: [(&str, u64, i64); 2] = [("A", 250, 3), ("B", 1000, 1)];
/// What the order costs: 3 × 2.50 + 10.00.
pub const TOTAL: u64 = 1750;

pub fn pid(id: &str) -> ProductId {
    ProductId::parse(id).unwrap()
}

/// The catalogue with `stock` of every product.
pub fn catalog(stock: u64) -> BTreeMap<ProductId, ProductState> {
    LINES
        .iter()
        .map(|(id, price, _)| {
            (
                pid(id),
                ProductState {
                    id: pid(id),
                    price: Money::from_minor(*price),
                    stock,
                    version: 1,
                    head_hash: GENESIS_HASH.into(),
                },
            )
        })
        .collect()
}

/// One order's history, decided command by command; each event recorded 10 ms after the last.
pub struct Story {
    pub id: OrderId,
    pub events: Vec<OrderEvent>,
    pub recorded: Vec<RecordedEvent>,
    clock: u64,
}

impl Story {
    /// A new order for [`LINES`], placed at 1 s.
    pub fn placed() -> Self {
        let id = OrderId::generate();
        let mut story = Self {
            id,
            events: Vec::new(),
            recorded: Vec::new(),
            clock: 1_000,
        };
        story.append(vec![OrderEvent::OrderPlaced(OrderPlaced {
            order_id: id,
            customer_id: CustomerId::parse("c-after").unwrap(),
            items: LINES
                .iter()
                .map(|(p, _, q)| OrderLine {
                    product_id: pid(p),
                    quantity: Quantity::new(*q).unwrap(),
                })
                .collect(),
            personal: Personal::Clear(PersonalData {
                email: Email::parse("jane@example.com").unwrap(),
                payment_token: PaymentToken::parse("tok_visa").unwrap(),
            }),
        })]);
        story
    }

    /// Placed, validated, paid and completed.
    pub fn completed() -> Self {
        let mut story = Self::placed();
        story.run(&OrderCommand::Validate {
            products: catalog(10),
        });
        story.run(&captured());
        story.run(&OrderCommand::Reserve {
            products: catalog(10),
        });
        story
    }

    pub fn order(&self) -> Order {
        Order::from_history(&self.recorded).unwrap()
    }

    pub fn state(&self) -> OrderState {
        self.order().state
    }

    /// Decides `command` on the order and appends what it decided (all of it at one instant,
    /// as one append); the events, or why the order refused.
    pub fn try_run(&mut self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        let events = self.order().decide(command)?;
        self.append(events.clone());
        Ok(events)
    }

    /// [`Story::try_run`] of a command the order must accept.
    pub fn run(&mut self, command: &OrderCommand) -> Vec<OrderEvent> {
        self.try_run(command)
            .unwrap_or_else(|e| panic!("{command:?} refused: {e}"))
    }

    /// Closes an open order as the workflow's OrderFailed step does, refunding a charge due.
    pub fn fail(&mut self) -> Result<Vec<OrderEvent>, OrderError> {
        let refund = self.state().refund_due().map(|p| PaymentRefunded {
            payment_id: p.payment_id.clone(),
            refund_id: format!("re_{}", self.id),
            amount: p.amount,
        });
        self.try_run(&OrderCommand::Fail {
            error: "OrderCancelled".into(),
            refund,
        })
    }

    /// Appends `events` as one append, decided or not (a test of what a corrupt log holds).
    pub fn append(&mut self, events: Vec<OrderEvent>) {
        if events.is_empty() {
            return;
        }
        self.clock += 10;
        let meta = EventMeta {
            correlation_id: self.id.into(),
            causation_id: "story".into(),
            occurred_at: Timestamp::from_millis(self.clock),
            trace_parent: None,
        };
        for e in events {
            let (version, prev) = self
                .recorded
                .last()
                .map_or((0, GENESIS_HASH.into()), |r| (r.version, r.hash.clone()));
            self.recorded.push(RecordedEvent::seal(
                self.id.stream(),
                version,
                &prev,
                e.encode(),
                &meta,
            ));
            self.events.push(e);
        }
    }

    /// The id of the order's `n`th refund.
    pub fn refund_id(&self, n: usize) -> String {
        format!("{}-R{n}", self.id)
    }
}

pub fn captured() -> OrderCommand {
    OrderCommand::RecordCharge(ChargeResult::Captured {
        payment_id: "ch_1".into(),
    })
}

pub fn cancel() -> OrderCommand {
    OrderCommand::RequestCancellation {
        reason: "changed my mind".into(),
    }
}

pub fn ship() -> OrderCommand {
    OrderCommand::Ship {
        carrier: "UPS".into(),
        tracking_id: "1Z999".into(),
    }
}

/// A refund of `items` (`(product, quantity)`), asked with Idempotency-Key `key`.
pub fn refund(key: &str, items: &[(&str, i64)], restock: bool) -> OrderCommand {
    OrderCommand::RequestRefund(RefundRequest {
        idempotency_key: key.into(),
        items: items
            .iter()
            .map(|(p, q)| OrderLine {
                product_id: pid(p),
                quantity: Quantity::new(*q).unwrap(),
            })
            .collect(),
        restock,
        reason: "damaged".into(),
    })
}

pub fn issued(refund_id: &str) -> OrderCommand {
    OrderCommand::SettleRefund {
        refund_id: refund_id.into(),
        result: RefundResult::Issued {
            gateway_refund_id: format!("re_{refund_id}"),
        },
    }
}

pub fn refund_failed(refund_id: &str) -> OrderCommand {
    OrderCommand::SettleRefund {
        refund_id: refund_id.into(),
        result: RefundResult::Failed {
            message: "gateway unavailable".into(),
        },
    }
}
