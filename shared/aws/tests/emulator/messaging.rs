//! SQS, Step Functions, SNS and EventBridge adapters. What every notifier must do (one delivery
//! per dedup id) is `order-testkit`'s notifier contract; the SNS cases here are this adapter's
//! own: SNS's limits on a message, and the dedup record's lease and release.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use order_aws::dedup::{DynamoDedup, dedup_key};
use order_aws::notifier::{
    CUSTOMER_ID_ATTRIBUTE, DEDUP_ID_ATTRIBUTE, KEY_ID_ATTRIBUTE, MAX_SUBJECT_CHARS,
    RECIPIENTS_ATTRIBUTE, TRACE_PARENT_ATTRIBUTE,
};
use order_aws::provision::ensure_state_machine;
use order_aws::{EventBridgeBus, SfnWorkflow, SnsNotifier, SqsQueue, TopicArns};
use order_domain::dedup::DedupRecord;
use order_domain::ports::{
    BusEvent, CustomerKeyRef, EventBus, Notification, Notifier, StartOutcome, Topic,
    WorkflowStarter,
};
use order_domain::{Email, OrderId, Timestamp, TraceParent};
use serde_json::{Value, json};

use order_testkit::emulator_or_skip;
use order_testkit::support::Emulator;

fn queue(env: &Emulator) -> SqsQueue {
    SqsQueue::new(env.clients.sqs().clone(), &env.resources.orders_queue_url)
}

/// OrdersQueue is provisioned as the template declares it: it hides a message for six times a
/// 30 s consumer timeout (a shorter visibility makes duplicate work) and dead-letters it after 5
/// receives. (Receiving, redelivery and dead-lettering themselves are the queue contract's, in
/// tests/testkit.)
#[tokio::test]
async fn orders_queue_is_provisioned_with_the_templates_visibility_and_redrive() {
    let env = emulator_or_skip!("orders_queue_is_provisioned");
    let attrs = env
        .clients
        .sqs()
        .get_queue_attributes()
        .queue_url(&env.resources.orders_queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "180");
    let redrive: Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
}

const PASS_MACHINE: &str = r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#;

/// At-least-once delivery hands StartOrderProcessing the same order twice: the execution is
/// named by the order id, so one execution exists whatever the redelivery carries.
#[tokio::test]
async fn starting_one_order_twice_starts_one_execution() {
    let env = emulator_or_skip!("starting_one_order_twice");
    let name = format!("{}OrderProcessingStateMachine", env.resources.events_table);
    let arn = ensure_state_machine(
        &env.clients,
        &name,
        PASS_MACHINE,
        "arn:aws:iam::123456789012:role/order-processing",
    )
    .await
    .unwrap();
    assert_eq!(
        ensure_state_machine(
            &env.clients,
            &name,
            PASS_MACHINE,
            "arn:aws:iam::123456789012:role/x"
        )
        .await
        .unwrap(),
        arn
    );
    let wf = SfnWorkflow::new(env.clients.sfn().clone(), &arn);
    let id = OrderId::generate();
    let input = json!({ "orderId": id });
    assert_eq!(
        wf.start(id, input.clone()).await.unwrap(),
        StartOutcome::Started
    );
    // Same name and input while running: Step Functions answers with the same execution.
    wf.start(id, input).await.unwrap();
    // Same name, other input: ExecutionAlreadyExists, which means "already started".
    assert_eq!(
        wf.start(id, json!({ "orderId": id, "redelivered": true }))
            .await
            .unwrap(),
        StartOutcome::AlreadyStarted
    );
    let executions = env
        .clients
        .sfn()
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(executions.executions().len(), 1);
    assert_eq!(executions.executions()[0].name(), id.to_string());
}

fn topics(env: &Emulator) -> TopicArns {
    TopicArns {
        order_alerts: Some(env.resources.order_alerts_topic_arn.clone()),
        order_errors: Some(env.resources.order_errors_topic_arn.clone()),
        critical_alerts: None,
    }
}

fn dedup(env: &Emulator) -> DynamoDedup {
    DynamoDedup::new(
        env.clients.dynamodb().clone(),
        &env.resources.notification_dedup_table,
    )
}

fn sns(env: &Emulator) -> SnsNotifier {
    SnsNotifier::new(env.clients.sns().clone(), topics(env), dedup(env))
}

fn note(dedup_id: &str) -> Notification {
    Notification {
        dedup_id: dedup_id.into(),
        subject: "s".into(),
        body: "b".into(),
        recipients: vec![],
        trace_parent: None,
        opened_with: None,
    }
}

/// A fresh queue subscribed (raw delivery off) to `topic_arn`: what SNS delivers lands there.
async fn subscribe_queue(env: &Emulator, topic_arn: &str) -> SqsQueue {
    let name = format!("{}capture", env.resources.events_table);
    let url = env
        .clients
        .sqs()
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = env
        .clients
        .sqs()
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    env.clients
        .sns()
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .unwrap();
    SqsQueue::new(env.clients.sqs().clone(), url)
}

/// The order's trace context an email carries (its `traceparent` attribute).
const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// SNS refuses a subject with a line break or of 100 characters or more; ours are cut to one
/// short line, and the dedup id and the order's trace context ride along for subscribers.
#[tokio::test]
async fn a_notification_is_published_with_a_one_line_subject_and_its_dedup_id() {
    let env = emulator_or_skip!("a_notification_is_published");
    let sns = sns(&env);
    let inbox = subscribe_queue(&env, &env.resources.order_alerts_topic_arn).await;
    let message = Notification {
        dedup_id: "01JDEDUP0000000000000000000".into(),
        subject: format!("Order confirmed\r\nBcc: x@evil.example {}", "x".repeat(150)),
        body: "Thank you for your order.".into(),
        recipients: vec![Email::parse("jane@example.com").unwrap()],
        trace_parent: TraceParent::parse(TRACE).ok(),
        opened_with: Some(CustomerKeyRef {
            customer: order_domain::CustomerId::parse("jane").unwrap(),
            key_id: "key-1".into(),
        }),
    };
    sns.publish(Topic::OrderAlerts, message).await.unwrap();
    let got = inbox.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(got.len(), 1);
    let delivered: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(delivered["Message"], "Thank you for your order.");
    let subject = delivered["Subject"].as_str().unwrap();
    assert!(subject.starts_with("Order confirmed"), "{subject}");
    assert!(subject.chars().count() <= MAX_SUBJECT_CHARS && !subject.contains(['\r', '\n']));
    assert_eq!(
        delivered["MessageAttributes"][DEDUP_ID_ATTRIBUTE]["Value"],
        "01JDEDUP0000000000000000000"
    );
    assert_eq!(
        delivered["MessageAttributes"][TRACE_PARENT_ATTRIBUTE]["Value"],
        TRACE
    );
    assert_eq!(
        delivered["MessageAttributes"][CUSTOMER_ID_ATTRIBUTE]["Value"],
        "jane"
    );
    assert_eq!(
        delivered["MessageAttributes"][KEY_ID_ATTRIBUTE]["Value"],
        "key-1"
    );
    let recipients = &delivered["MessageAttributes"][RECIPIENTS_ATTRIBUTE]["Value"];
    assert!(
        recipients.as_str().unwrap().contains("jane@example.com"),
        "{delivered}"
    );

    let err = sns
        .publish(Topic::CriticalAlerts, note("d"))
        .await
        .unwrap_err();
    assert!(err.0.contains("CRITICAL_ALERTS_TOPIC_ARN"), "{err}");
}

/// A publisher that died between its dedup record and its publish (or its mark) left a PENDING
/// claim: while its lease lives a duplicate is refused (retryable), once it lapses the message
/// is published again, by the one publisher that takes the claim over.
#[tokio::test]
async fn a_crashed_publishers_claim_blocks_until_its_lease_lapses_then_is_taken_over() {
    let env = emulator_or_skip!("a_crashed_publishers_claim");
    let lease_until = |ms: u64| Timestamp::now().as_millis() + ms;
    let key = dedup_key(Topic::OrderAlerts, "crashed");
    assert!(
        dedup(&env)
            .claim(&key, "dead", lease_until(60_000))
            .await
            .unwrap()
    );
    let err = sns(&env)
        .publish(Topic::OrderAlerts, note("crashed"))
        .await
        .unwrap_err();
    assert!(err.0.contains("another attempt"), "{err}");

    let lapsed = dedup_key(Topic::OrderAlerts, "lapsed");
    assert!(
        dedup(&env)
            .claim(&lapsed, "dead", lease_until(0))
            .await
            .unwrap()
    );
    let inbox = subscribe_queue(&env, &env.resources.order_alerts_topic_arn).await;
    let (a, b) = (sns(&env), sns(&env));
    let (ra, rb) = tokio::join!(
        a.publish(Topic::OrderAlerts, note("lapsed")),
        b.publish(Topic::OrderAlerts, note("lapsed"))
    );
    // One takes over; the other waits for it to mark SENT and drops (or is refused to retry).
    assert!(ra.is_ok() || rb.is_ok(), "{ra:?} {rb:?}");
    let got = inbox.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        dedup(&env).read(&lapsed).await.unwrap().map(|s| s.record),
        Some(DedupRecord::Sent)
    );
}

/// A publish SNS refuses leaves no claim behind, so the caller's retry publishes at once
/// instead of waiting out the lease.
#[tokio::test]
async fn a_failed_publish_releases_its_claim() {
    let env = emulator_or_skip!("a_failed_publish_releases_its_claim");
    let missing = TopicArns {
        order_alerts: Some(format!("{}-gone", env.resources.order_alerts_topic_arn)),
        ..TopicArns::default()
    };
    let broken = SnsNotifier::new(env.clients.sns().clone(), missing, dedup(&env));
    broken
        .publish(Topic::OrderAlerts, note("refused"))
        .await
        .unwrap_err();
    let key = dedup_key(Topic::OrderAlerts, "refused");
    assert_eq!(dedup(&env).read(&key).await.unwrap(), None);
    sns(&env)
        .publish(Topic::OrderAlerts, note("refused"))
        .await
        .unwrap();
}

fn bus_event(i: usize) -> BusEvent {
    BusEvent {
        id: format!("01JEVENT{i:018}"),
        source: "order-pipeline".into(),
        detail_type: "OrderCompleted".into(),
        detail: json!({ "orderId": OrderId::generate(), "status": "COMPLETED" }),
    }
}

/// PutEvents takes at most 10 entries: 12 events go in two calls and all arrive, each with
/// the log's event id in its detail (EventBridge's own id is random).
#[tokio::test]
async fn twelve_bus_events_are_put_in_batches_of_ten_and_all_arrive() {
    let env = emulator_or_skip!("twelve_bus_events_are_put");
    let eb = env.clients.eventbridge();
    let bus_name = format!("{}bus", env.resources.events_table);
    eb.create_event_bus().name(&bus_name).send().await.unwrap();
    let queue_arn = env
        .clients
        .sqs()
        .get_queue_attributes()
        .queue_url(&env.resources.orders_queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    eb.put_rule()
        .name("OrderConfirmationRule")
        .event_bus_name(&bus_name)
        .event_pattern(r#"{"source":["order-pipeline"],"detail-type":["OrderCompleted"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("OrderConfirmationRule")
        .event_bus_name(&bus_name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let bus = EventBridgeBus::new(eb.clone(), &bus_name);
    let events: Vec<BusEvent> = (0..12).map(bus_event).collect();
    bus.put(events.clone()).await.unwrap();

    let q = queue(&env);
    let mut ids = Vec::new();
    for _ in 0..10 {
        for m in q.receive(10, Duration::from_secs(1)).await.unwrap() {
            let envelope: Value = serde_json::from_str(&m.body).unwrap();
            assert_eq!(envelope["detail-type"], "OrderCompleted");
            ids.push(envelope["detail"]["eventId"].as_str().unwrap().to_owned());
            q.delete(&m.receipt).await.unwrap();
        }
        if ids.len() == 12 {
            break;
        }
    }
    ids.sort();
    assert_eq!(ids, events.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
}

/// PutEvents answers 200 with failed entries inside: that is an error naming the entry.
#[tokio::test]
async fn a_bus_event_the_bus_refuses_is_an_error_naming_the_entry() {
    let env = emulator_or_skip!("a_bus_event_the_bus_refuses");
    let bus = EventBridgeBus::new(env.clients.eventbridge().clone(), "default");
    let mut bad = bus_event(1);
    // moto (like EventBridge) refuses an entry without a detail-type.
    bad.detail_type = String::new();
    let err = bus.put(vec![bus_event(0), bad]).await.unwrap_err();
    assert!(err.0.contains("01JEVENT000000000000000001"), "{err}");
    assert!(err.0.contains("1 of 2"), "{err}");
}
