//! StreamProcessingDeadLetterQueue: the event projector's event source mapping gave up on a
//! batch and sent an on-failure record there. The record does not hold the stream records, it
//! names them (`DDBStreamBatchInfo`: stream, shard, first and last sequence number), so a
//! redrive reads that range from the stream again and hands it to the consumer ([`Reproject`]:
//! both views and the forwarder, as EventProjectorLambda runs them). Everything it repeats is
//! harmless: the views skip versions they hold, the bus events keep their log ids.
//!
//! The stream keeps records 24 hours: past that the range is gone (TrimmedDataAccessException),
//! the letter stays, and `orders replay --rebuild` rebuilds the views from the log instead.

use std::future::Future;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};
use order_domain::ports::{PortError, Redrive};
use serde::Deserialize;

use super::sources::Redeliver;
use crate::codec;
use crate::errors::port_error;
use crate::projector::ChangeRecord;

/// At most this many GetRecords pages per redrive (a batch is at most 100 records).
const MAX_PAGES: usize = 50;

/// The stream consumer a redrive hands the records to.
pub trait Reproject: Send + Sync + 'static {
    /// Handles `records`; `Err` names the first one that failed.
    fn reproject(
        &self,
        records: &[ChangeRecord],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The range an on-failure record names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub stream_arn: String,
}

/// The `DDBStreamBatchInfo` of an on-failure record.
///
/// # Errors
/// When the body is not such a record.
pub fn batch_info(body: &str) -> Result<BatchInfo, PortError> {
    #[derive(Deserialize)]
    struct Record {
        #[serde(rename = "DDBStreamBatchInfo")]
        info: BatchInfo,
    }
    serde_json::from_str::<Record>(body)
        .map(|r| r.info)
        .map_err(|e| PortError(format!("no DDBStreamBatchInfo in the message: {e}")))
}

/// Sequence numbers are decimal strings of varying length: compared as numbers.
fn after(seq: &str, end: &str) -> bool {
    (seq.len(), seq) > (end.len(), end)
}

/// The way back of StreamProcessingDeadLetterQueue: read the range, hand it to `consumer`.
pub struct ReRead<C> {
    pub streams: Client,
    pub consumer: C,
}

impl<C> ReRead<C> {
    /// The INSERT records of `info`'s range, in order.
    ///
    /// # Errors
    /// When the stream cannot be read, or no longer holds the range.
    pub async fn records(&self, info: &BatchInfo) -> Result<Vec<ChangeRecord>, PortError> {
        let context = format!("shard {} of {}", info.shard_id, info.stream_arn);
        let mut iterator = self
            .streams
            .get_shard_iterator()
            .stream_arn(&info.stream_arn)
            .shard_id(&info.shard_id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&info.start_sequence_number)
            .send()
            .await
            .map_err(|e| port_error(&context, &e))?
            .shard_iterator;
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let Some(it) = iterator.take() else { break };
            let page = self
                .streams
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .map_err(|e| port_error(&context, &e))?;
            let records = page.records.unwrap_or_default();
            if records.is_empty() {
                break;
            }
            for record in records {
                let Some(change) = record.dynamodb else {
                    continue;
                };
                let Some(seq) = change.sequence_number else {
                    continue;
                };
                if after(&seq, &info.end_sequence_number) {
                    return Ok(out);
                }
                if record.event_name == Some(OperationType::Insert) {
                    out.push(ChangeRecord {
                        shard_id: Some(info.shard_id.clone()),
                        sequence_number: seq,
                        event: codec::decode(change.new_image.unwrap_or_default()),
                    });
                }
            }
            iterator = page.next_shard_iterator;
        }
        Ok(out)
    }
}

impl<C: Reproject> Redeliver for ReRead<C> {
    fn target_of(&self, body: &str) -> String {
        batch_info(body).map_or_else(
            |_| "unreadable record".to_owned(),
            |i| {
                format!(
                    "stream shard {} [{}..{}]",
                    i.shard_id, i.start_sequence_number, i.end_sequence_number
                )
            },
        )
    }

    async fn redeliver(&self, body: &str) -> Result<Redrive, PortError> {
        let info = batch_info(body)?;
        let records = self.records(&info).await?;
        tracing::info!(
            shard = %info.shard_id,
            records = records.len(),
            "stream range read again"
        );
        self.consumer.reproject(&records).await?;
        Ok(Redrive::Redriven)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_on_failure_record_names_its_range() {
        let body = serde_json::json!({
            "requestContext": { "condition": "RetryAttemptsExhausted" },
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": "shardId-1", "startSequenceNumber": "900",
                "endSequenceNumber": "1000", "batchSize": 2,
                "streamArn": "arn:aws:dynamodb:us-east-1:1:table/e/stream/x"
            }
        });
        let info = batch_info(&body.to_string()).unwrap();
        assert_eq!(info.shard_id, "shardId-1");
        assert!(after("1001", &info.end_sequence_number));
        assert!(!after("999", &info.end_sequence_number));
        assert!(!after("1000", &info.end_sequence_number));
        assert!(batch_info("{}").is_err());
    }
}
