//! The poller against a scripted DynamoDB Streams endpoint: the emulator has one shard that
//! never closes, so what a poll does when one of several calls fails is shown here, with the
//! service's own JSON answers and errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};

use super::*;

/// Answers each call by its operation (`X-Amz-Target`'s last part) and JSON body.
type Script = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

#[derive(Clone)]
struct Scripted(Arc<Script>);

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

impl HttpConnector for Scripted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let (status, answer) = (self.0)(&operation, &body);
        let response = HttpResponse::new(
            status.try_into().unwrap(),
            SdkBody::from(answer.to_string()),
        );
        HttpConnectorFuture::new(async move { Ok(response) })
    }
}

impl HttpClient for Scripted {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A poller of `arn` whose Streams calls `script` answers (no retries: each failure shows).
fn poller(script: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static) -> StreamPoller {
    let streams = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .http_client(Scripted(Arc::new(script)))
        .build();
    let dynamodb = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .build();
    StreamPoller {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
        streams: StreamsClient::from_conf(streams),
        table: "events".into(),
        start: StartPosition::TrimHorizon,
        limit: 1000,
        stream_arn: Some("arn:stream".into()),
        shards: BTreeMap::new(),
        refreshed: None,
        refresh_due: false,
        resume: HashMap::new(),
    }
}

fn shards(ids: &[(&str, Option<&str>)]) -> Value {
    let shards: Vec<Value> = ids
        .iter()
        .map(|(id, parent)| {
            let mut shard = json!({
                "ShardId": id,
                "SequenceNumberRange": { "StartingSequenceNumber": "1" },
            });
            if let Some(parent) = parent {
                shard["ParentShardId"] = json!(parent);
            }
            shard
        })
        .collect();
    json!({ "StreamDescription": {
        "StreamArn": "arn:stream",
        "StreamStatus": "ENABLED",
        "Shards": shards,
    }})
}

fn records(sequence_numbers: &[&str], next: Option<&str>) -> Value {
    let records: Vec<Value> = sequence_numbers
        .iter()
        .map(|seq| {
            json!({
                "eventID": seq,
                "eventName": "INSERT",
                "dynamodb": { "SequenceNumber": seq, "NewImage": { "pk": { "S": "x" } } },
            })
        })
        .collect();
    let mut page = json!({ "Records": records });
    if let Some(next) = next {
        page["NextShardIterator"] = json!(next);
    }
    page
}

fn unavailable() -> (u16, Value) {
    (
        500,
        json!({ "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "try again" }),
    )
}

fn iterator_for(body: &Value) -> (u16, Value) {
    let shard = body["ShardId"].as_str().unwrap_or_default();
    (200, json!({ "ShardIterator": format!("{shard}:0") }))
}

fn handed_out(polled: &[ChangeRecord]) -> Vec<(&str, &str)> {
    polled
        .iter()
        .map(|r| {
            (
                r.shard_id.as_deref().unwrap_or_default(),
                r.sequence_number.as_str(),
            )
        })
        .collect()
}

#[tokio::test]
async fn records_read_before_another_shard_fails_are_handed_out_not_skipped() {
    let b_reads = Arc::new(Mutex::new(0));
    let reads = b_reads.clone();
    let mut poller = poller(move |operation, body| match operation {
        "DescribeStream" => (200, shards(&[("a", None), ("b", None)])),
        "GetShardIterator" => iterator_for(body),
        "GetRecords" => match body["ShardIterator"].as_str().unwrap_or_default() {
            "a:0" => (200, records(&["100", "101"], Some("a:1"))),
            "a:1" => (200, records(&[], Some("a:1"))),
            "b:0" => {
                let mut n = reads.lock().unwrap();
                *n += 1;
                if *n == 1 {
                    unavailable()
                } else {
                    (200, records(&["200"], Some("b:1")))
                }
            }
            _ => (200, records(&[], Some("b:1"))),
        },
        _ => unavailable(),
    });

    let first = poller
        .poll()
        .await
        .expect("shard a's records, though b failed");
    assert_eq!(handed_out(&first), [("a", "100"), ("a", "101")]);
    let second = poller.poll().await.unwrap();
    assert_eq!(handed_out(&second), [("b", "200")], "b read again, a not");
    assert_eq!(*b_reads.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_closed_shard_s_records_survive_a_failed_refresh_and_its_child_is_read_next() {
    let describes = Arc::new(Mutex::new(0));
    let seen = describes.clone();
    let mut poller = poller(move |operation, body| match operation {
        "DescribeStream" => {
            let mut n = seen.lock().unwrap();
            *n += 1;
            match *n {
                1 => (200, shards(&[("a", None)])),
                2 => unavailable(),
                _ => (200, shards(&[("a", None), ("c", Some("a"))])),
            }
        }
        "GetShardIterator" => iterator_for(body),
        "GetRecords" => match body["ShardIterator"].as_str().unwrap_or_default() {
            // The last page of a closed shard has no next iterator.
            "a:0" => (200, records(&["100"], None)),
            "c:0" => (200, records(&["300"], Some("c:1"))),
            _ => (200, records(&[], Some("c:1"))),
        },
        _ => unavailable(),
    });

    let first = poller
        .poll()
        .await
        .expect("a's last records, though the refresh failed");
    assert_eq!(handed_out(&first), [("a", "100")]);
    let second = poller.poll().await.unwrap();
    assert_eq!(handed_out(&second), [("c", "300")]);
    assert_eq!(*describes.lock().unwrap(), 3);
}

#[tokio::test]
async fn a_poll_that_read_nothing_reports_the_failure() {
    let mut poller = poller(move |operation, body| match operation {
        "DescribeStream" => (200, shards(&[("a", None)])),
        "GetShardIterator" => iterator_for(body),
        _ => unavailable(),
    });
    assert!(matches!(
        poller.poll().await,
        Err(StreamError::Unavailable(_))
    ));
}
