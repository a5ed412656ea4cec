//! Lambda handlers fed real AWS event JSON (SQS batch, Step Functions task payload, EventBridge
//! event, CloudFormation custom-resource requests), on the embedded adapters.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use order_app::gateway::SimulatedGateway;
use order_app::notify::{Confirmation, FailureNotice};
use order_app::seed::{SeedProduct, seed_inventory};
use order_app::vault::NoKeys;
use order_domain::{Email, OrderId};
use order_embedded::db::{Db, Durability};
use order_embedded::outbox::OutboxNotifier;
use order_embedded::store::SqliteEventStore;
use order_lambda::seed::{DEFAULT_SEED, ResponseSender};
use order_lambda::task::{TaskFunction, run_task};
use serde_json::{Value, json};

const ORDER: &str = "01JDQ5Z8M7X3K9V2N4B6C8D0EF";

struct Rig {
    dir: tempfile::TempDir,
    db: Db,
    store: SqliteEventStore,
    notifier: OutboxNotifier,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let notifier = OutboxNotifier::new(
        &dir.path().join("outbox"),
        &Email::parse("ops@example.com").unwrap(),
    )
    .unwrap();
    let mug: SeedProduct = serde_json::from_value(
        json!({ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }),
    )
    .unwrap();
    seed_inventory(&store, &[mug]).await.unwrap();
    Rig {
        dir,
        db,
        store,
        notifier,
    }
}

/// The order `ORDER` for two of `product`.
async fn place(store: &SqliteEventStore, product: &str) {
    let id = OrderId::parse(ORDER).unwrap();
    order_testkit::events::place_as(store, id, &[(product, 2)], "tok_visa").await;
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// An SQS batch with a redelivered message and a malformed one: one execution starts, the
/// duplicate is a success, and only the malformed message is reported as a batch item failure.
#[tokio::test]
async fn an_sqs_batch_reports_only_the_malformed_message() {
    let r = rig().await;
    let (starter, _runner) = order_runtime::workflow::local_workflow(
        r.db.clone(),
        (r.store.clone(), r.notifier.clone(), NoKeys),
        0.0,
        4,
    )
    .unwrap();
    let event: SqsEvent = serde_json::from_str(&fixture(
        "services/start-order-processing/fixtures/sqs-batch.json",
    ))
    .unwrap();
    let response = order_lambda::start::handle_batch(&starter, event).await;
    assert_eq!(
        response.failed_ids(),
        ["9a7c1e7b-4f59-4a5e-9d3b-2b7c0e9b1d11"]
    );
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json,
        json!({ "batchItemFailures": [{ "itemIdentifier": "9a7c1e7b-4f59-4a5e-9d3b-2b7c0e9b1d11" }] })
    );
    let runs: i64 =
        r.db.read(|c| c.query_row("SELECT COUNT(*) FROM executions", [], |x| x.get(0)))
            .await
            .unwrap();
    assert_eq!(runs, 1);
    r.db.close();
}

/// A starter each of whose starts returns only once `arrivals` starts are under way at once,
/// and that fails the start of `refused`.
struct StartsTogether {
    arrivals: tokio::sync::Barrier,
    refused: OrderId,
}

impl order_domain::ports::WorkflowStarter for StartsTogether {
    async fn start(
        &self,
        order_id: OrderId,
        _input: Value,
    ) -> Result<order_domain::ports::StartOutcome, order_domain::ports::PortError> {
        self.arrivals.wait().await;
        if order_id == self.refused {
            return Err(order_domain::ports::PortError("throttled".into()));
        }
        Ok(order_domain::ports::StartOutcome::Started)
    }
}

/// A batch's executions are started together, not one after another: the starter lets no start
/// finish before every well-formed message's start has begun, so a handler that awaited each in
/// turn would wait on the first for ever (the timeout turns that into a failure). The failures
/// are still reported per message, in the batch's order.
#[tokio::test]
async fn an_sqs_batch_starts_its_executions_together_and_reports_each_failure() {
    let orders: Vec<OrderId> = (0..5).map(|_| OrderId::generate()).collect();
    let body = |o: &OrderId| json!({ "orderId": o.to_string() }).to_string();
    let records: Vec<Value> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let body = if i == 1 {
                "not json".to_owned()
            } else {
                body(o)
            };
            json!({ "messageId": format!("m{i}"), "body": body })
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let starter = StartsTogether {
        // The four well-formed messages (the malformed one never reaches the starter).
        arrivals: tokio::sync::Barrier::new(4),
        refused: orders[3],
    };
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        order_lambda::start::handle_batch(&starter, event),
    )
    .await
    .expect("the starts waited on each other: they were not started together");
    assert_eq!(response.failed_ids(), ["m1", "m3"]);
}

/// The task functions take the state machine's payload and fail with the errorType its Retry
/// and Catch match on.
#[tokio::test]
async fn task_functions_answer_payloads_and_fail_with_typed_errors() {
    let rig = rig().await;
    let gateway = SimulatedGateway;
    let payload: Value =
        serde_json::from_str(&fixture("services/validate-order/fixtures/task-input.json")).unwrap();
    let not_placed = run_task(
        TaskFunction::ValidateOrder,
        &rig.store,
        &gateway,
        &NoKeys,
        payload.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(not_placed.error_type, "OrderNotReady");
    let bad = run_task(
        TaskFunction::ValidateOrder,
        &rig.store,
        &gateway,
        &NoKeys,
        json!({ "order": 1 }),
    )
    .await
    .unwrap_err();
    assert_eq!(bad.error_type, "InvalidTaskInput");

    place(&rig.store, "MUG").await;
    let validated = run_task(
        TaskFunction::ValidateOrder,
        &rig.store,
        &gateway,
        &NoKeys,
        payload.clone(),
    )
    .await
    .unwrap();
    assert_eq!(validated, json!({ "status": "VALIDATED", "total": 1800 }));
    let paid = run_task(
        TaskFunction::ProcessPayment,
        &rig.store,
        &gateway,
        &NoKeys,
        payload.clone(),
    )
    .await
    .unwrap();
    assert_eq!(paid["paymentId"], format!("ch_{ORDER}"));
    let reserved = run_task(
        TaskFunction::UpdateInventory,
        &rig.store,
        &gateway,
        &NoKeys,
        payload.clone(),
    )
    .await
    .unwrap();
    assert_eq!(reserved["status"], "COMPLETED");
    rig.db.close();
}

/// The refund workflow's tasks take its payload (`orderId`, `refundId`): ProcessRefund gives the
/// refund back and answers ISSUED, again the same when run twice; RefundFailed, after it, finds
/// the refund issued and fails nothing; a payload without the refund id is invalid input.
#[tokio::test]
async fn refund_task_functions_answer_payloads_and_fail_with_typed_errors() {
    let rig = rig().await;
    let gateway = SimulatedGateway;
    let payload: Value =
        serde_json::from_str(&fixture("services/process-refund/fixtures/task-input.json")).unwrap();
    let unknown = run_task(
        TaskFunction::ProcessRefund,
        &rig.store,
        &gateway,
        &NoKeys,
        payload.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.error_type, "OrderNotReady");
    let order = json!({ "orderId": ORDER, "attempt": 0 });
    let bad = run_task(
        TaskFunction::RefundFailed,
        &rig.store,
        &gateway,
        &NoKeys,
        order.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(bad.error_type, "InvalidTaskInput");

    place(&rig.store, "MUG").await;
    for f in [
        TaskFunction::ValidateOrder,
        TaskFunction::ProcessPayment,
        TaskFunction::UpdateInventory,
    ] {
        run_task(f, &rig.store, &gateway, &NoKeys, order.clone())
            .await
            .unwrap();
    }
    let id = OrderId::parse(ORDER).unwrap();
    let (_, refund) = order_app::after::request_refund(
        &rig.store,
        id,
        order_domain::order::RefundRequest {
            idempotency_key: "return-1".into(),
            items: vec![order_domain::events::OrderLine {
                product_id: order_domain::ProductId::parse("MUG").unwrap(),
                quantity: order_domain::Quantity::new(1).unwrap(),
            }],
            restock: true,
            reason: "damaged".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(refund.request.refund_id, payload["refundId"]);
    for _ in 0..2 {
        let issued = run_task(
            TaskFunction::ProcessRefund,
            &rig.store,
            &gateway,
            &NoKeys,
            payload.clone(),
        )
        .await
        .unwrap();
        assert_eq!(issued["status"], "ISSUED");
        assert_eq!(issued["amount"], 900);
    }
    let mut caught = payload.clone();
    caught["error"] = json!({ "Error": "PaymentGatewayUnavailable", "Cause": "down" });
    let settled = run_task(
        TaskFunction::RefundFailed,
        &rig.store,
        &gateway,
        &NoKeys,
        caught,
    )
    .await
    .unwrap();
    assert_eq!(
        settled["status"], "ISSUED",
        "issued after all: nothing to fail"
    );
    rig.db.close();
}

/// An order for a product that does not exist is rejected with errorType OrderRejected.
#[tokio::test]
async fn validating_an_unknown_product_fails_with_order_rejected() {
    let r = rig().await;
    place(&r.store, "GHOST").await;
    let payload: Value =
        serde_json::from_str(&fixture("services/validate-order/fixtures/task-input.json")).unwrap();
    let e = run_task(
        TaskFunction::ValidateOrder,
        &r.store,
        &SimulatedGateway,
        &NoKeys,
        payload,
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type, "OrderRejected");
    assert!(e.error_message.contains("UNKNOWN_PRODUCT"));
    r.db.close();
}

/// OrderConfirmationRule's EventBridge event sends one confirmation, named by the log's event id,
/// however often it is delivered.
#[tokio::test]
async fn an_eventbridge_order_completed_sends_one_confirmation() {
    let r = rig().await;
    place(&r.store, "MUG").await;
    let payload = json!({ "orderId": ORDER });
    for f in [
        TaskFunction::ValidateOrder,
        TaskFunction::ProcessPayment,
        TaskFunction::UpdateInventory,
    ] {
        run_task(f, &r.store, &SimulatedGateway, &NoKeys, payload.clone())
            .await
            .unwrap();
    }
    let event: EventBridgeEvent<Value> = serde_json::from_str(&fixture(
        "services/order-success-handler/fixtures/order-completed.json",
    ))
    .unwrap();
    // The order was placed with its personal data in clear (an old log's form): no key needed.
    for event in [event.clone(), event] {
        let sent = order_lambda::confirm::handle_event(&r.store, &r.notifier, &NoKeys, event)
            .await
            .unwrap();
        assert_eq!(sent, Confirmation::Sent);
    }
    let mails =
        order_embedded::outbox::read_mbox(&r.dir.path().join("outbox/OrderAlertsTopic.mbox"));
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("Message-ID: <01JDQ5Z9AAAAAAAAAAAAAAAAAA@orders.local>"));
    assert!(mail.contains("To: jane@example.com") && mail.contains("Total: 18.00"));
    r.db.close();
}

/// OrderFailureRule's EventBridge event sends one failure notice to the error topic's
/// subscribers, named by the log's event id, however often it is delivered; a completed order's
/// event sends none.
#[tokio::test]
async fn an_eventbridge_order_failed_sends_one_failure_notice() {
    let r = rig().await;
    let id = OrderId::parse(ORDER).unwrap();
    order_testkit::events::place_as(&r.store, id, &[("MUG", 1)], "tok_decline").await;
    order_testkit::tasks::drive(&r.store, id).await;
    let event: EventBridgeEvent<Value> = serde_json::from_str(&fixture(
        "services/order-failure-handler/fixtures/order-failed.json",
    ))
    .unwrap();
    for event in [event.clone(), event.clone()] {
        let sent = order_lambda::confirm::handle_failure_event(&r.store, &r.notifier, event)
            .await
            .unwrap();
        assert_eq!(sent, FailureNotice::Sent);
    }
    let mails = order_embedded::outbox::read_mbox(
        &r.dir.path().join("outbox/OrderErrorNotificationTopic.mbox"),
    );
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("Message-ID: <01JDQ5Z9BBBBBBBBBBBBBBBBBB@orders.local>"));
    assert!(mail.contains("PAYMENT_DECLINED"), "{mail}");
    assert!(
        !mail.contains("jane@example.com"),
        "no personal data in the notice"
    );

    // The same event for an order that has not failed: nothing to notify.
    let other = OrderId::generate();
    order_testkit::events::place_as(&r.store, other, &[("MUG", 1)], "tok_visa").await;
    let mut completed = event;
    completed.detail["orderId"] = json!(other.to_string());
    completed.detail["eventId"] = json!("01JDQ5Z9CCCCCCCCCCCCCCCCCC");
    let answer = order_lambda::confirm::handle_failure_event(&r.store, &r.notifier, completed)
        .await
        .unwrap();
    assert_eq!(answer, FailureNotice::NotFailed);
    r.db.close();
}

/// Records the documents a custom resource sends.
#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<(String, Value)>>>);

impl ResponseSender for Capture {
    async fn send(&self, url: &str, body: String) -> Result<(), String> {
        self.0.lock().unwrap().push((
            url.to_owned(),
            serde_json::from_str(&body).map_err(|e| e.to_string())?,
        ));
        Ok(())
    }
}

/// SeedInventory's Create seeds the products once and answers SUCCESS on the ResponseURL; a
/// repeated Create adds nothing; Delete answers SUCCESS and leaves the data alone.
#[tokio::test]
async fn the_seed_custom_resource_seeds_idempotently_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let seed: Vec<SeedProduct> = serde_json::from_str(DEFAULT_SEED).unwrap();
    let capture = Capture::default();
    let create: CloudFormationCustomResourceRequest =
        serde_json::from_str(&fixture("services/seed-inventory/fixtures/create.json")).unwrap();
    assert_eq!(
        order_lambda::seed::handle(&store, &capture, create.clone(), &seed)
            .await
            .unwrap(),
        "SUCCESS"
    );
    assert_eq!(
        order_lambda::seed::handle(&store, &capture, create, &seed)
            .await
            .unwrap(),
        "SUCCESS"
    );
    let delete: CloudFormationCustomResourceRequest =
        serde_json::from_str(&fixture("services/seed-inventory/fixtures/delete.json")).unwrap();
    assert_eq!(
        order_lambda::seed::handle(&store, &capture, delete, &seed)
            .await
            .unwrap(),
        "SUCCESS"
    );
    let sent = capture.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 3);
    assert!(sent[0].0.contains("X-Amz-Signature=abc"));
    assert_eq!(sent[0].1["Data"]["Added"], seed.len().to_string());
    assert_eq!(sent[1].1["Data"]["Added"], "0");
    assert_eq!(
        sent[2].1["PhysicalResourceId"],
        order_lambda::seed::PHYSICAL_ID
    );
    assert_eq!(sent[2].1["LogicalResourceId"], "SeedInventory");
    assert_eq!(
        store.count().await.unwrap(),
        seed.len() as u64,
        "one ProductAdded per product, nothing deleted"
    );
    db.close();
}
