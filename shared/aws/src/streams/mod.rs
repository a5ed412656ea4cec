//! A DynamoDB Streams poller for the local host (`orders serve --backend aws`), standing in for
//! the Lambda event source mapping: it finds the events table's latest stream, follows its
//! shards parent before child, and yields each shard's INSERT records in order, decoded with
//! the writer's codec.
//!
//! Catch-up then live: start at TRIM_HORIZON (the whole retained log, 24 h on AWS) or LATEST;
//! each [`StreamPoller::poll`] returns what is new since the last one (empty when caught up).
//! A consumer that fails a record calls [`StreamPoller::rewind`] and gets it again (the
//! Lambda's `batchItemFailures`, locally).
//!
//! Positions survive a restart when the consumer keeps them: it saves [`handled_positions`] after each
//! batch (the host keeps them in its own database) and gives them back to
//! [`StreamPoller::resume_after`], which reads each known shard AFTER_SEQUENCE_NUMBER its
//! position. Shards it has no position for start at TRIM_HORIZON, and so does a shard whose
//! position the stream has trimmed away (logged: what lay between was never handled).

mod handled;

pub use handled::handled_positions;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError;
use aws_sdk_dynamodbstreams::operation::get_shard_iterator::GetShardIteratorError;
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
    /// A position names a record the stream no longer holds (handled inside the poller).
    #[error("the position was trimmed from the stream")]
    Trimmed,
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
    /// A refresh failed after a shard closed: the next poll refreshes first, to find its
    /// children.
    refresh_due: bool,
    /// Saved positions (shard id → last sequence number handled), used when a shard is first
    /// seen.
    resume: HashMap<String, String>,
}

fn unavailable(e: &(impl std::error::Error + 'static)) -> StreamError {
    StreamError::Unavailable(describe(e))
}

impl StreamPoller {
    pub fn new(clients: &AwsClients, table: impl Into<String>, start: StartPosition) -> Self {
        Self {
            dynamodb: clients.dynamodb().clone(),
            streams: clients.streams().clone(),
            table: table.into(),
            start,
            limit: 1000,
            stream_arn: None,
            shards: BTreeMap::new(),
            refreshed: None,
            refresh_due: false,
            resume: HashMap::new(),
        }
    }

    /// Resumes each shard in `positions` (shard id → the last sequence number handled, as
    /// [`handled_positions`] gave them) just after that record, instead of at the start position.
    #[must_use]
    pub fn resume_after(mut self, positions: HashMap<String, String>) -> Self {
        self.resume = positions;
        self
    }

    /// Caps the records of one GetRecords call (1 to 1000).
    #[must_use]
    pub fn with_batch_limit(mut self, limit: i32) -> Self {
        self.limit = limit.clamp(1, 1000);
        self
    }

    /// The most records one GetRecords call returns.
    pub fn batch_limit(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(1)
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
                if self.shards.contains_key(&id) {
                    continue;
                }
                let saved = self.resume.remove(&id);
                let position = match (&saved, first, self.start) {
                    (Some(seq), _, _) => Position::After(seq.clone()),
                    (None, true, StartPosition::Latest) => {
                        Position::Start(ShardIteratorType::Latest)
                    }
                    _ => Position::Start(ShardIteratorType::TrimHorizon),
                };
                self.shards.insert(
                    id,
                    Shard {
                        parent: shard.parent_shard_id,
                        position,
                        last: saved,
                        closed: false,
                    },
                );
            }
            match description.last_evaluated_shard_id {
                Some(id) => start_after = Some(id),
                None => break,
            }
        }
        self.refreshed = Some(Instant::now());
        self.refresh_due = false;
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
        match req.send().await {
            Ok(out) => out
                .shard_iterator
                .ok_or_else(|| StreamError::Unavailable(format!("no iterator for shard {id}"))),
            Err(e) => match e.as_service_error() {
                Some(GetShardIteratorError::TrimmedDataAccessException(_)) => {
                    Err(StreamError::Trimmed)
                }
                _ => Err(unavailable(&e)),
            },
        }
    }

    /// An iterator at `position`, or at TRIM_HORIZON when the stream no longer holds the
    /// record `position` names (a saved position older than the retention period).
    async fn iterator_or_oldest(
        &mut self,
        arn: &str,
        id: &str,
        position: &Position,
    ) -> Result<String, StreamError> {
        match self.iterator(arn, id, position).await {
            Err(StreamError::Trimmed) => {
                tracing::warn!(
                    shard = id,
                    "the saved position was trimmed from the stream: reading from TRIM_HORIZON, \
                     the records in between were never handled"
                );
                let oldest = Position::Start(ShardIteratorType::TrimHorizon);
                if let Some(shard) = self.shards.get_mut(id) {
                    shard.position = oldest.clone();
                    shard.last = None;
                }
                self.iterator(arn, id, &oldest).await
            }
            other => other,
        }
    }

    /// Everything new on the stream: each ready shard's records in order, parents before
    /// children. Empty when caught up.
    ///
    /// A shard's position moves as its records are read, so the records read before a later
    /// call of the same poll fails (another shard's read, the refresh after a shard closed) are
    /// handed out all the same, and the failed call is made again by the next poll: dropping
    /// them would skip them for good. The error is returned only when nothing was read.
    pub async fn poll(&mut self) -> Result<Vec<ChangeRecord>, StreamError> {
        let arn = self.arn().await?;
        let due = self.refresh_due || self.refreshed.is_none_or(|t| t.elapsed() >= SHARD_REFRESH);
        if due {
            self.refresh_shards(&arn).await?;
        }
        let mut out = Vec::new();
        let mut any_closed = false;
        let mut failed = None;
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            if !self.ready(&id) {
                continue;
            }
            match self.poll_shard(&arn, &id, &mut out).await {
                Ok(closed) => any_closed |= closed,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if any_closed && let Err(e) = self.refresh_shards(&arn).await {
            self.refresh_due = true;
            failed.get_or_insert(e);
        }
        match failed {
            None => Ok(out),
            Some(e) if out.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(
                    error = %e,
                    records = out.len(),
                    "part of the stream could not be read: handing out what was, the rest next poll"
                );
                Ok(out)
            }
        }
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
        let iterator = self.iterator_or_oldest(arn, id, &position).await?;
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

#[cfg(test)]
mod tests;
