//! `RecordedEvent` ↔ DynamoDB item, one codec for every reader.
//!
//! The writer stores the attributes of the contract (`streamId` S, `version` N, `eventId`,
//! `eventType`, `schemaVersion` N, `occurredAt` N ms, `correlationId`, `causationId`, `payload`
//! S as the hashed JSON text, `prevHash`, `hash`, and the optional, unhashed `traceParent` S,
//! the W3C trace context; absent on events written before it existed). Readers come in three attribute types: the
//! DynamoDB client's (Query), DynamoDB Streams' (GetRecords) and the Lambda event's
//! (`serde_dynamo::Item`). All decode through [`decode`], so a stream image is never parsed by
//! hand (a stream image has the Streams `AttributeValue` type, not the client's).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use order_domain::decoded::DecodedCache;
use order_domain::{EventId, RecordedEvent, SharedStr, StreamId, Timestamp};
use serde::{Deserialize, Serialize};

/// The partition key attribute of the events table.
pub const STREAM_ID: &str = "streamId";
/// The sort key attribute of the events table.
pub const VERSION: &str = "version";

/// An item that is not an event of this system (a bug, tampering, or another writer).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event item does not match the contract: {0}")]
    Shape(#[from] serde_dynamo::Error),
    #[error("event item has an invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// The stored shape: flat, numbers as N, the payload as its JSON text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventItem {
    stream_id: String,
    version: u64,
    event_id: String,
    event_type: SharedStr,
    schema_version: u32,
    occurred_at: u64,
    correlation_id: SharedStr,
    causation_id: SharedStr,
    payload: SharedStr,
    prev_hash: SharedStr,
    hash: SharedStr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_parent: Option<String>,
}

/// The item that stores `event`, in the DynamoDB client's attribute type.
pub fn encode(event: &RecordedEvent) -> Result<HashMap<String, AttributeValue>, CodecError> {
    let item = EventItem {
        stream_id: event.stream_id.as_str().to_owned(),
        version: event.version,
        event_id: event.event_id.to_string(),
        event_type: event.event_type.clone(),
        schema_version: event.schema_version,
        occurred_at: event.occurred_at.as_millis(),
        correlation_id: event.correlation_id.clone(),
        causation_id: event.causation_id.clone(),
        payload: event.payload.clone(),
        prev_hash: event.prev_hash.clone(),
        hash: event.hash.clone(),
        trace_parent: event.trace_parent.map(|t| t.to_string()),
    };
    Ok(serde_dynamo::to_item(item)?)
}

/// Decodes an event item of any of the attribute types serde_dynamo knows: the DynamoDB
/// client's, DynamoDB Streams' (`NewImage` from GetRecords) or a Lambda event's
/// `serde_dynamo::Item`.
pub fn decode<I: Into<serde_dynamo::Item>>(item: I) -> Result<RecordedEvent, CodecError> {
    let i: EventItem = serde_dynamo::from_item(item)?;
    let invalid = |field: &'static str, message: String| CodecError::Invalid { field, message };
    Ok(RecordedEvent {
        stream_id: StreamId::parse(&i.stream_id).map_err(|e| invalid(STREAM_ID, e.0))?,
        version: i.version,
        event_id: EventId::parse(&i.event_id).map_err(|e| invalid("eventId", e.0))?,
        event_type: i.event_type,
        schema_version: i.schema_version,
        occurred_at: Timestamp::from_millis(i.occurred_at),
        correlation_id: i.correlation_id,
        causation_id: i.causation_id,
        payload: i.payload,
        prev_hash: i.prev_hash,
        hash: i.hash,
        // Diagnostic metadata: an unreadable one is dropped rather than failing the event.
        trace_parent: i
            .trace_parent
            .and_then(|t| order_domain::TraceParent::parse(&t).ok()),
        decoded: DecodedCache::NONE,
    })
}

/// The primary key of an event item.
pub fn key(stream: &StreamId, version: u64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            STREAM_ID.to_owned(),
            AttributeValue::S(stream.as_str().to_owned()),
        ),
        (VERSION.to_owned(), AttributeValue::N(version.to_string())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use order_domain::{EventMeta, GENESIS_HASH, OrderId};

    fn event() -> RecordedEvent {
        let mut e = RecordedEvent::seal(
            OrderId::generate().stream(),
            0,
            GENESIS_HASH,
            ("OrderPlaced", 1, r#"{"a":"é\n"}"#.to_owned()),
            &EventMeta {
                correlation_id: "c".into(),
                causation_id: "r".into(),
                occurred_at: Timestamp::from_millis(1_764_101_620_123),
                trace_parent: None,
            },
        );
        e.trace_parent = order_domain::TraceParent::parse(TRACE).ok();
        e
    }

    const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn an_event_round_trips_through_a_dynamodb_item() {
        let e = event();
        let item = encode(&e).unwrap();
        assert_eq!(
            item["occurredAt"],
            AttributeValue::N("1764101620123".into())
        );
        assert_eq!(item[VERSION], AttributeValue::N("1".into()));
        assert_eq!(decode(item).unwrap(), e);
    }

    #[test]
    fn a_streams_new_image_decodes_with_the_same_codec() {
        use aws_sdk_dynamodbstreams::types::AttributeValue as StreamValue;
        let e = event();
        let image: HashMap<String, StreamValue> = serde_dynamo::to_item(
            serde_dynamo::from_item::<_, serde_json::Value>(encode(&e).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(decode(image).unwrap(), e);
    }

    #[test]
    fn a_lambda_event_new_image_decodes_with_the_same_codec() {
        let e = event();
        let json = serde_json::json!({
            "streamId": {"S": e.stream_id.as_str()}, "version": {"N": "1"},
            "eventId": {"S": e.event_id.to_string()}, "eventType": {"S": "OrderPlaced"},
            "schemaVersion": {"N": "1"}, "occurredAt": {"N": "1764101620123"},
            "correlationId": {"S": "c"}, "causationId": {"S": "r"},
            "payload": {"S": e.payload}, "prevHash": {"S": GENESIS_HASH}, "hash": {"S": e.hash},
            "traceParent": {"S": TRACE},
        });
        let item: serde_dynamo::Item = serde_json::from_value(json).unwrap();
        assert_eq!(decode(item).unwrap(), e);
    }

    #[test]
    fn an_item_with_a_foreign_stream_id_is_refused() {
        let mut item = encode(&event()).unwrap();
        item.insert(STREAM_ID.into(), AttributeValue::S("user#1".into()));
        assert!(matches!(
            decode(item),
            Err(CodecError::Invalid {
                field: STREAM_ID,
                ..
            })
        ));
    }
}
