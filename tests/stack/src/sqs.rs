//! A queue mapping's poller, as Lambda's: receives up to the mapping's batch size from the
//! real queue, drops (deletes) what the filters reject, invokes the function with the batch in
//! Lambda's SQS event shape, then deletes what it handled: everything but the reported
//! `batchItemFailures` on success, nothing on a function error (the messages come back after
//! the queue's visibility timeout, and reach the dead-letter queue after its receive count).

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Map, Value, json};

use crate::function::RunningFunction;
use crate::harness::HarnessError;
use crate::pattern::Pattern;
use crate::stack::Mapping;

/// One SQS event source mapping.
pub struct SqsPoller {
    pub mapping: Mapping,
    queue_url: String,
    filters: Vec<Pattern>,
    region: String,
}

fn aws(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Aws(e.to_string())
}

impl SqsPoller {
    /// The poller of `mapping`, whose source is a queue (its URL asked of SQS by name).
    pub async fn new(
        sqs: &aws_sdk_sqs::Client,
        mapping: Mapping,
        region: &str,
    ) -> Result<Self, HarnessError> {
        let name = mapping
            .event_source_arn
            .rsplit(':')
            .next()
            .unwrap_or_default();
        let queue_url = sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?
            .queue_url
            .unwrap_or_default();
        let filters = mapping
            .filters
            .iter()
            .map(|f| Pattern::parse(f))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            mapping,
            queue_url,
            filters,
            region: region.to_owned(),
        })
    }

    /// One receive and invocation; the number of messages handed to the function.
    pub async fn poll(
        &self,
        sqs: &aws_sdk_sqs::Client,
        function: &RunningFunction,
    ) -> Result<usize, HarnessError> {
        let received = sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.mapping.batch_size.clamp(1, 10))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        let mut records = Vec::new();
        for m in received.messages.unwrap_or_default() {
            let record = self.record(&m);
            if self.passes(&record) {
                records.push(record);
            } else {
                self.delete(sqs, m.receipt_handle.as_deref()).await?;
            }
        }
        if records.is_empty() {
            return Ok(0);
        }
        let count = records.len();
        let answer = function.invoke(&json!({ "Records": records })).await;
        let failed: Vec<String> = match &answer {
            Ok(body) if self.mapping.reports_item_failures() => body
                .get("batchItemFailures")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.get("itemIdentifier").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            Ok(_) => Vec::new(),
            Err(e) => {
                eprintln!(
                    "order-stack: {} failed a queue batch: {e}",
                    function.config.name
                );
                return Ok(count);
            }
        };
        for r in &records {
            let id = r["messageId"].as_str().unwrap_or_default();
            if !failed.iter().any(|f| f == id) {
                self.delete(sqs, r["receiptHandle"].as_str()).await?;
            }
        }
        Ok(count)
    }

    fn passes(&self, record: &Value) -> bool {
        if self.filters.is_empty() {
            return true;
        }
        // Filters see the body as JSON when it is JSON.
        let mut seen = record.clone();
        if let Some(body) = record["body"].as_str()
            && let Ok(parsed) = serde_json::from_str::<Value>(body)
        {
            seen["body"] = parsed;
        }
        self.filters.iter().any(|f| f.matches(&seen))
    }

    async fn delete(
        &self,
        sqs: &aws_sdk_sqs::Client,
        receipt: Option<&str>,
    ) -> Result<(), HarnessError> {
        sqs.delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt.unwrap_or_default())
            .send()
            .await
            .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    fn record(&self, m: &aws_sdk_sqs::types::Message) -> Value {
        let attributes: Map<String, Value> = m
            .attributes
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                    .collect()
            })
            .unwrap_or_default();
        let message_attributes: Map<String, Value> = m
            .message_attributes
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            json!({
                                "stringValue": v.string_value,
                                "dataType": v.data_type,
                                "stringListValues": [],
                                "binaryListValues": [],
                            }),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "messageId": m.message_id,
            "receiptHandle": m.receipt_handle,
            "body": m.body,
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": m.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.event_source_arn,
            "awsRegion": self.region,
        })
    }
}
