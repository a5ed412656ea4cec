//! A DynamoDB Streams poller for the local host (`orders serve --backend aws`), standing in for
//! the Lambda event source mapping: it finds the events table's latest stream, follows its
//! shards parent before child, and yields each shard's INSERT records in order, decoded with
//! the writer's codec.
//!
//! Catch-up then live: start at TRIM_HORIZON (the whole retained log, 24 h on AWS) or LATEST;
//! each [`StreamPoller::poll`] returns what is new since the last one (empty when caught up).
//! Positions are kept in memory only: a restarted poller replays from its start position,
//! which the version-guarded projections absorb. A consumer that fails a record calls
//! [`StreamPoller::rewind`] and gets it again (the Lambda's `batchItemFailures`, locally).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError;
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};

use crate::codec;
use crate::config::AwsClients;
use crate::errors::describe;
use crate::projector::ChangeRecord;

/// How often the shard list is refreshed when no shard closed (shards split about every 4 h).
const SHARD_REFRESH: Duration = Duration::from_secs(30);

/// Where a new poller starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// The oldest retained record (replay, then go live).
    TrimHorizon,
    /// Only records written from now on.
    Latest,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("table {0} has no stream (enable NEW_IMAGE streams on it)")]
    NoStream(String),
    /// The service failed or could not be reached; the next poll may succeed.
    #[error("DynamoDB Streams: {0}")]
    Unavailable(String),
}

/// Where the next GetRecords of a shard starts.
#[derive(Debug, Clone)]
enum Position {
    Start(ShardIteratorType),
    At(String),
    After(String),
    Iterator(String),
}

#[derive(Debug)]
struct Shard {
    parent: Option<String>,
    position: Position,
    /// The last sequence number handed out (to resume after an expired iterator).
    last: Option<String>,
    closed: bool,
}

/// Follows one table's stream.
#[derive(Debug)]
pub struct StreamPoller {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: StreamsClient,
    table: String,
    start: StartPosition,
    limit: i32,
    stream_arn: Option<String>,
    shards: BTreeMap<String, Shard>,
    refreshed: Option<Instant>,
}

fn unavailable(e: &(impl std::error::Error + 'static)) -> StreamError {
    StreamError::Unavailable(describe(e))
}

impl StreamPoller {
    pub fn new(clients: &AwsClients, table: impl Into<String>, start: StartPosition) -> Self {
        Self {
            dynamodb: clients.dynamodb.clone(),
            streams: clients.streams.clone(),
            table: table.into(),
            start,
            limit: 1000,
            stream_arn: None,
            shards: BTreeMap::new(),
            refreshed: None,
        }
    }

    /// Caps the records of one GetRecords call (1 to 1000).
    #[must_use]
    pub fn with_batch_limit(mut self, limit: i32) -> Self {
        self.limit = limit.clamp(1, 1000);
        self
    }

    /// The stream's ARN, once found.
    pub fn stream_arn(&self) -> Option<&str> {
        self.stream_arn.as_deref()
    }

    async fn arn(&mut self) -> Result<String, StreamError> {
        if let Some(arn) = &self.stream_arn {
            return Ok(arn.clone());
        }
        let out = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let arn = out
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| StreamError::NoStream(self.table.clone()))?;
        self.stream_arn = Some(arn.clone());
        Ok(arn)
    }

    /// Adds shards not seen yet. The first shards start at the poller's start position; shards
    /// found later (children of split or closed shards) start at their beginning.
    async fn refresh_shards(&mut self, arn: &str) -> Result<(), StreamError> {
        let first = self.refreshed.is_none();
        let mut start_after: Option<String> = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start_after.take())
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            let Some(description) = out.stream_description else {
                break;
            };
            for shard in description.shards.unwrap_or_default() {
                let Some(id) = shard.shard_id else { continue };
                let kind = match (first, self.start) {
                    (true, StartPosition::Latest) => ShardIteratorType::Latest,
                    _ => ShardIteratorType::TrimHorizon,
                };
                self.shards.entry(id).or_insert(Shard {
                    parent: shard.parent_shard_id,
                    position: Position::Start(kind),
                    last: None,
                    closed: false,
                });
            }
            match description.last_evaluated_shard_id {
                Some(id) => start_after = Some(id),
                None => break,
            }
        }
        self.refreshed = Some(Instant::now());
        Ok(())
    }

    async fn iterator(
        &self,
        arn: &str,
        id: &str,
        position: &Position,
    ) -> Result<String, StreamError> {
        let req = self
            .streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(id);
        let req = match position {
            Position::Iterator(it) => return Ok(it.clone()),
            Position::Start(kind) => req.shard_iterator_type(kind.clone()),
            Position::At(seq) => req
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .sequence_number(seq),
            Position::After(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
        };
        req.send()
            .await
            .map_err(|e| unavailable(&e))?
            .shard_iterator
            .ok_or_else(|| StreamError::Unavailable(format!("no iterator for shard {id}")))
    }

    /// Everything new on the stream: each ready shard's records in order, parents before
    /// children. Empty when caught up.
    pub async fn poll(&mut self) -> Result<Vec<ChangeRecord>, StreamError> {
        let arn = self.arn().await?;
        let due = self.refreshed.is_none_or(|t| t.elapsed() >= SHARD_REFRESH);
        if due {
            self.refresh_shards(&arn).await?;
        }
        let mut out = Vec::new();
        let mut any_closed = false;
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            if !self.ready(&id) {
                continue;
            }
            any_closed |= self.poll_shard(&arn, &id, &mut out).await?;
        }
        if any_closed {
            self.refresh_shards(&arn).await?;
        }
        Ok(out)
    }

    /// A shard is read once its parent is done (or gone from the stream).
    fn ready(&self, id: &str) -> bool {
        let Some(shard) = self.shards.get(id) else {
            return false;
        };
        !shard.closed
            && shard
                .parent
                .as_ref()
                .and_then(|p| self.shards.get(p))
                .is_none_or(|p| p.closed)
    }

    /// One GetRecords on shard `id`; returns whether the shard is now closed.
    async fn poll_shard(
        &mut self,
        arn: &str,
        id: &str,
        out: &mut Vec<ChangeRecord>,
    ) -> Result<bool, StreamError> {
        let Some(position) = self.shards.get(id).map(|s| s.position.clone()) else {
            return Ok(false);
        };
        let iterator = self.iterator(arn, id, &position).await?;
        let result = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(self.limit)
            .send()
            .await;
        let Some(shard) = self.shards.get_mut(id) else {
            return Ok(false);
        };
        let page = match result {
            Ok(page) => page,
            Err(e) => {
                match e.as_service_error() {
                    // Iterators live 15 minutes: resume after the last record handed out.
                    Some(GetRecordsError::ExpiredIteratorException(_)) => {
                        shard.position = shard.last.clone().map_or(
                            Position::Start(ShardIteratorType::TrimHorizon),
                            Position::After,
                        );
                    }
                    Some(GetRecordsError::TrimmedDataAccessException(_)) => {
                        tracing::warn!(shard = id, "records past retention were skipped");
                        shard.position = Position::Start(ShardIteratorType::TrimHorizon);
                    }
                    _ => return Err(unavailable(&e)),
                }
                return Ok(false);
            }
        };
        for record in page.records.unwrap_or_default() {
            let Some(change) = record.dynamodb else {
                continue;
            };
            let Some(seq) = change.sequence_number else {
                continue;
            };
            shard.last = Some(seq.clone());
            if record.event_name != Some(OperationType::Insert) {
                tracing::warn!(shard = id, sequence_number = %seq, "non-INSERT record ignored");
                continue;
            }
            out.push(ChangeRecord {
                shard_id: Some(id.to_owned()),
                sequence_number: seq,
                event: codec::decode(change.new_image.unwrap_or_default()),
            });
        }
        if let Some(next) = page.next_shard_iterator {
            shard.position = Position::Iterator(next);
            Ok(false)
        } else {
            shard.closed = true;
            Ok(true)
        }
    }

    /// Hands the failed records out again on the next poll: each shard restarts at its first
    /// record among `failed` (sequence numbers, as [`crate::projector::BatchReport`] lists
    /// them). `records` is the batch they came from.
    pub fn rewind(&mut self, records: &[ChangeRecord], failed: &[String]) {
        let failed: HashSet<&str> = failed.iter().map(String::as_str).collect();
        let mut done = HashSet::new();
        for r in records {
            let Some(shard_id) = &r.shard_id else {
                continue;
            };
            if !failed.contains(r.sequence_number.as_str()) || !done.insert(shard_id.clone()) {
                continue;
            }
            if let Some(shard) = self.shards.get_mut(shard_id) {
                shard.position = Position::At(r.sequence_number.clone());
                shard.closed = false;
            }
        }
    }
}
