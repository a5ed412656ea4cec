//! `serve --backend aws` keeps one order in one trace as the embedded host does: the POST's
//! `traceparent` is carried by every event in DynamoDB (the optional `traceParent` attribute),
//! read back through the Streams poller by the projections and the rule router, and the steps'
//! spans (exported in process to OpenTelemetry's in-memory exporter) share its trace id. The
//! server runs in-process on the emulator (`AWS_ENDPOINT_URL`); without it the test says it
//! was skipped, except under `CI=true`, where a missing emulator is a failure.

#[path = "support/aws_server.rs"]
mod aws_server;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use order_domain::OrderId;
use order_domain::ports::EventStore;
use order_testkit::server::wait_terminal;
use order_testkit::support::endpoint;
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_host_keeps_an_order_in_the_posts_trace() {
    if endpoint("the_aws_host_keeps_an_order_in_the_posts_trace").is_none() {
        return;
    }
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tracing_subscriber::registry()
        .with(orders::telemetry::trace_layer(&provider))
        .init();
    order_app::trace::set_exporting(true);

    let aws_server::Started {
        server,
        base,
        client,
        _dir,
        ..
    } = aws_server::start("trace", "c-7").await;

    let placed: Value = client
        .post(format!("{base}/orders"))
        .header("traceparent", format!("00-{TRACE_ID}-b7ad6b7169203331-01"))
        .json(&json!({ "email": "trace@example.com", "items": [{ "productId": "MUG", "quantity": 1 }], "paymentToken": "tok_visa" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = placed["orderId"].as_str().unwrap().to_owned();
    let done = wait_terminal(&client, &base, &id, Duration::from_mins(1)).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");

    let store = aws_server::event_store(&server).await;
    let events = store
        .read_stream(&OrderId::parse(&id).unwrap().stream(), 0)
        .await
        .unwrap();
    assert_eq!(events.len(), 5, "{events:?}");
    for e in &events {
        let trace = e
            .trace_parent
            .unwrap_or_else(|| panic!("{} untraced", e.event_type));
        assert_eq!(trace.trace_id_hex(), TRACE_ID, "{}", e.event_type);
    }

    // Every step's span, in the POST's trace (the projections and emails come through the
    // Streams poller, a moment after the order completed).
    let want = [
        "place",
        "validate",
        "payment",
        "inventory",
        "project",
        "notify",
    ];
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let names: BTreeSet<String> = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == TRACE_ID)
            .map(|s| s.name.into_owned())
            .collect();
        if want.iter().all(|w| names.contains(*w)) {
            break;
        }
        assert!(Instant::now() < deadline, "spans of the trace: {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.shutdown().await;
}
