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

/// Handles one parsed request and answers it. Returns the status sent.
pub async fn handle<S: EventStore, R: ResponseSender>(
    store: &S,
    sender: &R,
    request: CloudFormationCustomResourceRequest,
    seed: &[SeedProduct],
) -> Result<&'static str, String> {
    let raw = serde_json::to_value(&request).map_err(|e| e.to_string())?;
    answer(Ok((store, seed)), sender, raw).await
}

/// What the function could build at start: the store and the seed, or why not.
pub type Setup<'a, S> = Result<(&'a S, &'a [SeedProduct]), &'a str>;

/// Handles one request as it arrived (raw JSON) and answers it on its ResponseURL whatever
/// goes wrong: a malformed or unknown request, a function that could not build its store
/// (`setup` is `Err`), or a failed seeding all answer FAILED with the reason, so the stack
/// fails fast instead of waiting for ServiceTimeout. Delete answers SUCCESS even when the
/// store is broken: deleting the stack never depends on our configuration. Returns the status
/// sent; `Err` only when no answer could be sent (no ResponseURL, or the PUT failed).
pub async fn answer<S: EventStore, R: ResponseSender>(
    setup: Setup<'_, S>,
    sender: &R,
    request: Value,
) -> Result<&'static str, String> {
    let envelope = Envelope::of(&request)?;
    let (status, reason, data) = outcome(setup, &envelope.kind, &request).await;
    tracing::info!(kind = %envelope.kind, status, %reason, "custom resource request handled");
    sender
        .send(&envelope.url, envelope.body(status, &reason, &data))
        .await?;
    Ok(status)
}

async fn outcome<S: EventStore>(
    setup: Setup<'_, S>,
    kind: &str,
    request: &Value,
) -> (&'static str, String, Value) {
    let failed = |reason: String| ("FAILED", reason, json!({}));
    match kind {
        "Delete" => (
            "SUCCESS",
            "products and their history are kept".to_owned(),
            json!({}),
        ),
        "Create" | "Update" => {
            if let Err(e) =
                serde_json::from_value::<CloudFormationCustomResourceRequest>(request.clone())
            {
                return failed(format!("malformed {kind} request: {e}"));
            }
            let (store, seed) = match setup {
                Ok(ready) => ready,
                Err(why) => return failed(format!("the function could not start: {why}")),
            };
            match seed_inventory(store, seed).await {
                Ok(added) => (
                    "SUCCESS",
                    format!("{added} products added"),
                    json!({ "Added": added.to_string() }),
                ),
                Err(e) => failed(format!("seeding failed: {e}")),
            }
        }
        other => failed(format!("unknown custom resource request type {other:?}")),
    }
}

/// The fields of a request its answer must echo; all the answer needs, so it can be kept
/// aside before the request is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub kind: String,
    pub url: String,
    pub stack: String,
    pub request_id: String,
    pub logical: String,
}

impl Envelope {
    /// Reads the envelope of a raw request; `Err` when it has no ResponseURL (nothing can be
    /// answered then).
    pub fn of(request: &Value) -> Result<Self, String> {
        let field = |name: &str| {
            request
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let url = field("ResponseURL");
        if url.is_empty() {
            return Err("the request has no ResponseURL: it cannot be answered".into());
        }
        Ok(Self {
            kind: field("RequestType"),
            url,
            stack: field("StackId"),
            request_id: field("RequestId"),
            logical: field("LogicalResourceId"),
        })
    }

    /// The response document CloudFormation expects on the ResponseURL.
    #[must_use]
    pub fn body(&self, status: &str, reason: &str, data: &Value) -> String {
        json!({
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": PHYSICAL_ID,
            "StackId": self.stack,
            "RequestId": self.request_id,
            "LogicalResourceId": self.logical,
            "NoEcho": false,
            "Data": data,
        })
        .to_string()
    }
}
