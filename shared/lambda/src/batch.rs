//! Partial batch responses. Returning `Err` from a batch handler would fail (and redeliver) the
//! whole batch; these name only the records that failed. They only take effect when the event
//! source mapping lists `ReportBatchItemFailures` (the template does).

use serde::Serialize;

/// One failed record: an SQS message id or a stream record's sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    pub item_identifier: String,
}

/// `{"batchItemFailures":[{"itemIdentifier":..}]}`, the response SQS and Streams both read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

impl BatchResponse {
    pub fn fail(&mut self, id: impl Into<String>) {
        self.batch_item_failures.push(ItemFailure {
            item_identifier: id.into(),
        });
    }

    pub fn failed_ids(&self) -> Vec<&str> {
        self.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }
}
