//! The order's trace: where each step finds the W3C trace context, and the step's span in it.
//!
//! The POST starts (or joins) the trace and `OrderPlaced` carries it
//! ([`RecordedEvent::trace_parent`]). Every later step (a task, a projection, an email handler)
//! loads or receives the order's events anyway, so it takes the trace from them rather than
//! from its own input: the queue message, the workflow input and the bus event stay as they
//! are, and a redelivered message joins the same trace.
//!
//! Spans: a host that exports spans (OpenTelemetry through `tracing-opentelemetry`) calls
//! [`set_exporting`]; each step then opens a span named after it ([`Step`], target
//! [`TARGET`]) whose parent is the order's trace context, and the events and emails it writes
//! carry that span's context. When nothing exports (the default), no span is made and they
//! carry a new span id in the order's trace ([`TraceParent::child`]): the trace id still ties
//! the order together, at the cost of a few random bytes per event.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use order_domain::{RecordedEvent, TraceParent};
use tracing::Span;
use tracing::instrument::{Instrument, Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `tracing` target of every step span: what a host's OpenTelemetry layer is filtered to,
/// so the logging spans around them (one per use case) do not become traces of their own.
pub const TARGET: &str = "order_trace";

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Tells the use cases that a span exporter is installed (step spans are worth making).
pub fn set_exporting(on: bool) {
    EXPORTING.store(on, Ordering::Relaxed);
}

/// Whether a host installed a span exporter.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The steps of an order, each a span of that name in the order's trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Place,
    Validate,
    Payment,
    Inventory,
    Fail,
    Refund,
    Project,
    Notify,
}

/// The span of `step`, a child of `parent` (the order's trace; a new trace without one).
/// `Span::none()` when no host exports spans, so a step costs nothing extra by default.
pub fn step_span(step: Step, parent: Option<TraceParent>) -> Span {
    if !exporting() {
        return Span::none();
    }
    let span = match step {
        Step::Place => tracing::info_span!(target: TARGET, "place"),
        Step::Validate => tracing::info_span!(target: TARGET, "validate"),
        Step::Payment => tracing::info_span!(target: TARGET, "payment"),
        Step::Inventory => tracing::info_span!(target: TARGET, "inventory"),
        Step::Fail => tracing::info_span!(target: TARGET, "fail"),
        Step::Refund => tracing::info_span!(target: TARGET, "refund"),
        Step::Project => tracing::info_span!(target: TARGET, "project"),
        Step::Notify => tracing::info_span!(target: TARGET, "notify"),
    };
    if let Some(parent) = parent {
        // Refused only if the span had started: it has not, it was made just now.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(
            SpanContext::new(
                TraceId::from_bytes(parent.trace_id()),
                SpanId::from_bytes(parent.span_id()),
                TraceFlags::new(parent.flags()),
                true,
                TraceState::NONE,
            ),
        ));
    }
    span
}

/// `work` inside the span of `step`, a child of the order's trace found in `history`.
pub fn in_step<F: Future>(step: Step, history: &[RecordedEvent], work: F) -> Instrumented<F> {
    work.instrument(step_span(step, order_trace(history)))
}

/// The trace context of what the current step writes: the current span's, when a tracer
/// started it, else `fallback` (a new span id in the order's trace, or a new trace).
pub fn current_or(fallback: impl FnOnce() -> Option<TraceParent>) -> Option<TraceParent> {
    if exporting()
        && let Some(cx) = span_context(&Span::current())
    {
        return Some(cx);
    }
    fallback()
}

/// The span of `step` in the order's trace found in `history`, and the trace context of what
/// it writes (its own when a tracer started it, else a new span in the order's trace). For a
/// step that writes before it runs inside its span (an email handed to the notifier).
pub fn step_with_context(step: Step, history: &[RecordedEvent]) -> (Span, Option<TraceParent>) {
    let order = order_trace(history);
    let span = step_span(step, order);
    let cx = span_context(&span).or_else(|| order.map(|t| t.child()));
    (span, cx)
}

/// A span's OpenTelemetry context as a `traceparent` (`None` when no tracer started it).
fn span_context(span: &Span) -> Option<TraceParent> {
    if span.is_none() {
        return None;
    }
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    if !sc.is_valid() {
        return None;
    }
    TraceParent::from_parts(
        sc.trace_id().to_bytes(),
        sc.span_id().to_bytes(),
        sc.trace_flags().to_u8(),
    )
}

/// The order's trace context: the one its first event carries (`OrderPlaced`), else the
/// latest event's that has one.
pub fn order_trace(history: &[RecordedEvent]) -> Option<TraceParent> {
    history
        .first()
        .and_then(|e| e.trace_parent)
        .or_else(|| history.iter().rev().find_map(|e| e.trace_parent))
}

/// The trace context of what a step writes about an order with `history`: its span's inside
/// a step span, else a new span in the order's trace (`None` for an order placed before traces
/// were recorded).
pub fn step_context(history: &[RecordedEvent]) -> Option<TraceParent> {
    current_or(|| order_trace(history).map(|t| t.child()))
}

/// The `project` span of one record, a child of its event's trace context (`Span::none()` for
/// an event outside any order's trace, so seeding makes no traces of its own).
pub fn project_span(event: &RecordedEvent) -> Span {
    event
        .trace_parent
        .map_or_else(Span::none, |t| step_span(Step::Project, Some(t)))
}

/// One `project` span per record that carries a trace context, each a child of its event's,
/// held by the caller while it applies the batch (so each covers the batch that applied its
/// record). Empty, without allocating, when no host exports spans.
pub fn project_spans<'a>(records: impl IntoIterator<Item = &'a RecordedEvent>) -> Vec<Span> {
    if !exporting() {
        return Vec::new();
    }
    records
        .into_iter()
        .filter(|e| e.trace_parent.is_some())
        .map(project_span)
        .collect()
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
    /// The trace context `OrderPlaced` carries: the place span's (inside one), else a new span
    /// in the caller's trace, or the root of a new one.
    pub fn order_trace(&self) -> TraceParent {
        current_or(|| {
            Some(
                self.trace_parent
                    .map_or_else(TraceParent::new_root, |t| t.child()),
            )
        })
        .unwrap_or_else(TraceParent::new_root)
    }
}
