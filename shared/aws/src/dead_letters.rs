//! OrdersQueue's dead letters on SQS (OrdersDeadLetterQueue, where SQS's redrive policy moves a
//! message after maxReceiveCount receives).
//!
//! A redrive does by hand what SQS's console does: receive from the DLQ, send the body to the
//! source queue, delete it from the DLQ. Listing receives every message (hiding each for the
//! DLQ's visibility timeout) and then makes the ones it did not consume visible again, so a look
//! never loses a message; a redrive that does not find its letter while another look holds
//! the queue's letters waits for them to come back; a concurrent redrive of the same id finds
//! it gone (or, after the wait, still held) and does nothing.
//! A crash between the send and the delete leaves one duplicate, which the consumer absorbs (an
//! execution is named by its order). SQS keeps a message's id when it dead-letters it, so the id
//! is the one the consumer's logs named; a redriven message gets a new one.
//!
//! The other dead-letter queues of the stack (the rules', the stream mapping's, the email
//! subscriptions') are [`sources`]: the same look-then-redrive, each with its own way back.

use std::time::Duration;

use order_domain::ports::{DeadLetter, DeadLetters, PortError, Redrive};

use crate::polled::SqsPolled;
use crate::queue::{ReceivedMessage, SqsQueue};

/// Receives until the DLQ is empty, at most this many rounds of ten.
const MAX_ROUNDS: usize = 100;

pub mod sources;
pub mod streams;

/// A queue's name: the last segment of its URL.
pub(crate) fn name_of(url: &str) -> String {
    url.rsplit('/').next().unwrap_or(url).to_owned()
}

/// Every message of `dlq`, received (so hidden) until it is given back or deleted.
pub(crate) async fn take_all(dlq: &SqsQueue) -> Result<Vec<ReceivedMessage>, PortError> {
    let mut all: Vec<ReceivedMessage> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let got = dlq.receive(10, Duration::from_secs(1)).await?;
        if got.is_empty() {
            break;
        }
        for m in got {
            if !all.iter().any(|a| a.message_id == m.message_id) {
                all.push(m);
            }
        }
    }
    Ok(all)
}

/// Makes received messages visible again.
pub(crate) async fn give_back(
    dlq: &SqsQueue,
    messages: &[ReceivedMessage],
) -> Result<(), PortError> {
    for m in messages {
        dlq.retry_after(&m.receipt, Duration::ZERO).await?;
    }
    Ok(())
}

/// How long [`take_one`] keeps looking for a letter while someone else holds the queue's
/// letters: a look ([`take_all`], then [`give_back`]: another operator's list, the console's
/// refresh every two seconds) hides every letter for a second or two.
const LOOK_WAIT: Duration = Duration::from_secs(5);

/// Takes the message `id` out of `all` (giving the others back at once); `None` when it is not
/// there. A letter another look is holding is waited for (up to [`LOOK_WAIT`]), so a redrive
/// beside an open console does not answer "not dead-lettered" for a letter that is; a letter
/// that is not there costs a second look.
pub(crate) async fn take_one(
    dlq: &SqsQueue,
    id: &str,
) -> Result<Option<ReceivedMessage>, PortError> {
    let deadline = tokio::time::Instant::now() + LOOK_WAIT;
    for round in 1.. {
        let mut all = take_all(dlq).await?;
        let found = all
            .iter()
            .position(|m| m.message_id == id)
            .map(|at| all.swap_remove(at));
        give_back(dlq, &all).await?;
        if found.is_some() || tokio::time::Instant::now() >= deadline {
            return Ok(found);
        }
        // Another look may have given its letters back after our receives ended: look once
        // more, and again while someone still holds letters.
        if round > 1 && dlq.in_flight().await? == 0 {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(None)
}

impl SqsPolled {
    fn dlq(&self) -> Option<SqsQueue> {
        self.dlq_url()
            .map(|url| SqsQueue::new(self.client().clone(), url))
    }

    fn letter(&self, dlq: &SqsQueue, m: &ReceivedMessage) -> DeadLetter {
        DeadLetter {
            id: m.message_id.clone(),
            body: m.body.clone(),
            queue: name_of(dlq.url()),
            source_queue: name_of(self.queue().url()),
            sent_at_ms: None,
            receive_count: Some(m.receive_count),
        }
    }
}

impl DeadLetters for SqsPolled {
    async fn list(&self) -> Result<Vec<DeadLetter>, PortError> {
        let Some(dlq) = self.dlq() else {
            return Ok(Vec::new());
        };
        let all = take_all(&dlq).await?;
        give_back(&dlq, &all).await?;
        Ok(all.iter().map(|m| self.letter(&dlq, m)).collect())
    }

    async fn show(&self, id: &str) -> Result<Option<DeadLetter>, PortError> {
        Ok(self.list().await?.into_iter().find(|l| l.id == id))
    }

    async fn redrive(&self, id: &str) -> Result<Redrive, PortError> {
        let Some(dlq) = self.dlq() else {
            return Ok(Redrive::NotDeadLettered);
        };
        let Some(letter) = take_one(&dlq, id).await? else {
            return Ok(Redrive::NotDeadLettered);
        };
        self.queue().send(letter.body.clone()).await?;
        dlq.delete(&letter.receipt).await?;
        Ok(Redrive::Redriven)
    }
}

/// The URL of the DLQ that `queue_url`'s redrive policy names, if it has one: how the CLI finds
/// OrdersDeadLetterQueue without a variable of its own.
///
/// # Errors
/// When SQS cannot be asked, or the policy names a queue that cannot be found.
pub async fn dead_letter_queue_of(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<Option<String>, PortError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attributes = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|e| PortError(format!("redrive policy of {queue_url}: {e}")))?;
    let Some(policy) = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
    else {
        return Ok(None);
    };
    let arn = serde_json::from_str::<serde_json::Value>(policy)
        .ok()
        .and_then(|p| p.get("deadLetterTargetArn")?.as_str().map(str::to_owned))
        .ok_or_else(|| {
            PortError(format!(
                "redrive policy of {queue_url} names no DLQ: {policy}"
            ))
        })?;
    let name = arn.rsplit(':').next().unwrap_or(&arn);
    let url = client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| PortError(format!("URL of {name}: {e}")))?;
    Ok(url.queue_url)
}
