//! The latest emails a host sent, in memory, for the console: a decorator over the notifier
//! port that remembers what went out (topic, subject, when, the order) after the inner
//! notifier took it. Both local hosts wrap their notifier in it (the outbox on the embedded
//! one, SNS on `--backend aws`).
//!
//! Only what is safe to show an operator's screen is kept: never the recipients or the body
//! (which hold the customer's address and name). The subjects the pipeline writes name the
//! order and a failure reason, not the customer. A redelivered publish (same dedup id, which
//! the notifier drops) is not kept twice.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use order_domain::ports::{Notification, Notifier, PortError, Published, Topic};
use order_domain::{OrderId, Timestamp};

/// How many emails are kept.
pub const KEPT: usize = 50;

/// One email as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub topic: Topic,
    pub subject: String,
    pub at: Timestamp,
    /// The order the subject names, if it names one.
    pub order_id: Option<OrderId>,
    dedup_id: String,
}

/// The last [`KEPT`] emails, shared by the notifier that records them and the console.
#[derive(Debug, Clone, Default)]
pub struct RecentEmails(Arc<Mutex<VecDeque<SentEmail>>>);

impl RecentEmails {
    /// The kept emails, newest first.
    pub fn latest(&self) -> Vec<SentEmail> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter().rev().cloned().collect()
    }

    fn record(&self, topic: Topic, subject: String, dedup_id: String) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept
            .iter()
            .any(|e| e.topic == topic && e.dedup_id == dedup_id)
        {
            return;
        }
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(SentEmail {
            topic,
            order_id: order_named(&subject),
            subject,
            at: Timestamp::now(),
            dedup_id,
        });
    }
}

/// The first word of `subject` that is an order id ("Order 01J… confirmed").
fn order_named(subject: &str) -> Option<OrderId> {
    subject
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|word| (word.len() == 26).then(|| OrderId::parse(word).ok())?)
}

/// `N`, remembering what it sent in a [`RecentEmails`].
#[derive(Debug, Clone)]
pub struct Recording<N> {
    inner: N,
    recent: RecentEmails,
}

impl<N> Recording<N> {
    /// Wraps `inner`; what it sends is kept in `recent`.
    pub fn new(inner: N, recent: RecentEmails) -> Self {
        Self { inner, recent }
    }
}

impl<N: Notifier> Notifier for Recording<N> {
    async fn publish(&self, topic: Topic, message: Notification) -> Result<Published, PortError> {
        // Only what is kept is copied: never the body or the recipients.
        let (subject, dedup_id) = (message.subject.clone(), message.dedup_id.clone());
        let published = self.inner.publish(topic, message).await?;
        // A redelivery the notifier dropped was not sent again: it is not a new email.
        if published == Published::Sent {
            self.recent.record(topic, subject, dedup_id);
        }
        Ok(published)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<usize>>);

    impl Notifier for Sink {
        async fn publish(&self, _: Topic, _: Notification) -> Result<Published, PortError> {
            *self.0.lock().unwrap() += 1;
            Ok(Published::Sent)
        }
    }

    fn email(dedup: &str, subject: &str) -> Notification {
        Notification {
            dedup_id: dedup.into(),
            subject: subject.into(),
            body: "Dear Jane, jane@example.com".into(),
            recipients: vec![order_domain::Email::parse("jane@example.com").unwrap()],
            trace_parent: None,
            opened_with: None,
        }
    }

    #[tokio::test]
    async fn keeps_the_last_emails_newest_first_once_each_without_personal_data() {
        let recent = RecentEmails::default();
        let sink = Sink::default();
        let notifier = Recording::new(sink.clone(), recent.clone());
        let order = OrderId::generate();
        let subject = format!("Order {order} confirmed");
        notifier
            .publish(Topic::OrderAlerts, email("e-1", &subject))
            .await
            .unwrap();
        notifier
            .publish(Topic::OrderAlerts, email("e-1", &subject))
            .await
            .unwrap();
        notifier
            .publish(
                Topic::CriticalAlerts,
                email("a-1", "ALARM: OrdersQueueDepth"),
            )
            .await
            .unwrap();
        assert_eq!(
            *sink.0.lock().unwrap(),
            3,
            "every publish reaches the notifier"
        );
        let latest = recent.latest();
        assert_eq!(latest.len(), 2, "{latest:?}");
        assert_eq!(latest[0].topic, Topic::CriticalAlerts);
        assert_eq!(latest[0].order_id, None);
        assert_eq!(latest[1].order_id, Some(order));
        assert!(!format!("{latest:?}").contains("jane"), "{latest:?}");

        for i in 0..KEPT + 5 {
            let m = email(&format!("n-{i}"), &format!("Order {order} shipped"));
            notifier.publish(Topic::OrderAlerts, m).await.unwrap();
        }
        let latest = recent.latest();
        assert_eq!(latest.len(), KEPT);
        assert_eq!(latest[0].dedup_id, format!("n-{}", KEPT + 4));
    }
}
