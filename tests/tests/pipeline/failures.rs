use order_testkit::events::seed_product as product;
use order_testkit::server::order_body;
use order_tests::{default_seed, spawn_pipeline};
use reqwest::StatusCode;

/// A declined card ends the order FAILED with PAYMENT_DECLINED, takes no stock, notifies the
/// error topic once, and raises no critical alert (a decline is a business outcome).
#[tokio::test]
async fn a_declined_card_fails_the_order_and_notifies_the_error_topic() {
    let app = spawn_pipeline(default_seed()).await;
    let placed = app
        .post_order(&order_body(&[("MUG", 1)], "tok_decline"))
        .await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let done = app.wait_terminal(&id).await;
    assert_eq!(done["status"], "FAILED");
    assert_eq!(done["reason"], "PAYMENT_DECLINED");
    assert_eq!(
        app.event_types(&id).await,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentDeclined",
            "OrderFailed"
        ]
    );
    assert_eq!(app.available("MUG").await, 1000);
    let errors = app.wait_emails("OrderErrorNotificationTopic", 1).await;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("PAYMENT_DECLINED"));
    assert!(
        !errors[0].contains("jane.doe"),
        "no personal data in the error notice"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(app.emails("CriticalAlertsTopic").is_empty());
    app.shutdown().await;
}

/// More than the validated stock is rejected at validation: FAILED with REJECTED.
#[tokio::test]
async fn an_order_for_more_than_the_stock_is_rejected() {
    let app = spawn_pipeline(default_seed()).await;
    let placed = app
        .post_order(&order_body(&[("SCARCE", 4)], "tok_visa"))
        .await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let done = app.wait_terminal(&id).await;
    assert_eq!(done["status"], "FAILED");
    assert_eq!(done["reason"], "REJECTED");
    assert_eq!(
        app.event_types(&id).await,
        ["OrderPlaced", "OrderRejected", "OrderFailed"]
    );
    assert_eq!(app.available("SCARCE").await, 3);
    app.shutdown().await;
}

/// An unknown product is refused at the door: 422 naming the line, nothing appended.
#[tokio::test]
async fn an_unknown_product_is_refused_with_nothing_appended() {
    let app = spawn_pipeline(default_seed()).await;
    let before = app.event_count().await;
    let a = app
        .post_order(&order_body(&[("MUG", 1), ("NO-SUCH-THING", 1)], "tok_visa"))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["error"]["code"], "UNKNOWN_PRODUCT");
    assert_eq!(a.body["error"]["field"], "items[1].productId");
    assert_eq!(app.event_count().await, before);
    app.shutdown().await;
}

/// When the gateway stays down, retries run out: the order fails with PROCESSING_ERROR, the
/// execution fails, and the workflow-failure alarm reaches the critical-alerts topic.
#[tokio::test]
async fn a_gateway_that_stays_down_fails_the_execution_and_raises_the_alarm() {
    let app = spawn_pipeline(vec![product("MUG", 900, 10)]).await;
    let placed = app
        .post_order(&order_body(&[("MUG", 1)], "tok_gateway_down"))
        .await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let done = app.wait_terminal(&id).await;
    assert_eq!(done["status"], "FAILED");
    assert_eq!(done["reason"], "PROCESSING_ERROR");
    let alerts = app.wait_emails("CriticalAlertsTopic", 1).await;
    assert_eq!(alerts.len(), 1, "one alarm for the failed execution");
    assert!(alerts[0].contains("OrderProcessingWorkflowFailureAlarm"));
    app.shutdown().await;
}
