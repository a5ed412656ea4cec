//! The event log on DynamoDB: partition key `streamId`, sort key `version`, Streams NEW_IMAGE.
//!
//! - Reads are strongly consistent Queries, paged through `LastEvaluatedKey` (a page is at most
//!   1 MB: a reader that takes one page loses the rest of a long stream).
//! - An append is first checked by the domain's `check_append` (version sequence, size), the
//!   same check the SQLite store makes. An append of one event to one stream is then a
//!   conditional `PutItem` (one write unit); anything wider is one `TransactWriteItems` (two
//!   units per item), one item per event and one `ConditionCheck` per event-less write,
//!   atomic up to 100 items and never split. Every put and check is guarded by
//!   `attribute_not_exists(streamId)` on the `(streamId, expected_version + 1)` key: versions
//!   are contiguous, so that item exists exactly when another writer moved the stream first.
//! - `decide_and_append` retries a conflict with full jitter, a bounded number of times: in a
//!   flash sale many writers race on one product's stream, and the losers decide again on the
//!   fresh head instead of failing.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use order_domain::append::check_append;
use order_domain::ports::{DecideError, EventStore, StoreError};
use order_domain::{RecordedEvent, StreamId, StreamWrite};
use tokio::task::JoinSet;

use crate::codec::{self, STREAM_ID, VERSION};
use crate::config::{AwsClients, ConfigError, EVENTS_TABLE, require_env};
use crate::errors::describe;

/// How [`DynamoEventStore::decide_and_append`] retries a lost race: full jitter, i.e. a random
/// pause in `0..=min(cap, base × 2^attempt)` before deciding again on fresh heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictRetry {
    pub max_retries: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for ConflictRetry {
    fn default() -> Self {
        Self {
            max_retries: 10,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(500),
        }
    }
}

impl ConflictRetry {
    /// The pause before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1_u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ms))
    }
}

/// The event log on a DynamoDB table of the contract's shape (EVENTS_TABLE).
#[derive(Debug, Clone)]
pub struct DynamoEventStore {
    client: Client,
    table: String,
    page_limit: Option<i32>,
    retry: ConflictRetry,
}

fn unavailable(err: &(impl std::error::Error + 'static)) -> StoreError {
    StoreError::Unavailable(describe(err))
}

#[allow(clippy::needless_pass_by_value)] // a `map_err` adapter
fn corrupt(err: codec::CodecError) -> StoreError {
    StoreError::Corrupt(err.to_string())
}

impl DynamoEventStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page_limit: None,
            retry: ConflictRetry::default(),
        }
    }

    /// The store on the table named by `EVENTS_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.dynamodb().clone(),
            require_env(EVENTS_TABLE)?,
        ))
    }

    /// Caps each Query page at `items` (DynamoDB's own cap is 1 MB); tests use it to cross pages.
    #[must_use]
    pub fn with_page_limit(mut self, items: i32) -> Self {
        self.page_limit = Some(items.max(1));
        self
    }

    #[must_use]
    pub fn with_conflict_retry(mut self, retry: ConflictRetry) -> Self {
        self.retry = retry;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The last event of one stream (strongly consistent).
    pub async fn read_head(&self, stream: &StreamId) -> Result<Option<RecordedEvent>, StoreError> {
        head(&self.client, &self.table, stream).await
    }

    async fn put_one(
        &self,
        event: &RecordedEvent,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(codec::encode(event).map_err(corrupt)?))
            .condition_expression("attribute_not_exists(#s)")
            .expression_attribute_names("#s", STREAM_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Err(StoreError::Conflict {
                        stream: event.stream_id.to_string(),
                        expected_version,
                    })
                }
                _ => Err(unavailable(&e)),
            },
        }
    }

    /// One event's put as an action of a `TransactWriteItems`, guarded as every append is.
    pub(crate) fn event_put(&self, event: &RecordedEvent) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(codec::encode(event).map_err(corrupt)?))
            .condition_expression("attribute_not_exists(#s)")
            .expression_attribute_names("#s", STREAM_ID)
            .build()
            .map_err(|e| unavailable(&e))
    }

    async fn transact(&self, writes: &[StreamWrite]) -> Result<(), StoreError> {
        // One action per event, plus a guard for each stream that must stay put without moving
        // (`StreamWrite::items`); `owners[i]` is the stream write behind action `i`, to name it
        // in a Conflict.
        let mut actions = Vec::new();
        let mut owners = Vec::new();
        for w in writes {
            if w.events.is_empty() {
                actions.push(
                    TransactWriteItem::builder().condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(codec::key(&w.stream_id, w.expected_version + 1)))
                            .condition_expression("attribute_not_exists(#s)")
                            .expression_attribute_names("#s", STREAM_ID)
                            .build()
                            .map_err(|e| unavailable(&e))?,
                    ),
                );
                owners.push(w);
            }
            for event in &w.events {
                actions.push(TransactWriteItem::builder().put(self.event_put(event)?));
                owners.push(w);
            }
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(
                actions
                    .into_iter()
                    .map(aws_sdk_dynamodb::types::builders::TransactWriteItemBuilder::build)
                    .collect(),
            ))
            .send()
            .await;
        let Err(e) = result else { return Ok(()) };
        let conflict = |w: &StreamWrite| StoreError::Conflict {
            stream: w.stream_id.to_string(),
            expected_version: w.expected_version,
        };
        match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
                // A failed guard, or another transaction on the same item right now: either way
                // a concurrent writer, which the caller answers by reloading and deciding again.
                let reasons = t.cancellation_reasons();
                let lost = reasons.iter().position(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed" | "TransactionConflict")
                    )
                });
                match lost.and_then(|i| owners.get(i)) {
                    Some(w) => Err(conflict(w)),
                    None if reasons.is_empty()
                        && t.message()
                            .is_some_and(|m| m.contains("ConditionalCheckFailed")) =>
                    {
                        Err(conflict(&writes[0]))
                    }
                    None => Err(unavailable(&e)),
                }
            }
            _ => Err(unavailable(&e)),
        }
    }
}

async fn head(
    client: &Client,
    table: &str,
    stream: &StreamId,
) -> Result<Option<RecordedEvent>, StoreError> {
    let page = client
        .query()
        .table_name(table)
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", STREAM_ID)
        .expression_attribute_values(":s", AttributeValue::S(stream.as_str().to_owned()))
        .scan_index_forward(false)
        .limit(1)
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| unavailable(&e))?;
    page.items
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(codec::decode)
        .transpose()
        .map_err(corrupt)
}

impl EventStore for DynamoEventStore {
    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#s = :s AND #v > :v")
                .expression_attribute_names("#s", STREAM_ID)
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":s", AttributeValue::S(stream.as_str().to_owned()))
                .expression_attribute_values(":v", AttributeValue::N(after_version.to_string()))
                .consistent_read(true)
                .set_limit(self.page_limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            for item in page.items.unwrap_or_default() {
                out.push(codec::decode(item).map_err(corrupt)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    async fn read_heads(
        &self,
        streams: &[StreamId],
    ) -> Result<Vec<Option<RecordedEvent>>, StoreError> {
        if let [one] = streams {
            return Ok(vec![self.read_head(one).await?]);
        }
        let mut tasks = JoinSet::new();
        for (i, stream) in streams.iter().enumerate() {
            let (client, table, stream) = (self.client.clone(), self.table.clone(), stream.clone());
            tasks.spawn(async move { (i, head(&client, &table, &stream).await) });
        }
        let mut heads = vec![None; streams.len()];
        while let Some(joined) = tasks.join_next().await {
            let (i, head) = joined.map_err(|e| StoreError::Unavailable(e.to_string()))?;
            heads[i] = head?;
        }
        Ok(heads)
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, streams = writes.len()))]
    async fn append(&self, writes: Vec<StreamWrite>) -> Result<(), StoreError> {
        if check_append(&writes)? == 0 {
            return Ok(());
        }
        match writes.as_slice() {
            [only] if only.events.len() == 1 => {
                self.put_one(&only.events[0], only.expected_version).await
            }
            _ => self.transact(&writes).await,
        }
    }

    #[tracing::instrument(skip_all, fields(table = %self.table, streams = streams.len()))]
    async fn decide_and_append<T, E, F>(
        &self,
        streams: Vec<StreamId>,
        mut decide: F,
    ) -> Result<T, DecideError<E>>
    where
        F: FnMut(&[Option<RecordedEvent>]) -> Result<(Vec<StreamWrite>, T), E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let mut attempt = 0;
        loop {
            let heads = self
                .read_heads(&streams)
                .await
                .map_err(DecideError::Store)?;
            let (writes, outcome) = decide(&heads).map_err(DecideError::Refused)?;
            match self.append(writes).await {
                Ok(()) => return Ok(outcome),
                // Fresh heads only help when the conflict is on a stream whose head was read.
                Err(StoreError::Conflict { stream, .. })
                    if attempt < self.retry.max_retries
                        && streams.iter().any(|s| s.as_str() == stream) =>
                {
                    attempt += 1;
                    let pause = self.retry.delay(attempt);
                    tracing::debug!(%stream, attempt, ?pause, "conflict, deciding again");
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(DecideError::Store(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jittered_pause_never_exceeds_its_cap() {
        let r = ConflictRetry::default();
        for attempt in 1..=40 {
            assert!(r.delay(attempt) <= r.cap);
        }
        assert!(r.delay(1) <= Duration::from_millis(20));
    }
}
