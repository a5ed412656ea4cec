//! EventProjectorLambda: the one reader of the events table's stream on AWS. Each batch keeps
//! both read models (order status, inventory) and forwards the order events to the bus,
//! which three functions used to do, each reading the stream on its own (AWS advises at most
//! two readers per shard; a throttled third made the status view lag and delayed emails).
//!
//! The three parts run side by side on the same decoded records, and the batch answers with the
//! earliest record any part failed on (`batchItemFailures`, which the event source mapping's
//! `ReportBatchItemFailures` turns into "retry from there"). What the redelivery repeats is
//! harmless to each part:
//! - the views are forward-only upserts: `advance` skips a version a view already holds, and a
//!   write never moves a row back (the version guard);
//! - a bus event put again carries its log event id, and the rules' handlers publish through
//!   the notifier's dedup records keyed by that id, so no second email goes out.

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use order_aws::DynamoEventStore;
use order_aws::projector::{batch_response, decode_lambda_record, report_lag};
use order_aws::{ChangeRecord, Projector};
use order_domain::ports::{EventBus, EventStore};

use crate::forward::forward;

/// Both views and the forwarder over one stream batch. `store` is the event log, which the
/// forwarder reads an order's customer from for the events after placement.
#[derive(Debug, Clone)]
pub struct EventProjector<B, S = DynamoEventStore> {
    pub order_status: Projector,
    pub inventory: Projector,
    pub bus: B,
    pub store: S,
}

impl<B: EventBus, S: EventStore> EventProjector<B, S> {
    /// Runs the three parts on `records`; answers the sequence number of the earliest record a
    /// part failed on (`None`: the whole batch is done).
    pub async fn handle_records(&self, records: &[ChangeRecord]) -> Option<String> {
        // Boxed: the SDK futures of three parts side by side would make a very large future.
        let (status, inventory, forwarded) = tokio::join!(
            Box::pin(self.order_status.apply_batch(records)),
            Box::pin(self.inventory.apply_batch(records)),
            Box::pin(forward(&self.bus, &self.store, records)),
        );
        let failed: Vec<String> = status
            .failed
            .iter()
            .chain(&inventory.failed)
            .cloned()
            .collect();
        report_lag(records, &failed);
        earliest(
            records,
            [
                status.failed.into_iter().next(),
                inventory.failed.into_iter().next(),
                forwarded,
            ],
        )
    }

    /// The Lambda's whole handler: decode (INSERTs only), run the parts, report the earliest
    /// failure.
    pub async fn handle(&self, event: &StreamEvent) -> DynamoDbEventResponse {
        let records: Vec<ChangeRecord> = event
            .records
            .iter()
            .filter_map(decode_lambda_record)
            .collect();
        batch_response(self.handle_records(&records).await.into_iter().collect())
    }
}

/// Of the parts' first failures, the one earliest in the batch. Compared by position, not by
/// the sequence numbers' text (they are decimal strings of varying length).
pub fn earliest(
    records: &[ChangeRecord],
    failures: impl IntoIterator<Item = Option<String>>,
) -> Option<String> {
    failures.into_iter().flatten().min_by_key(|seq| {
        records
            .iter()
            .position(|r| &r.sequence_number == seq)
            .unwrap_or(usize::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: &str) -> ChangeRecord {
        ChangeRecord {
            shard_id: None,
            sequence_number: seq.into(),
            event: order_aws::codec::decode(
                aws_lambda_events::event::dynamodb::EventRecord::default()
                    .change
                    .new_image,
            ),
        }
    }

    #[test]
    fn the_earliest_failure_is_the_first_in_the_batch_not_the_smallest_text() {
        let records = [record("900"), record("1000"), record("1100")];
        assert_eq!(
            earliest(&records, [Some("1100".into()), None, Some("1000".into())]),
            Some("1000".into())
        );
        assert_eq!(earliest(&records, [None, None, None]), None);
        assert_eq!(
            earliest(&records, [None, Some("900".into()), Some("1000".into())]),
            Some("900".into())
        );
    }
}
