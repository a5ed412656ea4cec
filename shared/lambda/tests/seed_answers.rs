//! The seed custom resource answers every request that carries a ResponseURL, failures
//! included, so CloudFormation never waits for its ServiceTimeout on a path we can see.

use std::sync::{Arc, Mutex};

use order_app::seed::SeedProduct;
use order_embedded::db::{Db, Durability};
use order_embedded::store::SqliteEventStore;
use order_lambda::seed::{DEFAULT_SEED, Envelope, ResponseSender, answer};
use serde_json::{Value, json};

#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<(String, Value)>>>);

impl ResponseSender for Capture {
    async fn send(&self, url: &str, body: String) -> Result<(), String> {
        self.0.lock().unwrap().push((
            url.to_owned(),
            serde_json::from_str(&body).map_err(|e| e.to_string())?,
        ));
        Ok(())
    }
}

fn request(kind: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../services/seed-inventory/fixtures/create.json"
    ))
    .unwrap();
    let mut r: Value = serde_json::from_str(&text).unwrap();
    r["RequestType"] = json!(kind);
    if kind == "Delete" || kind == "Update" {
        r["PhysicalResourceId"] = json!(order_lambda::seed::PHYSICAL_ID);
    }
    if kind == "Update" {
        r["OldResourceProperties"] = json!({});
    }
    r
}

type Store = SqliteEventStore;

async fn answered(
    setup: Result<(&Store, &[SeedProduct]), &str>,
    raw: Value,
) -> (Result<&'static str, String>, Vec<(String, Value)>) {
    let capture = Capture::default();
    let status = answer(setup, &capture, raw).await;
    let sent = capture.0.lock().unwrap().clone();
    (status, sent)
}

/// A function that could not build its store (a missing environment variable) answers a
/// Create FAILED with the reason, echoing the request's ids, and a Delete SUCCESS, so neither
/// creating nor deleting the stack waits on it.
#[tokio::test]
async fn a_broken_function_answers_failed_on_create_and_success_on_delete() {
    let (status, sent) = answered(Err("EVENTS_TABLE is not set"), request("Create")).await;
    assert_eq!(status.unwrap(), "FAILED");
    assert_eq!(sent.len(), 1);
    let body = &sent[0].1;
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("EVENTS_TABLE is not set")
    );
    assert_eq!(body["RequestId"], "b2c4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f");
    assert_eq!(body["LogicalResourceId"], "SeedInventory");
    assert!(
        body["StackId"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:cloudformation:")
    );
    assert_eq!(body["PhysicalResourceId"], order_lambda::seed::PHYSICAL_ID);
    assert!(sent[0].0.contains("X-Amz-Signature=abc"));

    let (status, sent) = answered(Err("EVENTS_TABLE is not set"), request("Delete")).await;
    assert_eq!(status.unwrap(), "SUCCESS");
    assert_eq!(sent[0].1["Status"], "SUCCESS");
}

/// An unknown request type and a malformed request are answered FAILED, not dropped.
#[tokio::test]
async fn unknown_and_malformed_requests_are_answered_failed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let seed: Vec<SeedProduct> = serde_json::from_str(DEFAULT_SEED).unwrap();

    let (status, sent) = answered(Ok((&store, &seed)), request("Rename")).await;
    assert_eq!(status.unwrap(), "FAILED");
    assert!(sent[0].1["Reason"].as_str().unwrap().contains("Rename"));

    let mut malformed = request("Create");
    malformed["RequestId"] = json!(5);
    let (status, sent) = answered(Ok((&store, &seed)), malformed).await;
    assert_eq!(status.unwrap(), "FAILED");
    assert!(
        sent[0].1["Reason"]
            .as_str()
            .unwrap()
            .starts_with("malformed Create request")
    );

    // A well-formed Update still seeds (idempotently) and succeeds.
    let (status, sent) = answered(Ok((&store, &seed)), request("Update")).await;
    assert_eq!(status.unwrap(), "SUCCESS");
    assert_eq!(sent[0].1["Data"]["Added"], seed.len().to_string());
    db.close();
}

/// Without a ResponseURL nothing can be answered: the handler says so (the invocation fails,
/// and CloudFormation's ServiceTimeout bounds the wait) instead of pretending.
#[tokio::test]
async fn a_request_without_a_response_url_is_an_error_and_sends_nothing() {
    let mut raw = request("Create");
    raw.as_object_mut().unwrap().remove("ResponseURL");
    assert!(Envelope::of(&raw).is_err());
    let (status, sent) = answered(Err("unused"), raw).await;
    assert!(status.unwrap_err().contains("ResponseURL"));
    assert!(sent.is_empty());
}
