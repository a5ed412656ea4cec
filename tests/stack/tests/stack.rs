//! The deployed stack on one machine: `template.yaml` on the emulator, the release Lambda
//! binaries behind loopback Runtime APIs, every event handed over as AWS would (see the
//! crate's docs). An order goes from POST to COMPLETED with one "order received" and one
//! confirmation email, a declined one to FAILED with one "order received" and one failure email,
//! and the completed one is refunded in part (a return, restocked, one refund email) by
//! RefundProcessingStateMachine, through the binaries alone; its customer's GET /orders lists
//! it with that status (the template's keys-only customer index, then the row read back).
//!
//! Needs the emulator (`AWS_ENDPOINT_URL`, shared/aws/emulator/moto_serialized.py) and the
//! release binaries (`cargo build --release --bins`, or `ORDER_STACK_BIN_DIR`); scripts/test.sh
//! provides both. Without them it is skipped, except under `CI=true`, where it fails.

#![allow(clippy::float_cmp)] // the metrics compared are small counts, exact in an f64

use std::path::PathBuf;
use std::time::Duration;

use order_stack::api::ApiRequest;
use order_stack::harness::workspace_root;
use order_stack::{Harness, HarnessError};
use order_workflow::Transition;
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_mins(2);

async fn harness(test: &str) -> Option<Harness> {
    order_testkit::support::endpoint(test)?;
    let root = workspace_root();
    let bin_dir = std::env::var_os("ORDER_STACK_BIN_DIR")
        .map_or_else(|| root.join("target/release"), PathBuf::from);
    // Retry delays at a hundredth: the interpreter still runs every retry.
    match Harness::start(&root, &bin_dir, 0.01).await {
        Ok(h) => Some(h),
        Err(e @ HarnessError::MissingBinaries { .. })
            if std::env::var("CI").as_deref() != Ok("true") =>
        {
            eprintln!("{test}: skipped: {e}");
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

fn order(product: &str, quantity: u32, token: &str) -> Value {
    json!({ "items": [{ "productId": product, "quantity": quantity }], "paymentToken": token })
}

async fn place(h: &Harness, customer: &str, body: &Value, key: &str) -> String {
    let response = h
        .api(
            &ApiRequest::new("POST", "/orders")
                .json(body)
                .header("Idempotency-Key", key)
                .signed_in(customer, &format!("{customer}@example.com")),
        )
        .await;
    assert_eq!(response.status, 202, "POST /orders: {}", response.body);
    response.json()["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned()
}

async fn status(h: &Harness, customer: &str, order_id: &str) -> Value {
    let response = h
        .api(
            &ApiRequest::new("GET", &format!("/orders/{order_id}"))
                .signed_in(customer, &format!("{customer}@example.com")),
        )
        .await;
    assert_eq!(
        response.status, 200,
        "GET /orders/{order_id}: {}",
        response.body
    );
    response.json()
}

/// The customer's orders as GET /orders lists them (one page): (order id, status), newest
/// first. On the deployed stack this reads the template's customer index by the name the code
/// asks for, then the rows back from OrderStatusTable.
async fn listed(h: &Harness, customer: &str) -> Vec<(String, String)> {
    let response = h
        .api(
            &ApiRequest::new("GET", "/orders")
                .signed_in(customer, &format!("{customer}@example.com")),
        )
        .await;
    assert_eq!(response.status, 200, "GET /orders: {}", response.body);
    let page = response.json();
    assert_eq!(page["next"], Value::Null, "one page: {page}");
    page["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| {
            let text = |name: &str| o[name].as_str().unwrap_or_default().to_owned();
            (text("orderId"), text("status"))
        })
        .collect()
}

/// The order's event types, as its customer sees them.
async fn event_types(h: &Harness, customer: &str, order_id: &str) -> Vec<String> {
    let response = h
        .api(
            &ApiRequest::new("GET", &format!("/orders/{order_id}/events"))
                .signed_in(customer, &format!("{customer}@example.com")),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asks for the return of `quantity` of `product` of order `order_id`, as the API's refund route
/// records it (`order_app::after::request_refund` on the stack's events table): the refund id.
async fn request_return(h: &Harness, order_id: &str, product: &str, quantity: i64) -> String {
    let table = &h.stack.resources["OrderEventsTable"].physical;
    let store = order_aws::DynamoEventStore::new(
        order_aws::AwsClients::load()
            .await
            .expect("the SDK configuration")
            .dynamodb()
            .clone(),
        table,
    );
    let request = order_domain::order::RefundRequest {
        idempotency_key: format!("return-{order_id}"),
        items: vec![order_domain::events::OrderLine {
            product_id: order_domain::ProductId::parse(product).expect("a product id"),
            quantity: order_domain::Quantity::new(quantity).expect("a quantity"),
        }],
        restock: true,
        reason: "damaged in transit".into(),
    };
    let id = order_domain::OrderId::parse(order_id).expect("an order id");
    let (_, refund) = order_app::after::request_refund(&store, id, request)
        .await
        .expect("the refund is recorded");
    refund.request.refund_id
}

async fn available(h: &Harness, product: &str) -> i64 {
    let response = h
        .api(&ApiRequest::new("GET", &format!("/inventory/{product}")))
        .await;
    assert_eq!(
        response.status, 200,
        "GET /inventory/{product}: {}",
        response.body
    );
    response.json()["available"].as_i64().expect("available")
}

/// A return of one of the two keyboards of `paid`: RefundRequested goes from the events table's
/// stream through the event projector to EventBridge, whose RefundRequestedRule starts
/// RefundProcessingStateMachine; its ProcessRefund function (retried by the definition while the
/// gateway refuses) appends RefundIssued with the keyboard's StockAdded.
async fn assert_a_return_is_refunded_by_the_refund_workflow(h: &Harness, paid: &str, before: i64) {
    let refund_id = request_return(h, paid, "KEYBOARD", 1).await;
    h.settle(SETTLE).await.expect("the refund settles");
    let types = event_types(h, "c-stack-1", paid).await;
    assert_eq!(
        types[types.len() - 2..],
        ["RefundRequested", "RefundIssued"],
        "{types:?}"
    );
    assert_eq!(
        available(h, "KEYBOARD").await,
        before - 1,
        "the returned keyboard is back"
    );
    let refunded = status(h, "c-stack-1", paid).await;
    assert_eq!(refunded["status"], "PARTIALLY_REFUNDED", "{refunded}");
    assert_eq!(
        listed(h, "c-stack-1").await,
        [(paid.to_owned(), "PARTIALLY_REFUNDED".to_owned())],
        "GET /orders lists the customer's order with its latest status"
    );
    let outcomes = h.executions.outcomes.lock().expect("outcomes").clone();
    let run = outcomes
        .values()
        .find(|o| o.input == json!({ "orderId": paid, "refundId": refund_id }))
        .unwrap_or_else(|| panic!("no refund execution for {refund_id}: {outcomes:?}"));
    assert!(
        matches!(run.end, Transition::Succeeded { .. }),
        "the refund execution succeeded: {:?}",
        run.end
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_completes_and_a_declined_one_fails_through_the_release_binaries() {
    let Some(h) = harness("stack").await else {
        return;
    };
    // The deploy's custom resource seeded the sample inventory; its events reach the
    // inventory view through the stream mapping.
    h.settle(SETTLE).await.expect("the deployed stack settles");
    let before = available(&h, "KEYBOARD").await;
    assert!(before > 0, "the seed custom resource stocked KEYBOARD");

    let unsigned = h
        .api(&ApiRequest::new("POST", "/orders").json(&order("KEYBOARD", 1, "tok_visa")))
        .await;
    assert_eq!(
        unsigned.status, 401,
        "no token: API Gateway's authorizer refuses"
    );

    // Captured; its refunds are refused twice before the gateway makes them.
    let paid = place(
        &h,
        "c-stack-1",
        &order("KEYBOARD", 2, "tok_refund_error"),
        "stack-paid",
    )
    .await;
    let declined = place(
        &h,
        "c-stack-2",
        &order("KEYBOARD", 1, "tok_decline"),
        "stack-declined",
    )
    .await;
    h.settle(SETTLE).await.expect("both orders finish");

    let done = status(&h, "c-stack-1", &paid).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let failed = status(&h, "c-stack-2", &declined).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["reason"], "PAYMENT_DECLINED", "{failed}");
    assert_eq!(
        available(&h, "KEYBOARD").await,
        before - 2,
        "only the paid order took stock"
    );

    let outcomes = h.executions.outcomes.lock().expect("outcomes").clone();
    for id in [&paid, &declined] {
        let run = outcomes
            .values()
            .find(|o| o.input["orderId"] == json!(id))
            .unwrap_or_else(|| panic!("no execution for {id}: {outcomes:?}"));
        assert!(
            matches!(run.end, Transition::Succeeded { .. }),
            "{id}: a business outcome ends the execution in a Succeed state: {:?}",
            run.end
        );
    }

    assert_a_return_is_refunded_by_the_refund_workflow(&h, &paid, before).await;

    // (received, confirmed, refunded) on OrderAlertsTopic for the paid order, (received,
    // anything else) there for the declined one, then the error topic's emails of each.
    let emails = |h: &Harness| {
        let alerts = |text: &str| h.mail_to("OrderAlertsTopic", text).len();
        let errors = |text: &str| h.mail_to("OrderErrorNotificationTopic", text).len();
        let received = |id: &str| alerts(&format!("Order {id} received"));
        (
            (
                received(&paid),
                alerts(&format!("Order {paid} confirmed")),
                alerts(&format!("Refund for order {paid}")),
            ),
            (received(&declined), alerts(&declined) - received(&declined)),
            (errors(&declined), errors(&paid)),
        )
    };
    let once = ((1, 1, 1), (1, 0), (1, 0));
    assert_eq!(
        emails(&h),
        once,
        "an \"order received\" for each, one confirmation and one refund email for the paid \
         order, one failure email for the declined one: {:?}",
        h.mail.lock().expect("mail")
    );

    // The schedules fire again (the sweeper, once there is one): nothing changes.
    h.fire_schedules(true).await;
    h.settle(SETTLE).await.expect("the schedules' work settles");
    assert_eq!(emails(&h), once, "a schedule sends no second email");
    assert_eq!(
        status(&h, "c-stack-1", &paid).await["status"],
        "PARTIALLY_REFUNDED",
        "the sweeper leaves a refunded order as it is"
    );

    // EventBridge delivers at least once: every rule event (OrderCompleted to the success
    // handler, OrderFailed to the failure handler, each OrderPlaced and the RefundIssued to the
    // update handler, the RefundRequested to the refund state machine) delivered twice more
    // sends nothing more.
    let redelivered = h.redeliver_rule_events(2).await.expect("redelivery");
    assert!(
        redelivered >= 8,
        "both terminal events and both OrderPlaced redelivered: {redelivered}"
    );
    h.settle(SETTLE).await.expect("the redeliveries settle");
    assert_eq!(
        emails(&h),
        once,
        "a redelivered event sends no second email"
    );

    let failures = h.async_failures.lock().expect("failures").clone();
    assert!(
        failures.is_empty(),
        "asynchronous invocations failed: {failures:?}"
    );
    assert_the_emf_metrics_count_what_the_test_did(&h).await;
}

/// The functions' CloudWatch EMF lines (their stdout, in the harness's logs) parse as EMF,
/// name only series the dashboard plots, and count what the test did: two orders placed, one
/// completed, one failed for a declined payment, one refund, both timed, five emails sent
/// (received twice, confirmed, refunded, the failure notice) and the redelivered ones
/// deduplicated. A function flushes after it answered, so the last lines may come a moment
/// after the stack settled.
async fn assert_the_emf_metrics_count_what_the_test_did(h: &Harness) {
    use order_testkit::emf::{dashboard_series, lines_in, parse, total};
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = lines_in(&h.logs);
        let all_in = total(&lines, "EmailsSent") >= 5.0
            && total(&lines, "EmailsDeduplicated") > 0.0
            && total(&lines, "OrderLatency") >= 2.0;
        if all_in || std::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let template =
        std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    let plotted = dashboard_series(&template);
    for line in &lines {
        for (series, _) in parse(line) {
            assert!(
                plotted.contains(&series),
                "{series:?} is not on the dashboard"
            );
        }
    }
    let counted = |metric: &str| total(&lines, metric);
    assert_eq!(counted("OrdersPlaced"), 2.0, "{lines:#?}");
    assert_eq!(counted("OrdersCompleted"), 1.0, "{lines:#?}");
    assert_eq!(counted("OrdersFailed"), 1.0, "{lines:#?}");
    assert_eq!(counted("PaymentDeclines"), 1.0, "{lines:#?}");
    assert_eq!(counted("RefundsIssued"), 1.0, "{lines:#?}");
    assert_eq!(counted("OrderLatency"), 2.0, "{lines:#?}");
    assert_eq!(counted("EmailsSent"), 5.0, "{lines:#?}");
    assert!(counted("EmailsDeduplicated") > 0.0, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("\"ProjectionLag\"")),
        "the projector's lag: {lines:#?}"
    );
}
