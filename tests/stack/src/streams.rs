//! A stream mapping's poller, as Lambda's: reads each shard of the table's stream through the
//! DynamoDB Streams API from the mapping's starting position, keeps the records its filters
//! pass (and checkpoints past the others, as Lambda does), invokes the function with up to
//! the batch size in Lambda's DynamoDB event shape, and moves on past what the function
//! handled: up to the first reported `batchItemFailures` item, or not at all on a function
//! error (the batch is retried). A batch window (`MaximumBatchingWindowInSeconds`) is not
//! waited for: the harness hands records over as soon as it reads them.

use std::collections::BTreeMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::function::RunningFunction;
use crate::harness::HarnessError;
use crate::pattern::Pattern;
use crate::stack::Mapping;

/// Where a shard is read from next.
enum Position {
    /// Not read yet: the mapping's starting position.
    Start,
    /// Just after this sequence number.
    After(String),
}

/// One stream event source mapping.
pub struct StreamPoller {
    pub mapping: Mapping,
    filters: Vec<Pattern>,
    region: String,
    shards: BTreeMap<String, Position>,
}

fn aws(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Aws(e.to_string())
}

impl StreamPoller {
    pub fn new(mapping: Mapping, region: &str) -> Result<Self, HarnessError> {
        let filters = mapping
            .filters
            .iter()
            .map(|f| Pattern::parse(f))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            mapping,
            filters,
            region: region.to_owned(),
            shards: BTreeMap::new(),
        })
    }

    /// One read of every shard, and one invocation per shard with records; the number of
    /// records handed to the function.
    pub async fn poll(
        &mut self,
        streams: &aws_sdk_dynamodbstreams::Client,
        function: &RunningFunction,
    ) -> Result<usize, HarnessError> {
        let arn = self.mapping.event_source_arn.clone();
        let described = streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?;
        let shard_ids: Vec<String> = described
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| s.shard_id)
            .collect();
        let mut delivered = 0;
        for shard in shard_ids {
            let position = self.shards.remove(&shard).unwrap_or(Position::Start);
            let (position, n) = self.poll_shard(streams, function, &shard, position).await?;
            self.shards.insert(shard, position);
            delivered += n;
        }
        Ok(delivered)
    }

    async fn poll_shard(
        &self,
        streams: &aws_sdk_dynamodbstreams::Client,
        function: &RunningFunction,
        shard: &str,
        position: Position,
    ) -> Result<(Position, usize), HarnessError> {
        let request = streams
            .get_shard_iterator()
            .stream_arn(&self.mapping.event_source_arn)
            .shard_id(shard);
        let request = match &position {
            Position::Start => {
                let latest = self.mapping.starting_position.as_deref() == Some("LATEST");
                request.shard_iterator_type(if latest {
                    ShardIteratorType::Latest
                } else {
                    ShardIteratorType::TrimHorizon
                })
            }
            Position::After(seq) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
        };
        let iterator = request
            .send()
            .await
            .map_err(|e| aws(aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?
            .shard_iterator;
        let Some(iterator) = iterator else {
            return Ok((position, 0));
        };
        let read = streams
            .get_records()
            .shard_iterator(iterator)
            .limit(1000)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?;
        let records = read.records.unwrap_or_default();
        // Walk the records in order: filtered-out ones move the checkpoint; passing ones
        // gather into one batch of at most the batch size.
        let mut batch: Vec<Value> = Vec::new();
        let mut checkpoint = position;
        let limit = usize::try_from(self.mapping.batch_size.max(1)).unwrap_or(100);
        for r in &records {
            let event = self.record(r);
            let seq = event["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if self.filters.is_empty() || self.filters.iter().any(|f| f.matches(&event)) {
                if batch.len() == limit {
                    break;
                }
                batch.push(event);
            } else if batch.is_empty() {
                checkpoint = Position::After(seq);
            }
        }
        if batch.is_empty() {
            return Ok((checkpoint, 0));
        }
        let count = batch.len();
        let last = batch[count - 1]["dynamodb"]["SequenceNumber"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let answer = function.invoke(&json!({ "Records": batch })).await;
        let failed = match answer {
            Ok(body) if self.mapping.reports_item_failures() => body
                .get("batchItemFailures")
                .and_then(Value::as_array)
                .and_then(|items| items.first())
                .and_then(|i| i.get("itemIdentifier"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            Ok(_) => None,
            Err(e) => {
                eprintln!(
                    "order-stack: {} failed a stream batch: {e}",
                    function.config.name
                );
                return Ok((checkpoint, count));
            }
        };
        let next = match failed {
            // Resume at the failed record: checkpoint just before it.
            Some(seq) => batch
                .iter()
                .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default())
                .take_while(|s| *s != seq)
                .last()
                .map_or(checkpoint, |s| Position::After(s.to_owned())),
            None => Position::After(last),
        };
        Ok((next, count))
    }

    /// A stream record in Lambda's event shape.
    fn record(&self, r: &Record) -> Value {
        let d = r.dynamodb.as_ref();
        let mut dynamodb = Map::new();
        if let Some(d) = d {
            if let Some(t) = d.approximate_creation_date_time {
                dynamodb.insert("ApproximateCreationDateTime".into(), json!(t.secs()));
            }
            for (name, image) in [
                ("Keys", &d.keys),
                ("NewImage", &d.new_image),
                ("OldImage", &d.old_image),
            ] {
                if let Some(image) = image {
                    dynamodb.insert(name.into(), item(image));
                }
            }
            dynamodb.insert("SequenceNumber".into(), json!(d.sequence_number));
            dynamodb.insert("SizeBytes".into(), json!(d.size_bytes));
            dynamodb.insert(
                "StreamViewType".into(),
                json!(d.stream_view_type.as_ref().map(|v| v.as_str().to_owned())),
            );
        }
        json!({
            "eventID": r.event_id,
            "eventName": r.event_name.as_ref().map(|n| n.as_str().to_owned()),
            "eventVersion": r.event_version.clone().unwrap_or_else(|| "1.1".into()),
            "eventSource": "aws:dynamodb",
            "awsRegion": r.aws_region.clone().unwrap_or_else(|| self.region.clone()),
            "dynamodb": dynamodb,
            "eventSourceARN": self.mapping.event_source_arn,
        })
    }
}

fn item(image: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        image
            .iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect(),
    )
}

/// DynamoDB's JSON for one attribute (`{"S": "…"}`, `{"N": "1"}`, …).
fn attribute(v: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(l) => json!({ "SS": l }),
        AttributeValue::Ns(l) => json!({ "NS": l }),
        AttributeValue::Bs(l) => json!({ "BS": l.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item(m) }),
        _ => Value::Null,
    }
}
