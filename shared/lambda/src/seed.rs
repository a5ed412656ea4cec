//! SeedInventory: a CloudFormation custom resource. Create and Update seed the products as
//! events, idempotently (a product that exists keeps its stock); Delete succeeds without
//! touching data (the log outlives the stack's seed). Every request is answered on its
//! pre-signed ResponseURL, failures included, so a stack never hangs waiting for us.

use std::future::Future;

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use order_app::seed::{SeedProduct, seed_inventory};
use order_domain::ports::EventStore;
use serde_json::{Value, json};

pub use order_app::seed::DEFAULT_SEED;
/// Kept across updates, so an update never replaces (and deletes) the resource.
pub const PHYSICAL_ID: &str = "order-pipeline-seed-inventory";

/// Sends the custom resource's response document.
pub trait ResponseSender: Send + Sync {
    fn send(&self, url: &str, body: String) -> impl Future<Output = Result<(), String>> + Send;
}

/// PUTs the response to the pre-signed URL (no content type: the URL is signed without one).
pub struct HttpSender(pub reqwest::Client);

impl ResponseSender for HttpSender {
    async fn send(&self, url: &str, body: String) -> Result<(), String> {
        let r = self
            .0
            .put(url)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("response URL answered {}", r.status()))
        }
    }
}

/// Handles one request and answers it. Returns the status sent.
pub async fn handle<S: EventStore, R: ResponseSender>(
    store: &S,
    sender: &R,
    request: CloudFormationCustomResourceRequest,
    seed: &[SeedProduct],
) -> Result<&'static str, String> {
    let (kind, url, stack, request_id, logical) = match &request {
        CloudFormationCustomResourceRequest::Create(r) => (
            "Create",
            &r.response_url,
            &r.stack_id,
            &r.request_id,
            &r.logical_resource_id,
        ),
        CloudFormationCustomResourceRequest::Update(r) => (
            "Update",
            &r.response_url,
            &r.stack_id,
            &r.request_id,
            &r.logical_resource_id,
        ),
        CloudFormationCustomResourceRequest::Delete(r) => (
            "Delete",
            &r.response_url,
            &r.stack_id,
            &r.request_id,
            &r.logical_resource_id,
        ),
        _ => return Err("unknown custom resource request type".into()),
    };
    let (status, reason, data) = if kind == "Delete" {
        (
            "SUCCESS",
            "products and their history are kept".to_owned(),
            json!({}),
        )
    } else {
        match seed_inventory(store, seed).await {
            Ok(added) => (
                "SUCCESS",
                format!("{added} products added"),
                json!({ "Added": added.to_string() }),
            ),
            Err(e) => ("FAILED", format!("seeding failed: {e}"), json!({})),
        }
    };
    tracing::info!(kind, status, %reason, "custom resource request handled");
    let body: Value = json!({
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": PHYSICAL_ID,
        "StackId": stack,
        "RequestId": request_id,
        "LogicalResourceId": logical,
        "NoEcho": false,
        "Data": data,
    });
    sender.send(url, body.to_string()).await?;
    Ok(status)
}
