//! The three topics on SNS (OrderAlertsTopic, OrderErrorNotificationTopic, CriticalAlertsTopic).
//!
//! Our publishes are redelivered (EventBridge, Streams and task retries) and SNS standard topics
//! ignore a dedup id, so each publish goes through a dedup record first ([`crate::dedup`]): a
//! dedup id is published once per topic, at most once more after a crash between the record
//! and the publish. The id also rides along as the `dedupId` message attribute, for subscribers
//! that see SNS's own at-least-once delivery repeat a message.
//! The customer's address goes in the `recipients` attribute (String.Array), never in the
//! subject. The subject is cut to what SNS accepts: one line, fewer than 100 characters.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use order_domain::ports::{Notification, Notifier, PortError, Published, Topic};

use crate::config::{
    AwsClients, CRITICAL_ALERTS_TOPIC_ARN, ConfigError, ORDER_ALERTS_TOPIC_ARN,
    ORDER_ERRORS_TOPIC_ARN, require_env,
};
use crate::dedup::DynamoDedup;
use crate::errors::port_error;

/// SNS: "Subjects must be UTF-8 text with no line breaks or control characters, and less
/// than 100 characters long."
pub const MAX_SUBJECT_CHARS: usize = 99;

/// The message attribute carrying [`Notification::dedup_id`].
pub const DEDUP_ID_ATTRIBUTE: &str = "dedupId";
/// The message attribute carrying [`Notification::recipients`].
pub const RECIPIENTS_ATTRIBUTE: &str = "recipients";
/// The message attribute that carries the order's W3C trace context (`traceparent`), so an
/// email's delivery joins the order's trace.
pub const TRACE_PARENT_ATTRIBUTE: &str = "traceparent";
/// The message attributes naming the customer and the id of their key the recipients were
/// opened with ([`Notification::opened_with`]): a redrive of the message from
/// NotificationDeadLetterQueue checks the key still exists, and deletes the message unsent if
/// the customer was forgotten meanwhile. Neither is personal data (a pseudonymous id, a random
/// key id).
pub const CUSTOMER_ID_ATTRIBUTE: &str = "customerId";
pub const KEY_ID_ATTRIBUTE: &str = "keyId";

/// The ARN of each topic. A Lambda that publishes to one topic only configures that one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicArns {
    pub order_alerts: Option<String>,
    pub order_errors: Option<String>,
    pub critical_alerts: Option<String>,
}

impl TopicArns {
    /// Whichever of the three topic variables are set.
    pub fn from_env() -> Self {
        Self {
            order_alerts: require_env(ORDER_ALERTS_TOPIC_ARN).ok(),
            order_errors: require_env(ORDER_ERRORS_TOPIC_ARN).ok(),
            critical_alerts: require_env(CRITICAL_ALERTS_TOPIC_ARN).ok(),
        }
    }

    pub fn get(&self, topic: Topic) -> Option<&str> {
        match topic {
            Topic::OrderAlerts => self.order_alerts.as_deref(),
            Topic::OrderErrors => self.order_errors.as_deref(),
            Topic::CriticalAlerts => self.critical_alerts.as_deref(),
        }
    }

    fn env_var(topic: Topic) -> &'static str {
        match topic {
            Topic::OrderAlerts => ORDER_ALERTS_TOPIC_ARN,
            Topic::OrderErrors => ORDER_ERRORS_TOPIC_ARN,
            Topic::CriticalAlerts => CRITICAL_ALERTS_TOPIC_ARN,
        }
    }
}

/// A subject SNS accepts: control characters (line breaks included) become spaces, leading and
/// trailing spaces go, and it is cut to [`MAX_SUBJECT_CHARS`].
pub fn sns_subject(subject: &str) -> String {
    let one_line: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one_line
        .trim()
        .chars()
        .take(MAX_SUBJECT_CHARS)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// The [`Notifier`] on SNS, each dedup id published once per topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topics: TopicArns,
    dedup: DynamoDedup,
}

impl SnsNotifier {
    pub fn new(client: Client, topics: TopicArns, dedup: DynamoDedup) -> Self {
        Self {
            client,
            topics,
            dedup,
        }
    }

    /// The topics whose variables are set (publishing to another is an error naming it), and
    /// the dedup records on `NOTIFICATION_DEDUP_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.sns().clone(),
            TopicArns::from_env(),
            DynamoDedup::from_env(clients)?,
        ))
    }

    async fn send(&self, topic: Topic, arn: &str, message: Notification) -> Result<(), PortError> {
        let attr = |data_type: &str, value: String| {
            MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(value)
                .build()
                .map_err(|e| port_error("SNS message attribute", &e))
        };
        let mut req = self
            .client
            .publish()
            .topic_arn(arn)
            .message(message.body)
            .message_attributes(
                DEDUP_ID_ATTRIBUTE,
                attr("String", message.dedup_id.clone())?,
            );
        if let Some(trace) = message.trace_parent {
            req =
                req.message_attributes(TRACE_PARENT_ATTRIBUTE, attr("String", trace.to_string())?);
        }
        if let Some(key) = message.opened_with {
            req = req
                .message_attributes(
                    CUSTOMER_ID_ATTRIBUTE,
                    attr("String", key.customer.as_str().to_owned())?,
                )
                .message_attributes(KEY_ID_ATTRIBUTE, attr("String", key.key_id)?);
        }
        let subject = sns_subject(&message.subject);
        if !subject.is_empty() {
            req = req.subject(subject);
        }
        if !message.recipients.is_empty() {
            let list: Vec<&str> = message
                .recipients
                .iter()
                .map(order_domain::Email::as_str)
                .collect();
            let json =
                serde_json::to_string(&list).map_err(|e| PortError(format!("recipients: {e}")))?;
            req = req.message_attributes(RECIPIENTS_ATTRIBUTE, attr("String.Array", json)?);
        }
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| port_error(&format!("SNS publish to {}", topic.name()), &e))
    }
}

impl Notifier for SnsNotifier {
    #[tracing::instrument(skip_all, fields(topic = topic.name(), dedup_id = %message.dedup_id))]
    async fn publish(&self, topic: Topic, message: Notification) -> Result<Published, PortError> {
        let arn = self.topics.get(topic).ok_or_else(|| {
            PortError(format!(
                "{} is not configured: set {}",
                topic.name(),
                TopicArns::env_var(topic)
            ))
        })?;
        let dedup_id = message.dedup_id.clone();
        self.dedup
            .deliver_once(topic, &dedup_id, || self.send(topic, arn, message))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_subject_with_line_breaks_is_cut_to_one_short_line() {
        let s = sns_subject(&format!(" Order\r\nconfirmed {}", "x".repeat(200)));
        assert!(!s.contains(['\r', '\n']));
        assert_eq!(s.chars().count(), MAX_SUBJECT_CHARS);
        assert!(s.starts_with("Order  confirmed"));
        assert_eq!(sns_subject("é".repeat(150).as_str()).chars().count(), 99);
    }
}
