//! The Streams projector, shared by the event projector Lambda (`order_lambda::project`, both
//! views in one invocation) and the local stream poller.
//!
//! Each record goes through the one projection step, `order_read_models::advance`: a repeated
//! or older record is skipped, the next version is applied, a record past a gap makes the
//! projector fold the stream's history from the log. The result is written with the read
//! model's version guard, so two projector instances racing on one row cannot move it back.
//!
//! A stream consumer must keep per-key order, so a batch stops at its first failing record and
//! reports it and everything after it (`batchItemFailures`: Lambda then retries from the first
//! of them); the records before it are done and checkpointed.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use order_app::trace::project_span;
use order_domain::RecordedEvent;
pub use order_read_models::Applied;
use order_read_models::{AdvanceError, advance};
use tracing::Instrument;

use crate::codec::{self, CodecError};
use crate::event_store::DynamoEventStore;
use crate::read_models::{InventoryTable, OrderStatusTable};

/// One record of the events table's stream.
#[derive(Debug)]
pub struct ChangeRecord {
    /// The shard it was read from (the local poller); `None` in a Lambda event.
    pub shard_id: Option<String>,
    /// Its sequence number: the Lambda's `itemIdentifier`, the poller's checkpoint.
    pub sequence_number: String,
    /// The decoded NewImage, or why it did not decode.
    pub event: Result<RecordedEvent, CodecError>,
}

/// Decodes a Lambda stream record. `None` for anything but an INSERT: the log is append-only,
/// so a MODIFY or REMOVE is not an event to project (it is logged).
pub fn decode_lambda_record(record: &EventRecord) -> Option<ChangeRecord> {
    let sequence_number = record.change.sequence_number.clone().unwrap_or_default();
    if record.event_name != "INSERT" {
        tracing::warn!(
            event_name = %record.event_name,
            %sequence_number,
            "non-INSERT record on the append-only events table: ignored"
        );
        return None;
    }
    Some(ChangeRecord {
        shard_id: None,
        sequence_number,
        event: codec::decode(record.change.new_image.clone()),
    })
}

/// Which read model a projector keeps.
#[derive(Debug, Clone)]
pub enum Target {
    OrderStatus(OrderStatusTable),
    Inventory(InventoryTable),
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("undecodable stream record: {0}")]
    Undecodable(String),
    #[error(transparent)]
    Advance(#[from] AdvanceError),
}

/// How a batch went: records before `failed` are done; `failed` lists the sequence numbers of
/// the first failing record and every record after it.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub applied: usize,
    pub failed: Vec<String>,
    pub error: Option<ProjectError>,
}

/// Keeps one read model from the events table's stream.
#[derive(Debug, Clone)]
pub struct Projector {
    store: DynamoEventStore,
    target: Target,
}

impl Projector {
    /// `store` is read on a gap (refetch from the log).
    pub fn new(store: DynamoEventStore, target: Target) -> Self {
        Self { store, target }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Applies one record (skip seen, apply next, refetch past a gap).
    #[tracing::instrument(skip_all, fields(stream = %record.stream_id, version = record.version))]
    pub async fn apply(&self, record: &RecordedEvent) -> Result<Applied, ProjectError> {
        Ok(match &self.target {
            Target::OrderStatus(table) => advance(table, &self.store, record).await?,
            Target::Inventory(table) => advance(table, &self.store, record).await?,
        })
    }

    /// Applies `records` in order, stopping at the first failure.
    pub async fn apply_batch(&self, records: &[ChangeRecord]) -> BatchReport {
        let mut report = BatchReport::default();
        for (i, record) in records.iter().enumerate() {
            let result = match &record.event {
                // A `project` span per record, a child of the event's trace context.
                Ok(event) => self.apply(event).instrument(project_span(event)).await,
                Err(e) => Err(ProjectError::Undecodable(e.to_string())),
            };
            match result {
                Ok(_) => report.applied += 1,
                Err(e) => {
                    tracing::error!(
                        sequence_number = %record.sequence_number,
                        error = %e,
                        "projection failed: this record and the rest of the batch are retried"
                    );
                    report.failed = records[i..]
                        .iter()
                        .map(|r| r.sequence_number.clone())
                        .collect();
                    report.error = Some(e);
                    break;
                }
            }
        }
        report
    }

    /// A stream-triggered Lambda's whole handler: decode, apply, report partial failures
    /// (the event source mapping must list `ReportBatchItemFailures`).
    pub async fn handle(&self, event: &Event) -> DynamoDbEventResponse {
        let records: Vec<ChangeRecord> = event
            .records
            .iter()
            .filter_map(decode_lambda_record)
            .collect();
        let report = self.apply_batch(&records).await;
        batch_response(report.failed)
    }
}

/// The Lambda answer naming `failed` sequence numbers (empty: the whole batch succeeded).
pub fn batch_response(failed: Vec<String>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = Some(id);
            f
        })
        .collect();
    response
}
