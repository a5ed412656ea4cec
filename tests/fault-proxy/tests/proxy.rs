//! The proxy against a counting upstream: each fault answers or cuts as it says, reaches the
//! upstream or not as it says, and is counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fault_proxy::{FaultConfig, FaultKind, FaultProxy};

/// An upstream answering 200 `ok` to anything, counting what reached it.
async fn upstream() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

fn only(kind: FaultKind) -> FaultConfig {
    let mut c = FaultConfig::default();
    match kind {
        FaultKind::Throttle => c.throttle = 1.0,
        FaultKind::ServerError => c.server_error = 1.0,
        FaultKind::DropBefore => c.drop_before = 1.0,
        FaultKind::DropAfter => c.drop_after = 1.0,
        FaultKind::Slow => c.slow = 1.0,
    }
    c.slow_min = Duration::from_millis(300);
    c.slow_max = Duration::from_millis(300);
    c
}

async fn dynamodb_put(url: &str) -> reqwest::Result<reqwest::Response> {
    dynamodb_call(url, "PutItem").await
}

async fn dynamodb_call(url: &str, action: &str) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(url)
        .header("x-amz-target", format!("DynamoDB_20120810.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body("{}")
        .send()
        .await
}

#[tokio::test]
async fn a_throttled_dynamodb_call_gets_a_throttling_code_and_never_reaches_the_upstream() {
    let (up, hits) = upstream().await;
    let (_, proxy) = FaultProxy::start(&up, only(FaultKind::Throttle))
        .await
        .unwrap();
    let r = dynamodb_put(&proxy.url()).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    let code = body["__type"].as_str().unwrap();
    assert!(
        [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded"
        ]
        .iter()
        .any(|c| code.ends_with(&format!("#{c}"))),
        "{body}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert_eq!(
        proxy
            .counts()
            .of_call("dynamodb.PutItem", FaultKind::Throttle),
        1
    );
}

#[tokio::test]
async fn a_throttled_sns_publish_gets_the_query_protocols_throttling_error() {
    let (up, _) = upstream().await;
    let (_, proxy) = FaultProxy::start(&up, only(FaultKind::Throttle))
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(proxy.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request, Signature=0",
        )
        .body("Action=Publish&Message=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<Type>Sender</Type><Code>Throttling</Code>"),
        "{text}"
    );
}

#[tokio::test]
async fn a_server_error_is_500_or_503() {
    let (up, hits) = upstream().await;
    let (_, proxy) = FaultProxy::start(&up, only(FaultKind::ServerError))
        .await
        .unwrap();
    let r = dynamodb_put(&proxy.url()).await.unwrap();
    assert!([500, 503].contains(&r.status().as_u16()), "{}", r.status());
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_drop_before_never_reaches_the_upstream_and_a_drop_after_does() {
    let (up, hits) = upstream().await;
    let (_, before) = FaultProxy::start(&up, only(FaultKind::DropBefore))
        .await
        .unwrap();
    assert!(dynamodb_put(&before.url()).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let (_, after) = FaultProxy::start(&up, only(FaultKind::DropAfter))
        .await
        .unwrap();
    assert!(dynamodb_put(&after.url()).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the call took effect");
    assert_eq!(after.counts().of(FaultKind::DropAfter), 1);
}

#[tokio::test]
async fn a_slow_answer_is_the_upstreams_late_and_a_disarmed_proxy_passes_everything() {
    let (up, hits) = upstream().await;
    let (_, proxy) = FaultProxy::start(&up, only(FaultKind::Slow)).await.unwrap();
    let t = Instant::now();
    let r = dynamodb_put(&proxy.url()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    proxy.set_armed(false);
    let t = Instant::now();
    assert_eq!(dynamodb_put(&proxy.url()).await.unwrap().status(), 200);
    assert!(t.elapsed() < Duration::from_millis(300));
    let counts = proxy.counts();
    assert_eq!((counts.requests, counts.total()), (2, 1));
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let (up, _) = upstream().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let config = FaultConfig {
            slow: 0.0,
            ..FaultConfig::modest(42)
        };
        let (_, proxy) = FaultProxy::start(&up, config).await.unwrap();
        let mut outcomes = Vec::new();
        for _ in 0..200 {
            outcomes.push(match dynamodb_put(&proxy.url()).await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            });
        }
        runs.push((outcomes, proxy.counts()));
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].1.total() > 0, "{}", runs[0].1);
}

/// A test aims one fault at one call: only `only_call`'s calls get faults, and no more than
/// `max_faults` of them.
#[tokio::test]
async fn a_fault_aimed_at_one_call_hits_only_its_first_calls() {
    let (up, hits) = upstream().await;
    let config = FaultConfig {
        only_call: Some("dynamodb.PutItem".into()),
        max_faults: Some(2),
        ..only(FaultKind::Throttle)
    };
    let (_, proxy) = FaultProxy::start(&up, config).await.unwrap();
    let get = dynamodb_call(&proxy.url(), "GetItem").await.unwrap();
    assert_eq!(get.status(), 200, "another call passes");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(dynamodb_put(&proxy.url()).await.unwrap().status().as_u16());
    }
    assert_eq!(
        statuses,
        [400, 400, 200, 200],
        "the first two PutItems are throttled"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "three calls reached the upstream"
    );
    assert_eq!(proxy.counts().of(FaultKind::Throttle), 2);
}
