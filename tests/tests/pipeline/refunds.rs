//! The refund workflow on the embedded host: a RefundRequested appended to a completed order
//! reaches the local rule bus through the forwarder, whose RefundRequestedRule starts one
//! RefundProcessingStateMachine execution, run by the local runner on the same ASL file Step
//! Functions runs. The refund is requested with the app's use case (`order_app::after`), as the
//! API's refund route does.

use std::time::{Duration, Instant};

use order_app::dispatch::Workflow;
use order_domain::events::OrderLine;
use order_domain::order::RefundRequest;
use order_domain::ports::StartOutcome;
use order_domain::{OrderId, ProductId, Quantity};
use order_testkit::server::order_body;
use order_tests::{TestApp, default_seed, spawn_pipeline};
use serde_json::json;

/// A completed order for `quantity` mugs paid with `token`.
async fn completed(app: &TestApp, quantity: i64, token: &str) -> String {
    let placed = app
        .post_order(&order_body(&[("MUG", quantity)], token))
        .await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_terminal(&id).await["status"], "COMPLETED");
    id
}

/// Asks for a refund of `quantity` mugs of order `id` (a return when `restock`): its refund id.
async fn request_refund(app: &TestApp, id: &str, quantity: i64, restock: bool) -> String {
    let guard = app.server.as_ref().unwrap().pipeline.lock().await;
    let store = &guard.as_ref().unwrap().store;
    let request = RefundRequest {
        idempotency_key: format!("refund-{id}-{quantity}"),
        items: vec![OrderLine {
            product_id: ProductId::parse("MUG").unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
        }],
        restock,
        reason: "damaged".into(),
    };
    let (_, refund) = order_app::after::request_refund(store, OrderId::parse(id).unwrap(), request)
        .await
        .unwrap();
    refund.request.refund_id
}

/// The order's events once one of them is `until` (10 s at most).
async fn events_until(app: &TestApp, id: &str, until: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let types = app.event_types(id).await;
        if types.iter().any(|t| t == until) {
            return types;
        }
        assert!(Instant::now() < deadline, "no {until} in {types:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The refund execution's state machine and status, once it ended (5 s at most).
async fn execution(app: &TestApp, name: &str) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let db = app
            .server
            .as_ref()
            .unwrap()
            .pipeline
            .lock()
            .await
            .as_ref()
            .unwrap()
            .db
            .clone();
        let n = name.to_owned();
        let row: Option<(String, String)> = db
            .read(move |c| {
                use rusqlite::OptionalExtension;
                c.query_row(
                    "SELECT state_machine, status FROM executions WHERE name = ?1",
                    [n],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await
            .unwrap();
        if let Some(row) = row.filter(|(_, status)| status != "RUNNING") {
            return row;
        }
        assert!(Instant::now() < deadline, "execution {name} did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A return whose refund the gateway refuses twice (`tok_refund_error`): the definition's Retry
/// absorbs it, RefundIssued is appended with the mug's StockAdded, the stock is back, and the
/// execution succeeded. Starting the refund's execution again (a redelivered RefundRequested)
/// starts nothing and appends nothing.
#[tokio::test]
async fn a_return_is_refunded_through_the_retries_and_restocked_by_the_refund_workflow() {
    let app = spawn_pipeline(default_seed()).await;
    let id = completed(&app, 2, "tok_refund_error").await;
    assert_eq!(app.available("MUG").await, 998);
    let refund_id = request_refund(&app, &id, 1, true).await;
    assert_eq!(refund_id, format!("{id}-R1"));
    let types = events_until(&app, &id, "RefundIssued").await;
    assert_eq!(
        types[types.len() - 2..],
        ["RefundRequested", "RefundIssued"]
    );
    assert_eq!(
        execution(&app, &refund_id).await,
        ("RefundProcessingStateMachine".into(), "SUCCEEDED".into())
    );
    assert_eq!(app.available("MUG").await, 999, "the returned mug is back");

    let refunds = app
        .server
        .as_ref()
        .unwrap()
        .pipeline
        .lock()
        .await
        .as_ref()
        .unwrap()
        .workflow
        .of(Workflow::RefundProcessing);
    let again = refunds
        .start_named(
            refund_id.clone(),
            json!({ "orderId": id, "refundId": refund_id }),
        )
        .await
        .unwrap();
    assert_eq!(again, StartOutcome::AlreadyStarted);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.event_types(&id).await, types, "nothing appended twice");
    assert!(app.emails("CriticalAlertsTopic").is_empty());
    app.shutdown().await;
}

/// A refund the gateway never makes (`tok_refund_down`): the retries run out, RefundFailed is
/// appended (the lines may be refunded again), nothing is restocked, the execution fails and
/// RefundProcessingWorkflowFailureAlarm's stand-in pages once.
#[tokio::test]
async fn a_refund_the_gateway_never_makes_fails_its_execution_and_raises_the_alarm() {
    let app = spawn_pipeline(default_seed()).await;
    let id = completed(&app, 2, "tok_refund_down").await;
    let refund_id = request_refund(&app, &id, 2, true).await;
    let types = events_until(&app, &id, "RefundFailed").await;
    assert!(!types.iter().any(|t| t == "RefundIssued"), "{types:?}");
    assert_eq!(
        execution(&app, &refund_id).await,
        ("RefundProcessingStateMachine".into(), "FAILED".into())
    );
    let alerts = app.wait_emails("CriticalAlertsTopic", 1).await;
    assert_eq!(alerts.len(), 1, "one alarm for the failed execution");
    assert!(
        alerts[0].contains("RefundProcessingWorkflowFailureAlarm"),
        "{}",
        alerts[0]
    );
    assert!(alerts[0].contains("RefundNotIssued"), "{}", alerts[0]);
    assert_eq!(app.available("MUG").await, 998, "nothing restocked");
    app.shutdown().await;
}
