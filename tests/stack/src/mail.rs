//! The topics' messages, as a subscriber receives them: an SQS queue of the harness's own is
//! subscribed to every topic of the stack (the template's email subscriptions are not built by
//! the emulator), and every message published to a topic lands there once per publish. So the
//! emails an order got are counted as SNS delivered them, whoever published them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::HarnessError;

/// One message published to a topic.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The topic's logical id (`OrderAlertsTopic`, …).
    pub topic: String,
    pub subject: String,
    pub message: String,
}

/// The harness's subscriptions: logical topic id to the queue it delivers to.
pub struct Mailboxes {
    queues: BTreeMap<String, String>,
}

fn aws(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Aws(e.to_string())
}

impl Mailboxes {
    /// Subscribes a new queue to each of `topics` (logical id to ARN).
    pub async fn subscribe(
        sqs: &aws_sdk_sqs::Client,
        sns: &aws_sdk_sns::Client,
        stack_name: &str,
        topics: &BTreeMap<String, String>,
    ) -> Result<Self, HarnessError> {
        let mut queues = BTreeMap::new();
        for (logical, arn) in topics {
            let url = sqs
                .create_queue()
                .queue_name(format!("{stack_name}-mail-{logical}"))
                .send()
                .await
                .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?
                .queue_url
                .unwrap_or_default();
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            let queue_arn = attrs
                .attributes
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                        .cloned()
                })
                .unwrap_or_default();
            sns.subscribe()
                .topic_arn(arn)
                .protocol("sqs")
                .endpoint(queue_arn)
                .send()
                .await
                .map_err(|e| aws(aws_sdk_sns::error::DisplayErrorContext(e)))?;
            queues.insert(logical.clone(), url);
        }
        Ok(Self { queues })
    }

    /// Every message delivered since the last call.
    pub async fn drain(&self, sqs: &aws_sdk_sqs::Client) -> Result<Vec<Mail>, HarnessError> {
        let mut mail = Vec::new();
        for (topic, url) in &self.queues {
            loop {
                let got = sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?;
                let messages = got.messages.unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    let envelope: Value = m
                        .body
                        .as_deref()
                        .and_then(|b| serde_json::from_str(b).ok())
                        .unwrap_or(Value::Null);
                    let text = |k: &str| envelope[k].as_str().unwrap_or_default().to_owned();
                    mail.push(Mail {
                        topic: topic.clone(),
                        subject: text("Subject"),
                        message: text("Message"),
                    });
                    sqs.delete_message()
                        .queue_url(url)
                        .set_receipt_handle(m.receipt_handle)
                        .send()
                        .await
                        .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?;
                }
            }
        }
        Ok(mail)
    }
}
