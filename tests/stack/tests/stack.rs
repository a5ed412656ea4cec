//! The deployed stack on one machine: `template.yaml` on the emulator, the release Lambda
//! binaries behind loopback Runtime APIs, every event handed over as AWS would (see the
//! crate's docs). An order goes from POST to COMPLETED with one "order received" and one
//! confirmation email, a declined one to FAILED with one "order received" and one failure email,
//! through the binaries alone.
//!
//! Needs the emulator (`AWS_ENDPOINT_URL`, shared/aws/emulator/moto_serialized.py) and the
//! release binaries (`cargo build --release --bins`, or `ORDER_STACK_BIN_DIR`); scripts/test.sh
//! provides both. Without them it is skipped, except under `CI=true`, where it fails.

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

    let paid = place(
        &h,
        "c-stack-1",
        &order("KEYBOARD", 2, "tok_visa"),
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

    // (received, confirmed) on OrderAlertsTopic for the paid order, (received, anything else)
    // there for the declined one, then the error topic's emails of each.
    let emails = |h: &Harness| {
        let alerts = |text: &str| h.mail_to("OrderAlertsTopic", text).len();
        let errors = |text: &str| h.mail_to("OrderErrorNotificationTopic", text).len();
        let received = |id: &str| alerts(&format!("Order {id} received"));
        (
            (received(&paid), alerts(&format!("Order {paid} confirmed"))),
            (received(&declined), alerts(&declined) - received(&declined)),
            (errors(&declined), errors(&paid)),
        )
    };
    let once = ((1, 1), (1, 0), (1, 0));
    assert_eq!(
        emails(&h),
        once,
        "an \"order received\" for each, one confirmation for the paid order, one failure \
         email for the declined one: {:?}",
        h.mail.lock().expect("mail")
    );

    // The schedules fire again (the sweeper, once there is one): nothing changes.
    h.fire_schedules(true).await;
    h.settle(SETTLE).await.expect("the schedules' work settles");
    assert_eq!(emails(&h), once, "a schedule sends no second email");
    assert_eq!(status(&h, "c-stack-1", &paid).await["status"], "COMPLETED");

    // EventBridge delivers at least once: every rule event (OrderCompleted to the success
    // handler, OrderFailed to the failure handler, each OrderPlaced to the update handler)
    // delivered twice more sends nothing more.
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
}
