//! The [`Notifier`] contract: a notification is delivered once per `(topic, dedup id)`, however
//! often it is published, concurrently or across a restart. Run against each adapter.
//!
//! A case sees deliveries through [`NotifierFixture`], which each backend's fixture implements
//! (the outbox counts `Message-ID`s in its mbox; SNS on moto counts the topic's published
//! messages by their `dedupId` attribute, [`moto_deliveries`]).
//!
//! Where the backends differ: the outbox decides and writes under one lock, so a concurrent
//! duplicate always returns `Ok` (dropped). The SNS notifier arbitrates in DynamoDB with a
//! PENDING claim while it publishes; a duplicate that finds a live claim waits briefly and may
//! then be refused with an error, which callers retry. The concurrency case accepts either
//! answer and retries refusals, as a caller does: what it asserts is one delivery.

use std::future::Future;
use std::time::Duration;

use order_domain::Email;
use order_domain::ports::{Notification, Notifier, Topic};

use crate::Fixture;

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
    }
}

pub async fn a_message_is_delivered_once_on_its_topic_only<F: NotifierFixture>(f: &Fixture<F>) {
    let id = fresh_id();
    f.notifier()
        .publish(Topic::OrderAlerts, note(&id, "Order confirmed"))
        .await
        .unwrap();
    assert_eq!(f.deliveries(Topic::OrderAlerts, &id).await, 1);
    assert_eq!(f.deliveries(Topic::OrderErrors, &id).await, 0);
}

/// A redelivered publish (an EventBridge, Streams or task retry) carries the first one's id.
pub async fn the_same_dedup_id_published_twice_is_delivered_once<F: NotifierFixture>(
    f: &Fixture<F>,
) {
    let id = fresh_id();
    for _ in 0..2 {
        f.notifier()
            .publish(Topic::OrderAlerts, note(&id, "Order confirmed"))
            .await
            .unwrap();
    }
    assert_eq!(f.deliveries(Topic::OrderAlerts, &id).await, 1);
}

/// Two redeliveries racing: each publish returns `Ok` (delivered or dropped) or a retryable
/// refusal while the other holds its claim (SNS only, see the module doc); retried until `Ok`,
/// as callers do, the message still goes out once.
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
                    Ok(()) => return,
                    Err(e) if attempt < 50 => {
                        eprintln!("refused, retrying: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("still refused after {attempt} retries: {e}"),
                }
            }
        });
    }
    while let Some(done) = racers.join_next().await {
        done.expect("a racing publisher panicked");
    }
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
    f.notifier()
        .publish(Topic::OrderAlerts, note(&id, "Order confirmed"))
        .await
        .unwrap();
    f.notifier()
        .publish(Topic::OrderErrors, note(&id, "Order failed"))
        .await
        .unwrap();
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
    restarted
        .publish(Topic::OrderAlerts, note(&seen, "Order confirmed"))
        .await
        .unwrap();
    restarted
        .publish(Topic::OrderAlerts, note(&unseen, "Order confirmed"))
        .await
        .unwrap();
    assert_eq!(f.deliveries(Topic::OrderAlerts, &seen).await, 1);
    assert_eq!(f.deliveries(Topic::OrderAlerts, &unseen).await, 1);
}

/// How many messages moto's SNS published on `topic_arn` with the `dedupId` attribute
/// `dedup_id`, from its state dump (`GET {endpoint}/moto-api/data.json`: each topic's
/// `sent_notifications` are `[message id, message, subject, attributes, group id]`).
pub async fn moto_deliveries(endpoint: &str, topic_arn: &str, dedup_id: &str) -> usize {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let data: serde_json::Value = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
    topics
        .iter()
        .filter(|t| t["arn"] == topic_arn)
        .flat_map(|t| {
            t["sent_notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|sent| sent[3]["dedupId"]["Value"] == dedup_id)
        .count()
}
