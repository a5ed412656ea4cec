//! `serve --backend aws` runs the refund workflow as the embedded host does: a RefundRequested
//! appended to a completed order's DynamoDB stream reaches the local rule router through the
//! Streams poller, whose RefundRequestedRule starts one RefundProcessingStateMachine execution,
//! run by the local runner (bookkept in `aws-runner.db`) against the DynamoDB event store. The
//! server runs in-process on the emulator (`AWS_ENDPOINT_URL`); without it the test says it was
//! skipped, except under `CI=true`, where a missing emulator is a failure.

#[path = "support/aws_server.rs"]
mod aws_server;

use std::time::{Duration, Instant};

use order_app::after::request_refund;
use order_domain::events::OrderLine;
use order_domain::order::RefundRequest;
use order_domain::{OrderId, ProductId, Quantity};
use order_testkit::server::{get_json, wait_terminal};
use order_testkit::support::endpoint;
use serde_json::{Value, json};

/// The order's event types once one of them is `until`.
async fn events_until(client: &reqwest::Client, base: &str, id: &str, until: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let events = get_json(client, &format!("{base}/orders/{id}/events")).await;
        let types: Vec<String> = events["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        if types.iter().any(|t| t == until) {
            return types;
        }
        assert!(Instant::now() < deadline, "no {until} in {types:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A partial return on a completed order: RefundIssued (after two gateway refusals the
/// definition's Retry absorbs), the mug restocked in the inventory view, and the refund's
/// execution recorded as RefundProcessingStateMachine's, SUCCEEDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_host_runs_the_refund_workflow_on_a_requested_refund() {
    if endpoint("the_aws_host_runs_the_refund_workflow_on_a_requested_refund").is_none() {
        return;
    }
    let aws_server::Started {
        server,
        base,
        client,
        data,
        _dir,
    } = aws_server::start("refund", "c-9").await;

    let placed: Value = client
        .post(format!("{base}/orders"))
        .json(&json!({ "email": "emu@example.com", "items": [{ "productId": "MUG", "quantity": 2 }], "paymentToken": "tok_refund_error" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = placed["orderId"].as_str().unwrap().to_owned();
    let done = wait_terminal(&client, &base, &id, Duration::from_mins(1)).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");

    // The refund as the API's refund route records it.
    let store = aws_server::event_store(&server).await;
    let request = RefundRequest {
        idempotency_key: "return-1".into(),
        items: vec![OrderLine {
            product_id: ProductId::parse("MUG").unwrap(),
            quantity: Quantity::new(1).unwrap(),
        }],
        restock: true,
        reason: "damaged".into(),
    };
    let (_, refund) = request_refund(&store, OrderId::parse(&id).unwrap(), request)
        .await
        .unwrap();
    let refund_id = refund.request.refund_id;

    let types = events_until(&client, &base, &id, "RefundIssued").await;
    assert_eq!(
        types[types.len() - 2..],
        ["RefundRequested", "RefundIssued"]
    );
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let mug = get_json(&client, &format!("{base}/inventory/MUG")).await;
        if mug["available"] == 9 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the return never restocked: {mug}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let db = rusqlite::Connection::open(data.join("aws-runner.db")).unwrap();
    let (machine, status): (String, String) = db
        .query_row(
            "SELECT state_machine, status FROM executions WHERE name = ?1",
            [&refund_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (machine.as_str(), status.as_str()),
        ("RefundProcessingStateMachine", "SUCCEEDED")
    );
    assert_metrics(&base).await;
    server.shutdown().await;
}

/// The AWS backend serves `/metrics` too, its gauges read from OrdersQueue and its DLQ; this
/// binary's one test is the process's only orders, so the counters are exact.
async fn assert_metrics(base: &str) {
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "order_pipeline_orders_placed_total 1",
        "order_pipeline_orders_completed_total 1",
        "order_pipeline_refunds_requested_total 1",
        "order_pipeline_refunds_issued_total 1",
        "order_pipeline_queue_dead_letter_messages 0",
        // The runner's adaptive limit, at its floor: one execution at a time never fills it.
        "order_pipeline_workflow_execution_limit 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in {metrics}"
        );
    }
    // The host's stream consumers report how late they project, as the Lambda projector
    // does (the local ProjectionLag alarm and the console's chart read it).
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("order_pipeline_projection_lag_seconds ")),
        "no projection lag in {metrics}"
    );
}
