use order_testkit::server::order_body;
use order_tests::{default_seed, spawn_pipeline};
use reqwest::StatusCode;

/// An order placed over HTTP passes validation, payment and inventory, shows its whole history,
/// takes its stock and sends the customer (and the ops address) an "order received" email and
/// one confirmation.
#[tokio::test]
async fn an_order_completes_with_its_history_stock_and_confirmation_email() {
    let app = spawn_pipeline(default_seed()).await;
    let placed = app
        .post_order(&order_body(&[("MUG", 2), ("TEE", 1)], "tok_visa"))
        .await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{}", placed.body);
    assert_eq!(placed.body["status"], "PLACED");
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(placed.headers["location"], format!("/orders/{id}").as_str());

    // Never 404 for an id just handed out, however far the projection lags.
    let right_away = app.get(&format!("/orders/{id}")).await;
    assert_eq!(right_away.status, StatusCode::OK, "{}", right_away.body);

    let done = app.wait_terminal(&id).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["total"], 2 * 900 + 2500);
    assert_eq!(
        app.event_types(&id).await,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentCaptured",
            "InventoryReserved",
            "OrderCompleted"
        ]
    );
    assert_eq!(app.available("MUG").await, 998);
    assert_eq!(app.available("TEE").await, 999);

    // "Order received" at once, then the confirmation.
    let emails = app.wait_emails("OrderAlertsTopic", 2).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    let subject = |s: &str| {
        let subject = format!("Subject: Order {id} {s}");
        emails
            .iter()
            .find(|e| e.contains(&subject))
            .unwrap_or_else(|| panic!("no email \"{subject}\": {emails:?}"))
    };
    let received = subject("received");
    assert!(received.contains("To: jane.doe@example.com"), "{received}");
    assert!(received.contains("2 x MUG") && received.contains("1 x TEE"));
    let confirmed = subject("confirmed");
    assert!(
        confirmed.contains("To: jane.doe@example.com"),
        "{confirmed}"
    );
    assert!(confirmed.contains("Cc: ops@example.com"));
    assert!(confirmed.contains("Total: 43.00"));
    app.shutdown().await;
}

/// `tok_error` fails twice at the gateway; the state machine's Retry absorbs it, and the card
/// is charged exactly once.
#[tokio::test]
async fn a_transient_gateway_error_is_retried_and_charged_once() {
    let app = spawn_pipeline(default_seed()).await;
    let placed = app
        .post_order(&order_body(&[("MUG", 1)], "tok_error"))
        .await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let done = app.wait_terminal(&id).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let types = app.event_types(&id).await;
    assert_eq!(types.iter().filter(|t| *t == "PaymentCaptured").count(), 1);
    app.shutdown().await;
}

/// The event history shows the customer's email masked, and every event links to the one before.
#[tokio::test]
async fn the_event_history_masks_the_email_and_chains_hashes() {
    let app = spawn_pipeline(default_seed()).await;
    let placed = app.post_order(&order_body(&[("MUG", 1)], "tok_visa")).await;
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    app.wait_terminal(&id).await;
    let events = app.get(&format!("/orders/{id}/events")).await.body["events"]
        .as_array()
        .cloned()
        .unwrap();
    assert_eq!(events[0]["data"]["email"], "j***@example.com");
    for pair in events.windows(2) {
        assert_eq!(pair[1]["prevHash"], pair[0]["hash"]);
        assert_eq!(pair[1]["correlationId"], id.as_str());
    }
    assert_eq!(
        app.get("/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV/events")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
    app.shutdown().await;
}
