//! The stub Runtime API drives a real Lambda binary: the hello-world baseline (built by cargo
//! for this test, in the test's profile) starts against it, polls, and answers its first
//! invocation. Timings are measured but never asserted.

use std::path::PathBuf;
use std::time::Duration;

use order_bench::cold_start::{Launch, Outcome, measure};
use order_bench::runtime_api::{Invocation, StubRuntime};

fn hello_runtime() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hello-runtime"))
}

/// A hello-world function completes one invocation through the stub, and its answer is the
/// handler's output for the queued event.
#[tokio::test]
async fn a_hello_world_binary_completes_one_invocation_through_the_stub() {
    let dir = tempfile::tempdir().unwrap();
    let mut stub = StubRuntime::start("hello").await.unwrap();
    let invocation = Invocation::new(br#"{"name":"stub"}"#.to_vec());
    stub.push(invocation.clone());
    let launch = Launch {
        name: "hello".into(),
        program: hello_runtime(),
        memory_mb: 128,
        env: vec![],
    };
    let sample = measure(
        &launch,
        &mut stub,
        &invocation,
        &dir.path().join("hello.log"),
        Duration::from_mins(1),
    )
    .await
    .unwrap();
    assert_eq!(sample.outcome, Outcome::Response);
    let body: serde_json::Value = serde_json::from_slice(&sample.body).unwrap();
    assert_eq!(body, serde_json::json!({ "hello": { "name": "stub" } }));
    assert!(
        sample.first_response >= sample.init,
        "answers after polling"
    );
}

/// A second poll, with nothing queued, is held open (as Lambda holds it between
/// invocations) rather than answered, so a function stays idle until it is stopped.
#[tokio::test]
async fn a_poll_with_nothing_queued_is_held_open() {
    let stub = StubRuntime::start("idle").await.unwrap();
    let client = reqwest::Client::new();
    let url = format!(
        "http://{}/2018-06-01/runtime/invocation/next",
        stub.runtime_api()
    );
    let held = tokio::time::timeout(Duration::from_millis(300), client.get(url).send()).await;
    assert!(held.is_err(), "the poll was answered: {held:?}");
}
