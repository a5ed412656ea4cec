//! Where a step finds the order's trace context, so one order is one trace on both hosts.
//!
//! The POST starts (or joins) the trace and `OrderPlaced` carries it
//! ([`RecordedEvent::trace_parent`]). Every later step (a task, a projection, an email handler)
//! loads or receives the order's events anyway, so it takes the trace from them rather than
//! from its own input: the queue message, the workflow input and the bus event stay as they
//! are, and a redelivered message joins the same trace.

use order_domain::{RecordedEvent, TraceParent};

/// The order's trace context: the one its first event carries (`OrderPlaced`), else the
/// latest event's that has one.
pub fn order_trace(history: &[RecordedEvent]) -> Option<TraceParent> {
    history
        .first()
        .and_then(|e| e.trace_parent)
        .or_else(|| history.iter().rev().find_map(|e| e.trace_parent))
}

/// The trace context of the events a step appends to an order with `history`: a new span in
/// the order's trace (`None` for an order placed before traces were recorded).
pub fn step_context(history: &[RecordedEvent]) -> Option<TraceParent> {
    order_trace(history).map(|t| t.child())
}

/// What caused a placement: the request's id (the `causation_id` of `OrderPlaced`) and the
/// caller's W3C trace context, if it sent a valid one. The order's trace joins the caller's
/// (a child of its span), or starts with the order when the caller sent none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub request_id: &'a str,
    pub trace_parent: Option<TraceParent>,
}

impl<'a> From<&'a str> for Origin<'a> {
    /// A request without a trace context of its own.
    fn from(request_id: &'a str) -> Self {
        Self {
            request_id,
            trace_parent: None,
        }
    }
}

impl Origin<'_> {
    /// The trace context `OrderPlaced` carries: a new span in the caller's trace, or the root
    /// of a new one.
    pub fn order_trace(&self) -> TraceParent {
        self.trace_parent
            .map_or_else(TraceParent::new_root, |t| t.child())
    }
}
