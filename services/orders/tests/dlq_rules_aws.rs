//! `orders dlq --backend aws` beyond OrdersQueue, on the emulator: an order completes, but its
//! confirmation's delivery failed and EventBridge dead-lettered the OrderCompleted event in
//! OrderConfirmationDeadLetterQueue (made here as EventBridge makes it: the event is the body,
//! and no dedup record says the email went out). `dlq list --source rules` shows it with its
//! rule DLQ; `dlq redrive --redrive-via targets` runs OrderSuccessHandler's use case on it, and
//! the confirmation goes out on OrderAlertsTopic once; a second redrive of the id sends nothing.

use std::process::Command;
use std::time::{Duration, Instant};

use order_aws::dedup::dedup_key;
use order_domain::ports::Topic;
use order_testkit::notifier::SnsDeliveries;
use order_testkit::server::{
    Orders, Ran, bearer, get_json, post_order, token, wait_healthy, wait_terminal,
};
use serde_json::{Value, json};

fn dlq(args: &[&str], env: &[(&str, String)]) -> Ran {
    Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["dlq", "--backend", "aws", "--source", "rules"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "info")
        .output()
        .unwrap()
        .into()
}

/// Waits until `deliveries` has `n` confirmations with the dedup id `id`.
async fn wait_confirmations(deliveries: &SnsDeliveries, id: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while deliveries.count(Topic::OrderAlerts, id).await < n {
        assert!(Instant::now() < deadline, "no confirmation {id}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_confirmation_is_redriven_to_its_handler_and_sent_once() {
    let Some(env) = order_testkit::support::emulator(
        "a_dead_lettered_confirmation_is_redriven_to_its_handler_and_sent_once",
    )
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }]"#,
    )
    .unwrap();
    let r = &env.resources;
    let deliveries = SnsDeliveries::subscribe(&env).await;

    // A completed order, and its OrderCompleted event's id (the confirmation's dedup id).
    let serve_vars = r.env_pairs();
    let serve_env: Vec<(&str, &str)> = serve_vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed,
        &dir.path().join("serve.log"),
        &["--backend", "aws"],
        &serve_env,
    );
    let client = bearer(
        reqwest::Client::builder(),
        &token(&data, order_testkit::server::CUSTOMER, false),
    )
    .build()
    .unwrap();
    wait_healthy(&client, &server.base, Duration::from_mins(2)).await;
    let order = post_order(&client, &server.base, &[("MUG", 1)], "tok_visa").await;
    let done = wait_terminal(&client, &server.base, &order, Duration::from_mins(2)).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let events = get_json(&client, &server.url(&format!("/orders/{order}/events"))).await;
    let completed = events["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["type"] == "OrderCompleted").cloned())
        .unwrap_or_else(|| panic!("no OrderCompleted: {events}"));
    let event_id = completed["eventId"].as_str().unwrap().to_owned();
    wait_confirmations(&deliveries, &event_id, 1).await;
    drop(server);

    // As if that delivery had failed: no dedup record, the event in the rule's DLQ.
    env.clients
        .dynamodb
        .delete_item()
        .table_name(&r.notification_dedup_table)
        .key(
            "dedupKey",
            aws_sdk_dynamodb::types::AttributeValue::S(dedup_key(Topic::OrderAlerts, &event_id)),
        )
        .send()
        .await
        .unwrap();
    let sqs = &env.clients.sqs;
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{}confirm-dlq", r.events_table))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let event = json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "OrderCompleted", "source": "order-pipeline",
        "account": "123456789012", "time": "2026-12-01T20:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": { "orderId": order, "status": "COMPLETED", "total": 900, "eventId": event_id },
    });
    sqs.send_message()
        .queue_url(&dlq_url)
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
    let mut vars = r.env_pairs();
    vars.push(("ORDER_CONFIRMATION_DLQ_URL", dlq_url.clone()));

    let list = dlq(&["list", "--json"], &vars);
    assert_eq!(list.code, 0, "{list}");
    let all: Value = serde_json::from_str(&list.stdout).unwrap_or_else(|e| panic!("{e}: {list}"));
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(
        all[0]["queue"], "OrderConfirmationDeadLetterQueue",
        "{list}"
    );
    assert_eq!(all[0]["sourceQueue"], "bus (OrderCompleted)", "{list}");
    assert!(
        list.stderr.contains("ORDER_FAILURE_DLQ_URL is not set"),
        "{list}"
    );
    let id = all[0]["id"].as_str().unwrap().to_owned();

    let redriven = dlq(&["redrive", "--redrive-via", "targets", &id], &vars);
    assert_eq!(redriven.code, 0, "{redriven}");
    assert!(redriven.stdout.contains("1 of 1 redriven"), "{redriven}");
    assert!(redriven.stderr.contains("operator action"), "{redriven}");
    wait_confirmations(&deliveries, &event_id, 2).await;

    let again = dlq(
        &["redrive", "--json", "--redrive-via", "targets", &id],
        &vars,
    );
    assert_eq!(again.code, 0, "{again}");
    let outcome: Value =
        serde_json::from_str(&again.stdout).unwrap_or_else(|e| panic!("{e}: {again}"));
    assert_eq!(outcome[0]["outcome"], "not_dead_lettered", "{again}");
    let empty = dlq(&["list"], &vars);
    assert!(empty.stdout.contains("no dead letters"), "{empty}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        deliveries.count(Topic::OrderAlerts, &event_id).await,
        2,
        "the first delivery and the redriven one: nothing more"
    );
}
