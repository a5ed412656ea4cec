//! `orders dlq --backend aws` beyond OrdersQueue, on the emulator: an order completes, but its
//! confirmation's delivery failed and EventBridge dead-lettered the OrderCompleted event in
//! OrderConfirmationDeadLetterQueue (made here as EventBridge makes it: the event is the body,
//! and no dedup record says the email went out). `dlq list --source rules` shows it with its
//! rule DLQ; `dlq redrive --redrive-via targets` runs OrderSuccessHandler's use case on it, and
//! the confirmation goes out on OrderAlertsTopic once; a second redrive of the id sends nothing.
//! The stream mapping's on-failure record and an undelivered email are redriven too.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use order_aws::dedup::dedup_key;
use order_domain::ports::Topic;
use order_testkit::notifier::{Delivery, SnsDeliveries};
use order_testkit::server::{
    CUSTOMER, Orders, Ran, bearer, get_json, post_order, token, wait_healthy, wait_terminal,
};
use order_testkit::support::Emulator;
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
    let deadline = Instant::now() + Duration::from_mins(1);
    while deliveries.count(Topic::OrderAlerts, id).await < n {
        assert!(Instant::now() < deadline, "no confirmation {id}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An order placed and completed by `orders serve --backend aws` on `env`'s resources: the
/// server (still running, so its emails go out), the order's id and its events.
async fn a_completed_order(env: &Emulator, dir: &Path) -> (Orders, String, Value) {
    let data = dir.join("data");
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }]"#,
    )
    .unwrap();
    let vars = env.resources.env_pairs();
    let serve_env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed,
        &dir.join("serve.log"),
        &["--backend", "aws"],
        &serve_env,
    );
    let client = bearer(reqwest::Client::builder(), &token(&data, CUSTOMER, false))
        .build()
        .unwrap();
    wait_healthy(&client, &server.base, Duration::from_mins(2)).await;
    let order = post_order(&client, &server.base, &[("MUG", 1)], "tok_visa").await;
    let done = wait_terminal(&client, &server.base, &order, Duration::from_mins(2)).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let events = get_json(&client, &server.url(&format!("/orders/{order}/events"))).await;
    (server, order, events)
}

/// `order`'s confirmation as SNS delivered it, waited for (up to a minute).
async fn confirmation_of(deliveries: &SnsDeliveries, order: &str) -> Delivery {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let found = deliveries.all().await.into_iter().find(|d| {
            d.topic == Topic::OrderAlerts && d.text.contains(&format!("{order} confirmed"))
        });
        if let Some(d) = found {
            return d;
        }
        assert!(Instant::now() < deadline, "no confirmation for {order}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A new queue named `name` on the emulator holding `body`; its URL.
async fn queue_holding(env: &Emulator, name: String, body: &Value) -> String {
    let sqs = env.clients.sqs();
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body(body.to_string())
        .send()
        .await
        .unwrap();
    url
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
    let r = &env.resources;
    let deliveries = SnsDeliveries::subscribe(&env).await;

    // A completed order, and its OrderCompleted event's id (the confirmation's dedup id).
    let (server, order, events) = a_completed_order(&env, dir.path()).await;
    let completed = events["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["type"] == "OrderCompleted").cloned())
        .unwrap_or_else(|| panic!("no OrderCompleted: {events}"));
    let event_id = completed["eventId"].as_str().unwrap().to_owned();
    wait_confirmations(&deliveries, &event_id, 1).await;
    drop(server);

    // As if that delivery had failed: no dedup record, the event in the rule's DLQ.
    env.clients
        .dynamodb()
        .delete_item()
        .table_name(&r.notification_dedup_table)
        .key(
            "dedupKey",
            aws_sdk_dynamodb::types::AttributeValue::S(dedup_key(Topic::OrderAlerts, &event_id)),
        )
        .send()
        .await
        .unwrap();
    let event = json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "OrderCompleted", "source": "order-pipeline",
        "account": "123456789012", "time": "2026-12-01T20:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": { "orderId": order, "status": "COMPLETED", "total": 900, "eventId": event_id },
    });
    let dlq_url = queue_holding(&env, format!("{}confirm-dlq", r.events_table), &event).await;
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

/// The stream's ARN, the shard and the sequence numbers of `order`'s records in the events
/// table's stream.
async fn stream_range(env: &Emulator, order: &str) -> (String, String, Vec<String>) {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let table = env
        .clients
        .dynamodb()
        .describe_table()
        .table_name(&env.resources.events_table)
        .send()
        .await
        .unwrap();
    let arn = table
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("a stream");
    let streams = env.clients.streams();
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default();
    let mut found = Vec::new();
    for shard in shards {
        let id = shard.shard_id.unwrap_or_default();
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(it) = iterator.take() {
            let page = streams
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .unwrap();
            let records = page.records.unwrap_or_default();
            if records.is_empty() {
                break;
            }
            for r in records {
                let change = r.dynamodb.unwrap();
                let event = order_aws::codec::decode(change.new_image.unwrap_or_default());
                if event.is_ok_and(|e| {
                    e.stream_id
                        .order_id()
                        .is_some_and(|o| o.to_string() == order)
                }) {
                    found.push((id.clone(), change.sequence_number.unwrap()));
                }
            }
            iterator = page.next_shard_iterator;
        }
    }
    let shard = found
        .first()
        .map(|f| f.0.clone())
        .expect("the order's records");
    assert!(found.iter().all(|f| f.0 == shard), "one shard: {found:?}");
    (arn, shard, found.into_iter().map(|f| f.1).collect())
}

/// The other two sources: a stream range the event projector gave up on (the order's status
/// row lost, as if never projected) is read again and projected, and an email SNS could not
/// deliver is published to its topic again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_stream_range_and_email_are_redriven() {
    let Some(env) =
        order_testkit::support::emulator("a_dead_lettered_stream_range_and_email_are_redriven")
            .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let r = &env.resources;
    let deliveries = SnsDeliveries::subscribe(&env).await;
    let (server, order, _) = a_completed_order(&env, dir.path()).await;
    // The server is stopped only once its confirmation is out: stopped while publishing it, it
    // would leave the email's dedup claim in progress, and the redrive below (which forwards the
    // same OrderCompleted again) would find the claim held until its lease ran out.
    confirmation_of(&deliveries, &order).await;
    drop(server);

    let (arn, shard, sequence_numbers) = stream_range(&env, &order).await;
    let status_key = || aws_sdk_dynamodb::types::AttributeValue::S(order.clone());
    let dynamodb = env.clients.dynamodb();
    dynamodb
        .delete_item()
        .table_name(&r.order_status_table)
        .key("orderId", status_key())
        .send()
        .await
        .unwrap();
    let on_failure = json!({
        "requestContext": { "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11 },
        "version": "1.0", "timestamp": "2026-12-01T20:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard, "startSequenceNumber": sequence_numbers[0],
            "endSequenceNumber": sequence_numbers[sequence_numbers.len() - 1],
            "batchSize": sequence_numbers.len(),
            "streamArn": arn,
        },
    });
    let streams_dlq =
        queue_holding(&env, format!("{}stream-dlq", r.events_table), &on_failure).await;
    let undelivered = json!({
        "Type": "Notification", "MessageId": "m-1", "TopicArn": r.order_errors_topic_arn,
        "Subject": "Order failed", "Message": "an order failed",
        "MessageAttributes": { "dedupId": { "Type": "String", "Value": "undelivered-1" } },
    });
    let notification_dlq =
        queue_holding(&env, format!("{}notify-dlq", r.events_table), &undelivered).await;
    let mut vars = r.env_pairs();
    vars.push(("STREAM_PROCESSING_DLQ_URL", streams_dlq));
    vars.push(("NOTIFICATION_DLQ_URL", notification_dlq));
    let run = |args: &[&str]| -> Ran {
        Command::new(env!("CARGO_BIN_EXE_orders"))
            .args(["dlq", "--backend", "aws", "--redrive-via", "targets"])
            .args(args)
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
            .into()
    };
    for source in ["streams", "notifications"] {
        let list = run(&["list", "--json", "--source", source]);
        assert_eq!(list.code, 0, "{list}");
        let all: Value =
            serde_json::from_str(&list.stdout).unwrap_or_else(|e| panic!("{e}: {list}"));
        assert_eq!(all.as_array().map(Vec::len), Some(1), "{source}: {list}");
    }
    let redriven = run(&["redrive", "--all"]);
    assert_eq!(redriven.code, 0, "{redriven}");
    assert!(redriven.stdout.contains("2 of 2 redriven"), "{redriven}");

    let row = dynamodb
        .get_item()
        .table_name(&r.order_status_table)
        .key("orderId", status_key())
        .send()
        .await
        .unwrap();
    let status = row
        .item
        .and_then(|i| i.get("status").and_then(|s| s.as_s().ok()).cloned());
    assert_eq!(
        status.as_deref(),
        Some("COMPLETED"),
        "the status row projected again"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while deliveries.count(Topic::OrderErrors, "undelivered-1").await < 1 {
        assert!(
            Instant::now() < deadline,
            "the email was not published again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let empty = run(&["list"]);
    assert!(empty.stdout.contains("no dead letters"), "{empty}");
}

/// A customer's confirmation that SNS could not deliver, dead-lettered as SNS keeps it (the
/// envelope, with the `recipients`, `customerId` and `keyId` attributes), is listed with the
/// address masked. Once the customer is forgotten (`orders forget --backend aws`), a redrive
/// deletes it without publishing it: the forgotten customer's address is neither emailed again
/// nor kept in the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_email_of_a_forgotten_customer_is_deleted_unsent() {
    let Some(env) = order_testkit::support::emulator(
        "a_dead_lettered_email_of_a_forgotten_customer_is_deleted_unsent",
    )
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let r = &env.resources;
    let deliveries = SnsDeliveries::subscribe(&env).await;
    let (server, order, _) = a_completed_order(&env, dir.path()).await;
    let confirmation = confirmation_of(&deliveries, &order).await;
    drop(server);
    let envelope: Value = serde_json::from_str(&confirmation.envelope).unwrap();
    let attributes = &envelope["MessageAttributes"];
    assert_eq!(attributes["customerId"]["Value"], CUSTOMER, "{envelope}");
    assert!(attributes["keyId"]["Value"].is_string(), "{envelope}");
    let recipients: Vec<String> =
        serde_json::from_str(attributes["recipients"]["Value"].as_str().unwrap()).unwrap();
    assert_eq!(
        recipients.len(),
        1,
        "the SNS message carries the address: {envelope}"
    );

    let notification_dlq =
        queue_holding(&env, format!("{}notify-dlq", r.events_table), &envelope).await;
    let mut vars = r.env_pairs();
    vars.push(("NOTIFICATION_DLQ_URL", notification_dlq));
    let run = |args: &[&str]| -> Ran {
        Command::new(env!("CARGO_BIN_EXE_orders"))
            .args(["dlq", "--backend", "aws", "--source", "notifications"])
            .args(args)
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
            .into()
    };
    let listed = run(&["list"]);
    assert_eq!(listed.code, 0, "{listed}");
    assert!(!listed.stdout.contains(&recipients[0]), "{listed}");
    assert!(
        listed
            .stdout
            .contains(&order_domain::personal::mask_email(&recipients[0])),
        "masked: {listed}"
    );

    let forgotten = Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["forget", "--backend", "aws", "--customer", CUSTOMER])
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(forgotten.status.success(), "{forgotten:?}");

    let before = deliveries
        .count(Topic::OrderAlerts, &confirmation.dedup_id)
        .await;
    let redriven = run(&["redrive", "--all", "--json"]);
    assert_eq!(redriven.code, 0, "{redriven}");
    let outcome: Value = serde_json::from_str(&redriven.stdout).unwrap();
    assert_eq!(outcome[0]["outcome"], "erased", "{redriven}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        deliveries
            .count(Topic::OrderAlerts, &confirmation.dedup_id)
            .await,
        before,
        "nothing published again"
    );
    let empty = run(&["list"]);
    assert!(empty.stdout.contains("no dead letters"), "{empty}");
}
