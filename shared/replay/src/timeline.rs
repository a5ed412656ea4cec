//! One order's timeline: each event with its time and what it changed, folded through the same
//! order-status projection, optionally stopped at an instant (`--as-of`).

use std::fmt;

use order_domain::envelope::verify_chain;
use order_domain::events::decode_order;
use order_domain::{Money, OrderEvent, OrderId, RecordedEvent, Timestamp};
use order_read_models::OrderView;
use serde_json::Value;

use crate::fold::Failure;
use crate::view::{Model, View};

/// One event of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub version: u64,
    pub occurred_at: Timestamp,
    pub event_type: String,
    /// What the event changed in the order's view (`status PLACED→VALIDATED`), then what it
    /// says that the view does not keep (`stock of MUG now 12`).
    pub changes: Vec<String>,
}

/// An order's history and its state at the end of it (or at `as_of`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub order_id: OrderId,
    pub as_of: Option<Timestamp>,
    /// The events up to `as_of` (all of them without it).
    pub entries: Vec<TimelineEntry>,
    /// Events after `as_of`, not shown.
    pub later: usize,
    /// The order's view after `entries`.
    pub state: Option<OrderView>,
    /// A broken chain (when verified) or an undecodable event.
    pub failure: Option<Failure>,
}

/// Builds the timeline of an order from its stream's events (an order stream is short: it is
/// read whole). `verify` checks the chain first with [`verify_chain`].
pub fn timeline(
    order_id: OrderId,
    events: &[RecordedEvent],
    as_of: Option<Timestamp>,
    verify: bool,
) -> Timeline {
    let mut failure = if verify {
        verify_chain(events).err().map(Failure::from)
    } else {
        None
    };
    let mut entries = Vec::new();
    let mut view: Option<View> = None;
    let mut later = 0;
    for record in events {
        if later > 0 || as_of.is_some_and(|t| record.occurred_at > t) {
            later += 1;
            continue;
        }
        let decoded = decode_order(record);
        let next = decoded
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|_| View::step(Model::OrderStatus, view.clone(), record));
        let (event, next) = match (decoded, next) {
            (Ok(event), Ok(next)) => (event, next),
            (Err(error), _) | (_, Err(error)) => {
                failure.get_or_insert(Failure::Undecodable {
                    stream: record.stream_id.as_str().to_owned(),
                    version: record.version,
                    error,
                });
                break;
            }
        };
        let mut changes = view_changes(view.as_ref(), next.as_ref());
        changes.extend(event_facts(&event));
        entries.push(TimelineEntry {
            version: record.version,
            occurred_at: record.occurred_at,
            event_type: record.event_type.to_string(),
            changes,
        });
        view = next;
    }
    Timeline {
        order_id,
        as_of,
        entries,
        later,
        state: match view {
            Some(View::Order(v)) => Some(v),
            _ => None,
        },
        failure,
    }
}

/// Fields that change on every event or never after the first: not worth a line each time.
const QUIET: &[&str] = &[
    "version",
    "updatedAt",
    "placedAt",
    "orderId",
    "customerId",
    "items",
];

fn show(field: &str, v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "∅".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if field == "total" => n
            .as_u64()
            .map_or_else(|| n.to_string(), |m| Money::from_minor(m).to_string()),
        Some(other) => other.to_string(),
    }
}

fn view_changes(before: Option<&View>, after: Option<&View>) -> Vec<String> {
    let (before, after) = (before.map(View::to_json), after.map(View::to_json));
    let empty = serde_json::Map::new();
    let b = before.as_ref().and_then(Value::as_object).unwrap_or(&empty);
    let a = after.as_ref().and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort_by_key(|k| (k.as_str() != "status", k.as_str()));
    keys.dedup();
    // A new view is announced by its status alone; the event's facts say the rest.
    let created = before.is_none();
    keys.into_iter()
        .filter(|k| !QUIET.contains(&k.as_str()) && b.get(*k) != a.get(*k))
        .filter(|k| !created || k.as_str() == "status")
        .map(|k| format!("{k} {}→{}", show(k, b.get(k)), show(k, a.get(k))))
        .collect()
}

/// What an event says that the order's view does not keep.
fn event_facts(event: &OrderEvent) -> Vec<String> {
    match event {
        OrderEvent::OrderPlaced(p) => vec![
            format!("customer {}", p.customer_id.as_str()),
            format!(
                "items {}",
                p.items
                    .iter()
                    .map(|l| format!("{}×{}", l.product_id, l.quantity.get()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ],
        OrderEvent::OrderRejected(r) => vec![format!("code {}", r.code)],
        OrderEvent::PaymentCaptured(p) => vec![format!("captured {}", p.amount)],
        OrderEvent::PaymentDeclined(d) => vec![format!("code {}", d.code)],
        OrderEvent::InventoryReserved(r) => r
            .lines
            .iter()
            .map(|l| {
                format!(
                    "reserved {}×{} (stock now {})",
                    l.product_id,
                    l.quantity.get(),
                    l.stock_after
                )
            })
            .collect(),
        OrderEvent::OutOfStock(o) => vec![format!(
            "{}: {} requested, {} available",
            o.product_id, o.requested, o.available
        )],
        OrderEvent::PaymentRefunded(r) => vec![format!("refunded {} ({})", r.amount, r.refund_id)],
        OrderEvent::CancellationRequested(c) if !c.reason.is_empty() => {
            vec![format!("reason {}", c.reason)]
        }
        OrderEvent::OrderCancelled(c) => vec![format!("refunded {}", c.refunded)],
        OrderEvent::RefundRequested(r) => vec![format!(
            "{} of {}{}",
            r.refund_id,
            r.lines
                .iter()
                .map(|l| format!("{}×{}", l.product_id, l.quantity.get()))
                .collect::<Vec<_>>()
                .join(", "),
            if r.restock { ", restocked" } else { "" }
        )],
        OrderEvent::RefundIssued(i) => {
            vec![format!(
                "{} gave back {} ({})",
                i.refund_id, i.amount, i.gateway_refund_id
            )]
        }
        OrderEvent::RefundFailed(f) => vec![format!("{}: {}", f.refund_id, f.message)],
        OrderEvent::OrderValidated(_)
        | OrderEvent::OrderCompleted(_)
        | OrderEvent::OrderFailed(_)
        | OrderEvent::OrderFailing(_)
        | OrderEvent::CancellationRequested(_)
        | OrderEvent::OrderShipped(_) => {
            vec![]
        }
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "order {}", self.order_id)?;
        for e in &self.entries {
            let changes = if e.changes.is_empty() {
                "(no change)".to_owned()
            } else {
                e.changes.join("; ")
            };
            writeln!(
                f,
                "  v{:<3} {}  {:<18} {changes}",
                e.version, e.occurred_at, e.event_type
            )?;
        }
        if self.later > 0 {
            writeln!(f, "  ({} later events not shown)", self.later)?;
        }
        let when = self
            .as_of
            .map_or_else(|| "now".to_owned(), |t| format!("as of {t}"));
        match &self.state {
            Some(v) => {
                let extra = v
                    .reason
                    .map(|r| format!(" ({})", r.as_str()))
                    .unwrap_or_default();
                writeln!(
                    f,
                    "state {when}: {}{extra} at version {}",
                    v.status.as_str(),
                    v.version
                )?;
                writeln!(f, "{}", serde_json::to_string_pretty(v).unwrap_or_default())?;
            }
            None => writeln!(f, "state {when}: not placed yet")?,
        }
        if let Some(x) = &self.failure {
            writeln!(f, "FAILED: {x}")?;
        }
        Ok(())
    }
}
