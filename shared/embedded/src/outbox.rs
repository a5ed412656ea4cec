//! The local stand-in for SNS email subscriptions: each message becomes a real RFC 5322 email
//! file under `<data-dir>/outbox/<TopicName>/<dedup-id>.eml`, and one log line.
//!
//! The file name is the message's dedup id, so a redelivered publish (at-least-once everywhere)
//! finds the file there and writes nothing. Headers hold only addresses that passed
//! [`order_domain::Email`]'s strict parse and subjects this system composes; customer text
//! goes nowhere near a header.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use order_domain::Email;
use order_domain::ports::{Notification, Notifier, PortError, Topic};

/// Writes notifications as email files.
#[derive(Clone)]
pub struct OutboxNotifier {
    dir: PathBuf,
    from: Mailbox,
    /// The topics' email subscriber (NotificationEmailName in the template).
    subscriber: Mailbox,
}

fn mailbox(email: &Email) -> Result<Mailbox, PortError> {
    email
        .as_str()
        .parse::<lettre::Address>()
        .map(|a| Mailbox::new(None, a))
        .map_err(|e| PortError(format!("address {email}: {e}")))
}

/// Keeps a header value on one line and of sane length.
fn one_line(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Keeps a file name to `[A-Za-z0-9_-]`.
fn file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect()
}

impl OutboxNotifier {
    pub fn new(outbox_dir: &Path, subscriber: &Email) -> Result<Self, PortError> {
        for topic in Topic::all() {
            std::fs::create_dir_all(outbox_dir.join(topic.name()))
                .map_err(|e| PortError(e.to_string()))?;
        }
        let from = "order-pipeline@orders.local"
            .parse::<lettre::Address>()
            .map(|a| Mailbox::new(Some("Order pipeline".into()), a))
            .map_err(|e| PortError(e.to_string()))?;
        Ok(Self {
            dir: outbox_dir.to_owned(),
            from,
            subscriber: mailbox(subscriber)?,
        })
    }

    pub fn topic_dir(&self, topic: Topic) -> PathBuf {
        self.dir.join(topic.name())
    }

    fn render(&self, topic: Topic, n: &Notification) -> Result<Vec<u8>, PortError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(one_line(&n.subject))
            .message_id(Some(format!("<{}@orders.local>", file_name(&n.dedup_id))))
            .date(SystemTime::now())
            .header(ContentType::TEXT_PLAIN)
            .user_agent(format!("order-pipeline ({})", topic.name()));
        if n.recipients.is_empty() {
            builder = builder.to(self.subscriber.clone());
        } else {
            for r in &n.recipients {
                builder = builder.to(mailbox(r)?);
            }
            builder = builder.cc(self.subscriber.clone());
        }
        let message = builder
            .body(n.body.clone())
            .map_err(|e| PortError(format!("email: {e}")))?;
        Ok(message.formatted())
    }
}

impl Notifier for OutboxNotifier {
    async fn publish(&self, topic: Topic, message: Notification) -> Result<(), PortError> {
        let path = self
            .topic_dir(topic)
            .join(format!("{}.eml", file_name(&message.dedup_id)));
        if path.exists() {
            tracing::debug!(topic = topic.name(), dedup_id = %message.dedup_id, "duplicate notification dropped");
            return Ok(());
        }
        let bytes = self.render(topic, &message)?;
        let tmp = path.with_extension("eml.tmp");
        let subject = one_line(&message.subject);
        let written = path.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &written)
        })
        .await
        .map_err(|e| PortError(e.to_string()))?
        .map_err(|e| PortError(format!("outbox write: {e}")))?;
        tracing::info!(topic = topic.name(), subject = %subject, file = %path.display(), "notification sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_notification_is_one_rfc5322_file_and_a_duplicate_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Email::parse("ops@example.com").unwrap();
        let n = OutboxNotifier::new(dir.path(), &ops).unwrap();
        let msg = Notification {
            dedup_id: "01JX".into(),
            subject: "Order 1 confirmed\r\nBcc: evil@example.com".into(),
            body: "Thanks".into(),
            recipients: vec![Email::parse("jane@example.com").unwrap()],
        };
        n.publish(Topic::OrderAlerts, msg.clone()).await.unwrap();
        n.publish(Topic::OrderAlerts, msg).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(n.topic_dir(Topic::OrderAlerts))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1);
        let text =
            std::fs::read_to_string(n.topic_dir(Topic::OrderAlerts).join("01JX.eml")).unwrap();
        assert!(text.contains("To: jane@example.com"));
        assert!(text.contains("Cc: ops@example.com"));
        assert!(text.contains("Message-ID: <01JX@orders.local>"));
        assert!(
            !text.contains("\r\nBcc:"),
            "a line break in a subject must not make a header"
        );
    }
}
