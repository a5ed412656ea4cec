//! SQS as the local runtime's polled queue: the `PolledQueue` port over OrdersQueue (and its
//! DLQ's depth for the alarm), for `orders serve --backend aws`, where a local consumer stands
//! in for the Lambda event source mapping.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use order_domain::OrderId;
use order_domain::ports::{OrderQueue, PolledQueue, PortError};

use crate::queue::{ReceivedMessage, SqsQueue};

/// OrdersQueue as the local consumer polls it.
#[derive(Debug, Clone)]
pub struct SqsPolled {
    queue: SqsQueue,
    client: aws_sdk_sqs::Client,
    dlq_url: Option<String>,
}

impl SqsPolled {
    /// The queue at `url`; `dlq_url`, when known, is counted by [`PolledQueue::depth`].
    pub fn new(client: aws_sdk_sqs::Client, url: &str, dlq_url: Option<String>) -> Self {
        Self {
            queue: SqsQueue::new(client.clone(), url),
            client,
            dlq_url,
        }
    }

    /// The queue it polls (for the API's enqueue).
    pub fn queue(&self) -> &SqsQueue {
        &self.queue
    }

    /// Its dead-letter queue's URL, when known.
    pub fn dlq_url(&self) -> Option<&str> {
        self.dlq_url.as_deref()
    }

    pub(crate) fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    /// The sum of `attributes` of the queue at `url` (approximate counts).
    async fn count(&self, url: &str, attributes: &[QueueAttributeName]) -> Result<u64, PortError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(attributes.to_vec()))
            .send()
            .await
            .map_err(|e| PortError(format!("queue attributes of {url}: {e}")))?;
        Ok(attributes
            .iter()
            .filter_map(|name| out.attributes()?.get(name)?.parse::<u64>().ok())
            .sum())
    }
}

impl OrderQueue for SqsPolled {
    async fn enqueue(&self, order_id: OrderId) -> Result<(), PortError> {
        self.queue.enqueue(order_id).await
    }
}

impl PolledQueue for SqsPolled {
    type Message = ReceivedMessage;

    async fn receive(&self, max: usize) -> Result<Vec<Self::Message>, PortError> {
        self.queue
            .receive(max.min(10), Duration::from_secs(1))
            .await
    }
    fn body(m: &Self::Message) -> &str {
        &m.body
    }
    fn message_id(m: &Self::Message) -> String {
        m.message_id.clone()
    }
    fn receive_count(m: &Self::Message) -> u32 {
        m.receive_count
    }
    async fn delete(&self, m: &Self::Message) -> Result<(), PortError> {
        self.queue.delete(&m.receipt).await
    }
    async fn delete_batch(&self, messages: &[&Self::Message]) -> Result<(), PortError> {
        let receipts: Vec<&str> = messages.iter().map(|m| m.receipt.as_str()).collect();
        self.queue.delete_batch(&receipts).await
    }
    async fn retry_after(&self, m: &Self::Message, delay_ms: i64) -> Result<(), PortError> {
        let delay = Duration::from_millis(u64::try_from(delay_ms).unwrap_or(0));
        self.queue.retry_after(&m.receipt, delay).await
    }
    async fn depth(&self) -> Result<(u64, u64), PortError> {
        let visible = self
            .count(
                self.queue.url(),
                &[QueueAttributeName::ApproximateNumberOfMessages],
            )
            .await?;
        // A dead letter someone is looking at (`orders dlq list` hides each for a moment, a
        // redrive holds it until it is sent back) is still a dead letter: counting only the
        // visible ones let the dead-letter alarm drop to OK and rise again while a redrive
        // listed the queue, as the embedded DLQ, which has no visibility, never did.
        let dlq = match &self.dlq_url {
            Some(url) => {
                self.count(
                    url,
                    &[
                        QueueAttributeName::ApproximateNumberOfMessages,
                        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                    ],
                )
                .await?
            }
            None => 0,
        };
        Ok((visible, dlq))
    }
}
