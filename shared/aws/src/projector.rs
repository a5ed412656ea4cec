//! The Streams projector, shared by the event projector Lambda (`order_lambda::project`, both
//! views in one invocation) and the local stream poller.
//!
//! Each record goes through the one projection step, `order_read_models::advance`: a repeated
//! or older record is skipped, the next version is applied, a record past a gap makes the
//! projector fold the stream's history from the log. The result is written with the read
//! model's version guard, so two projector instances racing on one row cannot move it back.
//!
//! The projector remembers the views it wrote (`order_read_models::Remembered`): the next run
//! of a stream it has just projected (an order's next step, a product's next reservation)
//! starts from that view instead of reading the row. A view is a pure fold of its stream, so
//! the memory can only be behind the row, which the step handles as it handles a redelivery.
//!
//! The records of one stream in a batch are one run, in their order, wherever they sit in the
//! batch: the events of one append (a transaction's InventoryReserved and OrderCompleted) and
//! an order's next steps, which arrive between other orders' records. Its view is read once and
//! written once (`order_read_models::advance_run`), not once per record or per append. Runs go
//! in the order of their first records.
//!
//! Runs are of different streams, so they touch different rows: a batch's runs are applied
//! together, up to [`RUNS_AT_ONCE`] at a time. Under load a full batch (the template's
//! `BatchSize: 100`) holds dozens of runs, each a view write, a round trip on AWS; one after
//! another they made each invocation last that many round trips, and the one reader of each
//! shard fell behind the appends.
//!
//! A stream consumer must keep per-key order (a key is a stream here), so a batch reports the
//! first record of the earliest run that failed, and everything after it (`batchItemFailures`:
//! Lambda then retries from the first of them). The other runs, applied or not, may hold
//! records after it; those are redelivered and skipped as seen or applied then, as any
//! redelivery is. A record that does not decode names no stream: runs are made only of the
//! records before it.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures_util::{StreamExt, stream};
use order_app::trace::project_span;
use std::collections::HashMap;

use order_domain::{RecordedEvent, StreamId};
pub use order_read_models::Applied;
use order_read_models::{AdvanceError, InventoryView, OrderView, Remembered, advance, advance_run};
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

/// At most this many runs of one batch are applied at once.
pub const RUNS_AT_ONCE: usize = 16;

/// How a batch went: `applied` records were applied (some may follow the failure, in runs
/// other than the failed one: they are redelivered and skipped as seen); `failed` lists the
/// sequence numbers of the earliest failing run's first record and every record after it.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub applied: usize,
    pub failed: Vec<String>,
    pub error: Option<ProjectError>,
}

/// Sets the projection-lag gauge from a batch the projections just handled, `failed` the
/// sequence numbers they must be handed again: with none, how late the batch's oldest event
/// was projected; otherwise the age of the oldest failed one, which is not projected yet, so a
/// projection stuck on a batch shows a lag that grows with every retry (and pages) instead of
/// the last good batch's.
pub fn report_lag(records: &[ChangeRecord], failed: &[String]) {
    let pending = records
        .iter()
        .filter(|r| failed.is_empty() || failed.contains(&r.sequence_number));
    let occurred = pending.filter_map(|r| r.event.as_ref().ok().map(|e| e.occurred_at));
    order_app::metrics::projected(occurred, order_domain::Timestamp::now());
}

/// The projector's view table, remembering the views it wrote ([`Remembered`]): the next run
/// of a stream it just projected starts from the view it wrote instead of a GetItem.
#[derive(Debug, Clone)]
enum Views {
    OrderStatus(Remembered<OrderStatusTable, OrderView>),
    Inventory(Remembered<InventoryTable, InventoryView>),
}

/// Keeps one read model from the events table's stream.
#[derive(Debug, Clone)]
pub struct Projector {
    store: DynamoEventStore,
    views: Views,
    runs_at_once: usize,
}

impl Projector {
    /// `store` is read on a gap (refetch from the log).
    pub fn new(store: DynamoEventStore, target: Target) -> Self {
        let views = match target {
            Target::OrderStatus(table) => Views::OrderStatus(Remembered::new(table)),
            Target::Inventory(table) => Views::Inventory(Remembered::new(table)),
        };
        Self {
            store,
            views,
            runs_at_once: RUNS_AT_ONCE,
        }
    }

    /// The same projector applying at most `runs` runs of a batch at once (at least one; one
    /// is one run after another, as it was before [`RUNS_AT_ONCE`]: a benchmark's baseline).
    #[must_use]
    pub fn with_runs_at_once(self, runs: usize) -> Self {
        Self {
            runs_at_once: runs.max(1),
            ..self
        }
    }

    /// Applies one record (skip seen, apply next, refetch past a gap).
    #[tracing::instrument(skip_all, fields(stream = %record.stream_id, version = record.version))]
    pub async fn apply(&self, record: &RecordedEvent) -> Result<Applied, ProjectError> {
        Ok(match &self.views {
            Views::OrderStatus(table) => advance(table, &self.store, record).await?,
            Views::Inventory(table) => advance(table, &self.store, record).await?,
        })
    }

    /// Applies consecutive records of one stream with at most one read and one write (no read
    /// when the projector remembers the view it last wrote for the stream).
    #[tracing::instrument(skip_all, fields(stream = %run[0].stream_id, records = run.len()))]
    async fn apply_run(&self, run: &[&RecordedEvent]) -> Result<Applied, ProjectError> {
        Ok(match &self.views {
            Views::OrderStatus(table) => advance_run(table, &self.store, run).await?,
            Views::Inventory(table) => advance_run(table, &self.store, run).await?,
        })
    }

    /// Applies `records` run by run (the records of one stream, in order), up to
    /// [`RUNS_AT_ONCE`] runs at once (unless [`with_runs_at_once`](Self::with_runs_at_once)
    /// said otherwise), and reports from the first record of the earliest run
    /// that failed.
    pub async fn apply_batch(&self, records: &[ChangeRecord]) -> BatchReport {
        let mut report = BatchReport::default();
        let undecodable = records.iter().position(|r| r.event.is_err());
        let runs = runs(&records[..undecodable.unwrap_or(records.len())]);
        // A `project` span per run, a child of its first event's trace context. `buffered`
        // answers in the runs' order, which is the order of their first records.
        // (Made before they are streamed: a closure inside the stream would make the spawned
        // pollers' futures fail the compiler's `Send` check.)
        let applying: Vec<_> = runs
            .iter()
            .map(|(_, run)| self.apply_run(run).instrument(project_span(run[0])))
            .collect();
        let outcomes: Vec<_> = stream::iter(applying)
            .buffered(self.runs_at_once)
            .collect()
            .await;
        let mut failed = None;
        for ((first, run), outcome) in runs.iter().zip(outcomes) {
            match outcome {
                Ok(_) => report.applied += run.len(),
                Err(e) if failed.is_none() => failed = Some((*first, e)),
                // Retried with the earliest failure's records, which include these.
                Err(e) => tracing::warn!(
                    sequence_number = %records[*first].sequence_number,
                    error = %e,
                    "projection failed after an earlier run's failure: retried with it"
                ),
            }
        }
        if let Some((first, e)) = failed {
            report.fail(records, first, e);
            return report;
        }
        if let Some(u) = undecodable {
            let why = match &records[u].event {
                Err(e) => e.to_string(),
                Ok(_) => String::new(),
            };
            report.fail(records, u, ProjectError::Undecodable(why));
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

/// The decoded records of `records` by stream, each stream's in their order, with the index of
/// its first record; in the order of those indexes.
fn runs(records: &[ChangeRecord]) -> Vec<(usize, Vec<&RecordedEvent>)> {
    let mut runs: Vec<(usize, Vec<&RecordedEvent>)> = Vec::new();
    let mut of_stream: HashMap<&StreamId, usize> = HashMap::new();
    for (i, event) in records.iter().enumerate() {
        let Ok(event) = &event.event else { continue };
        if let Some(&run) = of_stream.get(&event.stream_id) {
            runs[run].1.push(event);
        } else {
            of_stream.insert(&event.stream_id, runs.len());
            runs.push((i, vec![event]));
        }
    }
    runs
}

impl BatchReport {
    /// The batch stopped at `records[at]`, which failed with `error`: it and every record after
    /// it are handed out again.
    fn fail(&mut self, records: &[ChangeRecord], at: usize, error: ProjectError) {
        tracing::error!(
            sequence_number = %records[at].sequence_number,
            error = %error,
            "projection failed: this record and the rest of the batch are retried"
        );
        self.failed = records[at..]
            .iter()
            .map(|r| r.sequence_number.clone())
            .collect();
        self.error = Some(error);
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
