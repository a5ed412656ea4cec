//! The [`Notifier`] contract: a notification is delivered once per `(topic, dedup id)`, however
//! often it is published, concurrently or across a restart, and each publish says what it did
//! ([`Published::Sent`] for the one that delivered, [`Published::Duplicate`] for a redelivery
//! dropped), which the notify use cases count. Run against each adapter.
//!
//! A case sees deliveries through [`NotifierFixture`], which each backend's fixture implements
//! (the outbox counts `Message-ID`s in its mbox; SNS on moto counts the messages a queue
//! subscribed to each topic received, by their `dedupId` attribute: [`SnsDeliveries`]).
//!
//! Where the backends differ: the outbox decides and writes under one lock, so a concurrent
//! duplicate always returns `Ok` (dropped). The SNS notifier arbitrates in DynamoDB with a
//! PENDING claim while it publishes; a duplicate that finds a live claim waits briefly and may
//! then be refused with an error, which callers retry. The concurrency case accepts either
//! answer and retries refusals, as a caller does: what it asserts is one delivery.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;

use order_domain::Email;
use order_domain::ports::{Notification, Notifier, Published, Topic};

use crate::Fixture;
use crate::support::Emulator;

/// How a contract case reaches one backend's notifier and sees what it delivered.
pub trait NotifierFixture: Send + Sync + 'static {
    type Notifier: Notifier + Clone;

    /// The notifier under test.
    fn notifier(&self) -> &Self::Notifier;

    /// A new notifier on the same storage, as a restarted process would build it.
    fn restarted(&self) -> Self::Notifier;

    /// How many times a message with `dedup_id` was delivered on `topic`.
    fn deliveries(&self, topic: Topic, dedup_id: &str) -> impl Future<Output = usize> + Send;
}

/// Every case of the notifier contract as `#[tokio::test]`s in a module named `$backend`, on
/// the fixtures `$make` builds.
#[macro_export]
macro_rules! notifier_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                notifier,
                [
                    a_message_is_delivered_once_on_its_topic_only,
                    the_same_dedup_id_published_twice_is_delivered_once,
                    the_same_dedup_id_published_concurrently_is_delivered_once,
                    different_dedup_ids_are_delivered_separately,
                    the_same_dedup_id_on_two_topics_is_two_deliveries,
                    a_dedup_id_seen_before_a_restart_is_still_dropped,
                ]
            );
        }
    };
}

/// A dedup id no other case uses (an event id, as the real callers pass).
fn fresh_id() -> String {
    ulid::Ulid::generate().to_string()
}

fn note(dedup_id: &str, subject: &str) -> Notification {
    Notification {
        dedup_id: dedup_id.to_owned(),
        subject: subject.to_owned(),
        body: format!("{subject}\n\nThank you for your order."),
        recipients: vec![Email::parse("jane@example.com").expect("valid address")],
        trace_parent: None,
        opened_with: None,
    }
}

pub async fn a_message_is_delivered_once_on_its_topic_only<F: NotifierFixture>(f: &Fixture<F>) {
    let id = fresh_id();
    let published = f
        .notifier()
        .publish(Topic::OrderAlerts, note(&id, "Order confirmed"))
        .await
        .unwrap();
    assert_eq!(published, Published::Sent);
    assert_eq!(f.deliveries(Topic::OrderAlerts, &id).await, 1);
    assert_eq!(f.deliveries(Topic::OrderErrors, &id).await, 0);
}

/// A redelivered publish (an EventBridge, Streams or task retry) carries the first one's id,
/// and is answered [`Published::Duplicate`].
pub async fn the_same_dedup_id_published_twice_is_delivered_once<F: NotifierFixture>(
    f: &Fixture<F>,
) {
    let id = fresh_id();
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(
            f.notifier()
                .publish(Topic::OrderAlerts, note(&id, "Order confirmed"))
                .await
                .unwrap(),
        );
    }
    assert_eq!(answers, [Published::Sent, Published::Duplicate]);
    assert_eq!(f.deliveries(Topic::OrderAlerts, &id).await, 1);
}

/// Two redeliveries racing: each publish returns `Ok` (delivered or dropped) or a retryable
/// refusal while the other holds its claim (SNS only, see the module doc); retried until `Ok`,
/// as callers do, the message still goes out once, and exactly one racer is told it sent it.
pub async fn the_same_dedup_id_published_concurrently_is_delivered_once<F: NotifierFixture>(
    f: &Fixture<F>,
) {
    let id = fresh_id();
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let notifier = f.notifier().clone();
        let id = id.clone();
        racers.spawn(async move {
            for attempt in 0.. {
                match notifier
                    .publish(Topic::OrderErrors, note(&id, "Order failed"))
                    .await
                {
                    Ok(published) => return published,
                    Err(e) if attempt < 50 => {
                        eprintln!("refused, retrying: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("still refused after {attempt} retries: {e}"),
                }
            }
            unreachable!("the retry loop returns or panics")
        });
    }
    let mut sent = 0;
    while let Some(done) = racers.join_next().await {
        if done.expect("a racing publisher panicked") == Published::Sent {
            sent += 1;
        }
    }
    assert_eq!(sent, 1, "one racer sent it, the others were told Duplicate");
    assert_eq!(f.deliveries(Topic::OrderErrors, &id).await, 1);
}

pub async fn different_dedup_ids_are_delivered_separately<F: NotifierFixture>(f: &Fixture<F>) {
    let ids: Vec<String> = (0..3).map(|_| fresh_id()).collect();
    for id in &ids {
        f.notifier()
            .publish(Topic::OrderAlerts, note(id, "Order confirmed"))
            .await
            .unwrap();
    }
    for id in &ids {
        assert_eq!(f.deliveries(Topic::OrderAlerts, id).await, 1, "{id}");
    }
}

/// Dedup is per topic: an event may cause a message on each of two topics.
pub async fn the_same_dedup_id_on_two_topics_is_two_deliveries<F: NotifierFixture>(f: &Fixture<F>) {
    let id = fresh_id();
    for (topic, subject) in [
        (Topic::OrderAlerts, "Order confirmed"),
        (Topic::OrderErrors, "Order failed"),
    ] {
        let published = f.notifier().publish(topic, note(&id, subject)).await;
        assert_eq!(published.unwrap(), Published::Sent, "{}", topic.name());
    }
    assert_eq!(f.deliveries(Topic::OrderAlerts, &id).await, 1);
    assert_eq!(f.deliveries(Topic::OrderErrors, &id).await, 1);
}

/// Redeliveries after a crash come to the restarted process: its dedup memory is the storage,
/// not the old instance.
pub async fn a_dedup_id_seen_before_a_restart_is_still_dropped<F: NotifierFixture>(f: &Fixture<F>) {
    let (seen, unseen) = (fresh_id(), fresh_id());
    f.notifier()
        .publish(Topic::OrderAlerts, note(&seen, "Order confirmed"))
        .await
        .unwrap();
    let restarted = f.restarted();
    let again = restarted
        .publish(Topic::OrderAlerts, note(&seen, "Order confirmed"))
        .await
        .unwrap();
    assert_eq!(again, Published::Duplicate);
    let new = restarted
        .publish(Topic::OrderAlerts, note(&unseen, "Order confirmed"))
        .await
        .unwrap();
    assert_eq!(new, Published::Sent);
    assert_eq!(f.deliveries(Topic::OrderAlerts, &seen).await, 1);
    assert_eq!(f.deliveries(Topic::OrderAlerts, &unseen).await, 1);
}

/// What SNS delivered, seen through an SQS queue subscribed to each topic: moto delivers to a
/// subscribed queue within the publish. (moto's state dump, `/moto-api/data.json`, lists each
/// topic's published messages too, but fails as a whole once the emulator holds a Lambda
/// function, as it does after the template's emulator check.)
pub struct SnsDeliveries {
    sqs: aws_sdk_sqs::Client,
    queues: Vec<(Topic, String)>,
    /// What was drained from the queues so far.
    seen: Mutex<Vec<Delivery>>,
}

/// One message SNS delivered to a topic's capture queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub topic: Topic,
    /// The `dedupId` message attribute (empty when absent).
    pub dedup_id: String,
    /// The subject and the message, one line apart.
    pub text: String,
    /// The SNS envelope as delivered (what NotificationDeadLetterQueue would keep of it).
    pub envelope: String,
}

impl SnsDeliveries {
    /// Subscribes a fresh queue to each of the emulator slice's topics.
    pub async fn subscribe(env: &Emulator) -> Self {
        let r = &env.resources;
        let prefix = r
            .events_table
            .strip_suffix("OrderEventsTable")
            .unwrap_or(&r.events_table);
        let mut queues = Vec::new();
        for (topic, arn) in [
            (Topic::OrderAlerts, &r.order_alerts_topic_arn),
            (Topic::OrderErrors, &r.order_errors_topic_arn),
            (Topic::CriticalAlerts, &r.critical_alerts_topic_arn),
        ] {
            let sqs = env.clients.sqs();
            let url = sqs
                .create_queue()
                .queue_name(format!("{prefix}{}-capture", topic.name()))
                .send()
                .await
                .expect("create a capture queue")
                .queue_url
                .expect("a queue URL");
            let queue_arn = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .expect("the capture queue's ARN")
                .attributes
                .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
                .expect("a QueueArn attribute");
            env.clients
                .sns()
                .subscribe()
                .topic_arn(arn)
                .protocol("sqs")
                .endpoint(queue_arn)
                .send()
                .await
                .expect("subscribe the capture queue");
            queues.push((topic, url));
        }
        Self {
            sqs: env.clients.sqs().clone(),
            queues,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// How many messages with the `dedupId` attribute `dedup_id` SNS delivered on `topic`.
    pub async fn count(&self, topic: Topic, dedup_id: &str) -> usize {
        self.all()
            .await
            .iter()
            .filter(|d| d.topic == topic && d.dedup_id == dedup_id)
            .count()
    }

    /// Every message delivered so far, on every topic (the queues drained first).
    pub async fn all(&self) -> Vec<Delivery> {
        for (topic, url) in &self.queues {
            loop {
                let got = self
                    .sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .expect("receive from a capture queue");
                let messages = got.messages.unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    let body: serde_json::Value =
                        serde_json::from_str(m.body().unwrap_or_default()).expect("SNS envelope");
                    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
                    let delivery = Delivery {
                        topic: *topic,
                        dedup_id: body["MessageAttributes"]["dedupId"]["Value"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        text: format!("{}\n{}", text("Subject"), text("Message")),
                        envelope: m.body().unwrap_or_default().to_owned(),
                    };
                    self.seen.lock().expect("seen deliveries").push(delivery);
                    self.sqs
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("delete from a capture queue");
                }
            }
        }
        self.seen.lock().expect("seen deliveries").clone()
    }
}
