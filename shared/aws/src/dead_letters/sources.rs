//! The stack's dead-letter queues beyond OrdersQueue's, each a [`DeadLetterQueue`] with its own
//! way back ([`Redeliver`]):
//!
//! - **rules**: OrderConfirmation-, OrderFailure-, OrderUpdate- and RefundRequestedDeadLetterQueue.
//!   EventBridge puts the event it could not deliver there (the body is the event); the
//!   handlers' asynchronous on-failure destination puts an invocation record whose
//!   `requestPayload` is the event. Redrive hands the event to a bus ([`ToBus`]): EventBridge
//!   (its rule invokes the target again) or the rules' targets run in process.
//! - **notifications**: NotificationDeadLetterQueue, where SNS puts a message it could not
//!   deliver to a subscription (the SNS envelope). Redrive publishes it to its topic again
//!   ([`ToTopic`]), with its attributes: every subscription matching them gets it again. An
//!   email built from a customer's sealed data names the key it was opened with; if that key
//!   is gone (the customer was forgotten since), the letter is deleted unsent (`Erased`).
//! - **streams**: StreamProcessingDeadLetterQueue ([`super::streams`]).
//!
//! A redrive receives the letter, hands it back, and deletes it only once that worked: a
//! failing target leaves it dead-lettered. A second redrive of the same id finds nothing
//! (`NotDeadLettered`). Each queue is named by a variable of its own (docs/aws-contract.md,
//! "Operator tools"); an unset variable leaves its queue out.

use std::future::Future;

use order_domain::CustomerId;
use order_domain::ports::{
    BusEvent, DeadLetter, DeadLetters, EventBus, KeyStore, PortError, Redrive,
};
use serde_json::Value;

use super::{give_back, name_of, take_all, take_one};
use crate::queue::SqsQueue;

/// How a dead letter's body goes back to where it failed.
pub trait Redeliver: Send + Sync + 'static {
    /// Where a redrive sends `body` (a rule, a topic, a consumer), for the listing.
    fn target_of(&self, body: &str) -> String;

    /// Hands `body` back ([`Redrive::Redriven`]) or finds it must not go back
    /// ([`Redrive::Erased`]); either way the letter is deleted. An error leaves it
    /// dead-lettered.
    fn redeliver(&self, body: &str) -> impl Future<Output = Result<Redrive, PortError>> + Send;
}

/// A dead-letter queue on SQS and its way back.
pub struct DeadLetterQueue<R> {
    dlq: SqsQueue,
    /// The queue's logical name in the template.
    name: String,
    redeliver: R,
}

impl<R: Redeliver> DeadLetterQueue<R> {
    /// `dlq`, listed under `name` (its logical name; the URL's last segment when empty).
    pub fn new(dlq: SqsQueue, name: &str, redeliver: R) -> Self {
        let name = if name.is_empty() {
            name_of(dlq.url())
        } else {
            name.to_owned()
        };
        Self {
            dlq,
            name,
            redeliver,
        }
    }

    fn letter(&self, m: &crate::queue::ReceivedMessage) -> DeadLetter {
        DeadLetter {
            id: m.message_id.clone(),
            body: m.body.clone(),
            queue: self.name.clone(),
            source_queue: self.redeliver.target_of(&m.body),
            sent_at_ms: None,
            receive_count: Some(m.receive_count),
        }
    }
}

impl<R: Redeliver> DeadLetters for DeadLetterQueue<R> {
    async fn list(&self) -> Result<Vec<DeadLetter>, PortError> {
        let all = take_all(&self.dlq).await?;
        give_back(&self.dlq, &all).await?;
        Ok(all.iter().map(|m| self.letter(m)).collect())
    }

    async fn show(&self, id: &str) -> Result<Option<DeadLetter>, PortError> {
        Ok(self.list().await?.into_iter().find(|l| l.id == id))
    }

    async fn redrive(&self, id: &str) -> Result<Redrive, PortError> {
        let Some(letter) = take_one(&self.dlq, id).await? else {
            return Ok(Redrive::NotDeadLettered);
        };
        let outcome = match self.redeliver.redeliver(&letter.body).await {
            Ok(outcome) => outcome,
            Err(e) => {
                give_back(&self.dlq, std::slice::from_ref(&letter)).await?;
                return Err(PortError(format!("{}: {id}: {e}", self.name)));
            }
        };
        self.dlq.delete(&letter.receipt).await?;
        Ok(outcome)
    }
}

/// A rule DLQ's message as the bus event it carries: the body itself (a rule target's DLQ) or
/// its `requestPayload` (a handler's on-failure record). The event's id is `detail.eventId`,
/// the log's event id (as the handlers read it), so the emails it leads to keep their dedup ids.
///
/// # Errors
/// When the body holds no EventBridge event.
pub fn bus_event_of(body: &str) -> Result<BusEvent, PortError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| PortError(format!("not JSON: {e}")))?;
    let event = value.get("requestPayload").unwrap_or(&value);
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(source), Some(detail_type), Some(detail)) = (
        text("source"),
        text("detail-type"),
        event.get("detail").cloned(),
    ) else {
        return Err(PortError(
            "no EventBridge event (source, detail-type, detail) in the message".into(),
        ));
    };
    let id = detail
        .get("eventId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| text("id"))
        .unwrap_or_default();
    Ok(BusEvent {
        id,
        source,
        detail_type,
        detail,
    })
}

/// A rule DLQ's way back: the event, put on `B` (EventBridge, whose rule invokes the target
/// again; or the targets run in process).
pub struct ToBus<B>(pub B);

impl<B: EventBus> Redeliver for ToBus<B> {
    fn target_of(&self, body: &str) -> String {
        bus_event_of(body).map_or_else(
            |_| "unreadable event".to_owned(),
            |e| format!("bus ({})", e.detail_type),
        )
    }

    async fn redeliver(&self, body: &str) -> Result<Redrive, PortError> {
        self.0.put(vec![bus_event_of(body)?]).await?;
        Ok(Redrive::Redriven)
    }
}

/// NotificationDeadLetterQueue's way back: the SNS message, published to its topic again,
/// unless the customer key it names is gone from `keys`.
pub struct ToTopic<K> {
    pub sns: aws_sdk_sns::Client,
    pub keys: K,
}

/// What a redrive republishes of an SNS envelope.
#[derive(Debug, PartialEq, Eq)]
struct Envelope {
    topic: String,
    subject: Option<String>,
    message: String,
    /// `(data type, name, value)` of each attribute with a string value.
    attributes: Vec<(String, String, String)>,
}

fn envelope(body: &str) -> Result<Envelope, PortError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| PortError(format!("not JSON: {e}")))?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(topic), Some(message)) = (text("TopicArn"), text("Message")) else {
        return Err(PortError("no SNS message (TopicArn, Message)".into()));
    };
    let attributes = value
        .get("MessageAttributes")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(name, v)| {
                    let kind = v.get("Type")?.as_str()?;
                    let value = v.get("Value")?.as_str()?;
                    Some((kind.to_owned(), name.clone(), value.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Envelope {
        topic,
        subject: text("Subject"),
        message,
        attributes,
    })
}

impl<K: KeyStore> ToTopic<K> {
    /// Whether the customer key an envelope's attributes name (`customerId`, `keyId`) is gone:
    /// its customer was forgotten since the message was built. `false` for a message naming
    /// none (an alert, a failure notice, an email of data kept in clear).
    async fn erased(&self, e: &Envelope) -> Result<bool, PortError> {
        let value = |name: &str| {
            e.attributes
                .iter()
                .find(|(_, n, _)| n == name)
                .map(|(_, _, v)| v.as_str())
        };
        let (Some(customer), Some(key_id)) = (
            value(crate::notifier::CUSTOMER_ID_ATTRIBUTE),
            value(crate::notifier::KEY_ID_ATTRIBUTE),
        ) else {
            return Ok(false);
        };
        let customer = CustomerId::parse(customer)
            .map_err(|e| PortError(format!("the message's customer id: {e}")))?;
        Ok(self.keys.find_key(&customer, key_id).await?.is_none())
    }
}

impl<K: KeyStore> Redeliver for ToTopic<K> {
    fn target_of(&self, body: &str) -> String {
        envelope(body).map_or_else(|_| "unreadable message".to_owned(), |e| name_of(&e.topic))
    }

    async fn redeliver(&self, body: &str) -> Result<Redrive, PortError> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let e = envelope(body)?;
        if self.erased(&e).await? {
            tracing::info!(
                skipped = "personal_data_erased",
                "a dead-lettered email of a forgotten customer: deleted, not sent"
            );
            return Ok(Redrive::Erased);
        }
        let mut req = self.sns.publish().topic_arn(&e.topic).message(e.message);
        if let Some(subject) = e.subject.filter(|s| !s.is_empty()) {
            req = req.subject(subject);
        }
        for (kind, name, value) in e.attributes {
            let attr = MessageAttributeValue::builder()
                .data_type(kind)
                .string_value(value)
                .build()
                .map_err(|err| PortError(format!("attribute {name}: {err}")))?;
            req = req.message_attributes(name, attr);
        }
        req.send()
            .await
            .map(|_| Redrive::Redriven)
            .map_err(|err| crate::errors::port_error(&format!("SNS publish to {}", e.topic), &err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule target's DLQ holds the event; a handler's on-failure record holds it as
    /// `requestPayload`. Both give the bus event whose id is the log's event id.
    #[test]
    fn a_rule_dlq_message_is_the_event_it_failed_to_deliver() {
        let event = serde_json::json!({
            "version": "0", "id": "eb-1", "source": "order-pipeline",
            "detail-type": "OrderCompleted", "detail": { "orderId": "O1", "eventId": "E1" }
        });
        let direct = bus_event_of(&event.to_string()).unwrap();
        assert_eq!(direct.id, "E1");
        assert_eq!(direct.detail_type, "OrderCompleted");
        let record = serde_json::json!({
            "version": "1.0", "requestContext": { "condition": "RetriesExhausted" },
            "requestPayload": event,
        });
        assert_eq!(bus_event_of(&record.to_string()).unwrap(), direct);
        assert!(bus_event_of("{\"orderId\":\"O1\"}").is_err());
        assert!(bus_event_of("not json").is_err());
    }

    #[test]
    fn an_sns_envelope_gives_its_topic_subject_message_and_attributes() {
        let body = serde_json::json!({
            "Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:alerts",
            "Subject": "Hi", "Message": "body",
            "MessageAttributes": { "dedupId": { "Type": "String", "Value": "d1" } }
        });
        let e = envelope(&body.to_string()).unwrap();
        assert_eq!(e.topic, "arn:aws:sns:us-east-1:1:alerts");
        assert_eq!(e.subject.as_deref(), Some("Hi"));
        assert_eq!(e.message, "body");
        assert_eq!(
            e.attributes,
            [("String".to_owned(), "dedupId".to_owned(), "d1".to_owned())]
        );
    }
}
