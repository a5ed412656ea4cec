//! `serve --backend aws` in process on the emulator for one test: its own tables, queue and
//! topics (provisioned under a prefix), the mug seeded with 10, and a client signed in as one
//! customer. Included by the test files that need it (`#[path]`): a folder without `main.rs`
//! is not a test target of its own.

use std::time::Duration;

use order_aws::{AwsClients, DynamoEventStore};
use order_testkit::server::{bearer, token, wait_healthy};
use orders::aws_host::{AwsOptions, AwsServer, serve_aws};
use serde_json::json;

/// A started AWS host, its API's base URL and a signed-in client. Keep `_dir` for the test's
/// length: it holds the server's local data (`data`: its runner's database, its keys).
pub struct Started {
    pub server: AwsServer,
    pub base: String,
    pub client: reqwest::Client,
    #[allow(dead_code)] // each test file compiles this module; not every one reads it
    pub data: std::path::PathBuf,
    pub _dir: tempfile::TempDir,
}

/// The events table of `server`, through the SDK as the Lambdas reach it.
pub async fn event_store(server: &AwsServer) -> DynamoEventStore {
    DynamoEventStore::new(
        AwsClients::load()
            .await
            .expect("the SDK configuration")
            .dynamodb()
            .clone(),
        &server.resources.events_table,
    )
}

/// Starts the host with its resources named `{prefix}{pid}`, healthy, for `customer`.
pub async fn start(prefix: &str, customer: &str) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (auth, _) = orders::auth::authenticator(&data, None).unwrap();
    let options = AwsOptions {
        provision: true,
        prefix: format!("{prefix}{}", std::process::id()),
        data_dir: data.clone(),
        seed: serde_json::from_value(
            json!([{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }]),
        )
        .unwrap(),
        retry_interval_scale: 0.01,
        redrive_after: Duration::from_secs(30),
        guard: order_api::Guard::auth(auth),
        monitor: orders::monitor::MonitorOptions::default(),
    };
    let server = serve_aws(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let client = bearer(reqwest::Client::builder(), &token(&data, customer, false))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    wait_healthy(&client, &base, Duration::from_mins(1)).await;
    Started {
        server,
        base,
        client,
        data,
        _dir: dir,
    }
}
