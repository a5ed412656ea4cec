//! OrdersQueue on SQS: `enqueue` for the API, `receive` / `delete` for the local poller that
//! stands in for the Lambda event source mapping. Body `{"orderId":"<ULID>"}` (the contract).
//! Redelivery and dead-lettering are SQS's own (redrive policy, maxReceiveCount 5).

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use order_domain::OrderId;
use order_domain::ports::{OrderQueue, PortError};

use crate::config::{AwsClients, ConfigError, ORDERS_QUEUE_URL, require_env};
use crate::errors::port_error;

/// SQS's limits on one ReceiveMessage call.
const MAX_BATCH: usize = 10;
const MAX_WAIT: Duration = Duration::from_secs(20);

/// A received message; `receipt` deletes it or changes its visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    /// How many times SQS has handed it out (1 on the first delivery).
    pub receive_count: u32,
}

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// OrdersQueue, named by `ORDERS_QUEUE_URL`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.sqs().clone(),
            require_env(ORDERS_QUEUE_URL)?,
        ))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, e: &(impl std::error::Error + 'static)) -> PortError {
        port_error(&format!("queue {}", self.url), e)
    }

    /// How many of its messages are received and not yet deleted or given back (SQS's
    /// approximate count).
    pub async fn in_flight(&self) -> Result<u64, PortError> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let name = QueueAttributeName::ApproximateNumberOfMessagesNotVisible;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(name.clone())
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Sends a raw body.
    pub async fn send(&self, body: String) -> Result<(), PortError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.err(&e))
    }

    /// Up to `max` (at most 10) messages, long-polling up to `wait` (at most 20 s).
    pub async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1))
            .wait_time_seconds(i32::try_from(wait.min(MAX_WAIT).as_secs()).unwrap_or(0))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(ReceivedMessage {
                    message_id: m.message_id?,
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect())
    }

    /// Deletes a handled message.
    pub async fn delete(&self, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.err(&e))
    }

    /// Deletes handled messages, ten to a `DeleteMessageBatch` (SQS's most per call). Every
    /// batch is tried; an entry SQS refuses is named in the error, and its message comes back
    /// after its visibility timeout, which consumers treat as a duplicate.
    pub async fn delete_batch(&self, receipts: &[&str]) -> Result<(), PortError> {
        let mut refused = Vec::new();
        for batch in receipts.chunks(10) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*receipt)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(&e))?;
            match self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => refused.extend(
                    out.failed()
                        .iter()
                        .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or_default())),
                ),
                Err(e) => refused.push(self.err(&e).0),
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(PortError(format!(
                "queue {}: deletes refused: {}",
                self.url,
                refused.join("; ")
            )))
        }
    }

    /// Makes a received message visible again after `delay` (a retry with backoff).
    pub async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(i32::MAX))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.err(&e))
    }
}

impl OrderQueue for SqsQueue {
    #[tracing::instrument(skip(self), fields(queue = %self.url))]
    async fn enqueue(&self, order_id: OrderId) -> Result<(), PortError> {
        self.send(serde_json::json!({ "orderId": order_id }).to_string())
            .await
    }
}
