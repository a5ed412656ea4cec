//! One order is one trace: the POST's `traceparent` is carried by every event of the order and
//! by its emails, and the steps' spans (exported in process to OpenTelemetry's in-memory
//! exporter) share its trace id with parent links that follow the events. A bad `traceparent`
//! is ignored (the order starts a trace of its own), never refused.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use order_domain::ports::EventStore;
use order_domain::{OrderId, RecordedEvent, TraceParent};
use order_testkit::server::order_body;
use order_tests::{TestApp, default_seed, spawn_pipeline};
use reqwest::StatusCode;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The test process's span exporter, installed once (the subscriber is global).
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        tracing_subscriber::registry()
            .with(orders::telemetry::trace_layer(&provider))
            .init();
        order_app::trace::set_exporting(true);
        // The provider lives as long as the process.
        std::mem::forget(provider);
        exporter
    })
}

async fn events_of(app: &TestApp, id: &str) -> Vec<RecordedEvent> {
    let guard = app.server.as_ref().expect("running").pipeline.lock().await;
    let store = &guard.as_ref().expect("pipeline").store;
    let id = OrderId::parse(id).expect("order id");
    store.read_stream(&id.stream(), 0).await.expect("read")
}

/// The finished spans of a trace, once `done` holds of them (spans end asynchronously).
async fn spans_of(trace_hex: &str, done: impl Fn(&[SpanData]) -> bool) -> Vec<SpanData> {
    let mut spans = Vec::new();
    for _ in 0..200 {
        spans = exporter()
            .get_finished_spans()
            .expect("spans")
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace_hex)
            .collect();
        if done(&spans) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    spans
}

fn span_id(t: &TraceParent) -> SpanId {
    SpanId::from_bytes(t.span_id())
}

#[tokio::test]
async fn an_order_placed_with_a_traceparent_is_one_trace_through_events_spans_and_emails() {
    exporter();
    let app = spawn_pipeline(default_seed()).await;
    let header = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let body = order_body(&[("MUG", 1)], "tok_visa").to_string();
    let placed = app
        .post_raw(
            body.into_bytes(),
            "application/json",
            &[("traceparent", &header)],
        )
        .await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{}", placed.body);
    let id = placed.body["orderId"].as_str().expect("id").to_owned();
    assert_eq!(app.wait_terminal(&id).await["status"], "COMPLETED");

    // Every event of the order carries the POST's trace, each under a span of its own step.
    let events = events_of(&app, &id).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentCaptured",
            "InventoryReserved",
            "OrderCompleted"
        ]
    );
    let traces: Vec<TraceParent> = events
        .iter()
        .map(|e| {
            e.trace_parent
                .unwrap_or_else(|| panic!("{} untraced", e.event_type))
        })
        .collect();
    for t in &traces {
        assert_eq!(t.trace_id_hex(), TRACE_ID, "{t}");
    }

    // Both emails ("received", "confirmed") carry the order's trace.
    let emails = app.wait_emails("OrderAlertsTopic", 2).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    for email in &emails {
        assert!(
            email.contains(&format!("traceparent: 00-{TRACE_ID}-")),
            "{email}"
        );
    }

    check_spans(&traces, &types).await;
    app.shutdown().await;
}

/// The spans of the order's trace: place under the caller's span; each task under place (the
/// order's trace context, in OrderPlaced); each event written by its step's span; every event
/// projected under its span (both read models, one batch); the notify spans under place too.
async fn check_spans(traces: &[TraceParent], types: &[&str]) {
    let by_name = |spans: &[SpanData], name: &str| -> Vec<SpanData> {
        spans.iter().filter(|s| s.name == name).cloned().collect()
    };
    let spans = spans_of(TRACE_ID, |s| {
        let projected = |t: &TraceParent| {
            s.iter()
                .any(|s| s.name == "project" && s.parent_span_id == span_id(t))
        };
        traces.iter().all(projected) && by_name(s, "notify").len() >= 2
    })
    .await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    let place = by_name(&spans, "place");
    assert_eq!(place.len(), 1, "{names:?}");
    let place = &place[0];
    assert_eq!(place.parent_span_id.to_string(), CALLER_SPAN);
    assert_eq!(place.span_context.span_id(), span_id(&traces[0]));
    let ids: HashMap<SpanId, &str> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s.name.as_ref()))
        .collect();
    for (step, event) in [
        ("validate", 1),
        ("payment", 2),
        ("inventory", 3),
        ("inventory", 4),
    ] {
        let span = by_name(&spans, step);
        assert_eq!(span.len(), 1, "{step}: {names:?}");
        assert_eq!(
            span[0].parent_span_id,
            place.span_context.span_id(),
            "{step}"
        );
        assert_eq!(
            ids.get(&span_id(&traces[event])),
            Some(&step),
            "event {} written under {step}",
            types[event]
        );
    }
    // The read models project every event under the event's span (the inventory span wrote
    // the product's StockReserved too, so it has three).
    for t in traces {
        assert!(
            by_name(&spans, "project")
                .iter()
                .any(|s| s.parent_span_id == span_id(t)),
            "{t} not projected: {names:?}"
        );
    }
    for project in by_name(&spans, "project") {
        assert!(
            traces.iter().any(|t| span_id(t) == project.parent_span_id),
            "a project span outside the order's events"
        );
    }
    for notify in by_name(&spans, "notify") {
        assert_eq!(notify.parent_span_id, place.span_context.span_id());
    }
}

#[tokio::test]
async fn a_bad_traceparent_is_ignored_and_the_order_starts_a_trace_of_its_own() {
    exporter();
    let app = spawn_pipeline(default_seed()).await;
    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        let body = order_body(&[("MUG", 1)], "tok_visa").to_string();
        let placed = app
            .post_raw(
                body.into_bytes(),
                "application/json",
                &[("traceparent", bad)],
            )
            .await;
        assert_eq!(
            placed.status,
            StatusCode::ACCEPTED,
            "{bad}: {}",
            placed.body
        );
        let id = placed.body["orderId"].as_str().expect("id").to_owned();
        let events = events_of(&app, &id).await;
        let trace = events[0].trace_parent.expect("OrderPlaced is traced");
        assert_ne!(trace.trace_id_hex(), TRACE_ID);
        let place: Vec<SpanData> = spans_of(&trace.trace_id_hex(), |s| {
            s.iter().any(|s| s.name == "place")
        })
        .await
        .into_iter()
        .filter(|s| s.name == "place")
        .collect();
        assert_eq!(place.len(), 1, "{bad}");
        assert_eq!(place[0].parent_span_id, SpanId::INVALID, "a root span");
    }
    app.shutdown().await;
}
