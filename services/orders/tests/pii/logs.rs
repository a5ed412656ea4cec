//! No log line, at any level, holds a customer's email, a payment token or a bearer token: the
//! server runs at `RUST_LOG=trace` (as text, then as JSON lines) through a full flow with a
//! known email, payment tokens and a bearer token (orders that complete and fail, a 400, 401s,
//! 404s, the history, the listing, a forget), and everything it printed is searched.
//!
//! Nothing in the code base emits at TRACE today (the workflow's state changes are the
//! DEBUG lines), and no dependency of the embedded host logs requests, headers or bodies at
//! any level; the test would catch one that starts to.
//!
//! The banner on stdout shows a sample curl with `tok_visa` and a demo customer's token: it is
//! the server's own example, not a caller's data, so the payment tokens used here are others.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{Server, cli_token, order};

const EMAIL: &str = "log.probe.8842@example.com";
const PAYMENTS: [&str; 4] = [
    "tok_mastercard",
    "tok_decline",
    "tok_error",
    "tok_probe_8842",
];
const CUSTOMER: &str = "log-probe";
const UNKNOWN: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/// The token with one character of its signature changed.
fn tampered(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    let i = sig.len() / 2;
    sig[i] = if sig[i] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", sig.into_iter().collect::<String>())
}

/// Runs the flow on a server started with `extra`; returns everything it printed, and the
/// strings that must not appear in it.
async fn flow(extra: &[&str]) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--retry-interval-scale", "0.01"];
    args.extend_from_slice(extra);
    let env = [("RUST_LOG", "trace")];
    let mut server = Server::start(dir.path(), "logs", &args, &env).await;
    let data = server.data.clone();
    let token = cli_token(&data, CUSTOMER, &["--email", EMAIL]);
    let other = cli_token(&data, "someone-else", &[]);
    let admin = cli_token(&data, "ops-1", &["--admin"]);
    let forged = tampered(&token);
    let mut secrets: Vec<String> = vec![EMAIL.into(), token.clone(), forged.clone()];
    secrets.extend(PAYMENTS.map(String::from));
    // The token's claims (they carry the email) and signature, and the forged signature.
    for t in [&token, &forged] {
        secrets.extend(t.split('.').skip(1).map(String::from));
    }

    let mut ids = Vec::new();
    for payment in PAYMENTS {
        ids.push(server.place(&token, EMAIL, payment).await);
    }
    // 400s whose bodies carry the personal data: a bad quantity, and JSON cut short.
    let mut bad = order(EMAIL, "tok_probe_8842");
    bad["items"][0]["quantity"] = json!(0);
    let a = server
        .send(Method::POST, "/orders", Some(&token), Some(&bad))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{a:?}");
    let cut = format!(r#"{{"email":"{EMAIL}","paymentToken":"tok_probe_8842","items":["#);
    let r = server
        .client
        .post(format!("{}/orders", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(cut)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // 401s: a forged signature, and no token at all, with personal data in the body.
    for auth in [Some(forged.as_str()), None] {
        let body = order(EMAIL, "tok_mastercard");
        let a = server
            .send(Method::POST, "/orders", auth, Some(&body))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:?}");
    }
    // 404s: an unknown order, another customer's order.
    let a = server.get(&format!("/orders/{UNKNOWN}"), &token).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");
    let a = server
        .get(&format!("/orders/{}/events", ids[0]), &other)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");

    for id in &ids {
        server.finished(id, &token).await;
        let a = server.get(&format!("/orders/{id}/events"), &token).await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
    }
    let listed = server.get("/orders", &token).await;
    assert_eq!(listed.body["orders"].as_array().unwrap().len(), ids.len());
    // The emails (an "order received" per order, a confirmation per completed one) are written
    // (and logged) before the forget.
    wait_for_mail(&data, 6).await;
    assert_eq!(server.forget(CUSTOMER, &admin).await, 1);
    let a = server
        .get(&format!("/orders/{}/events", ids[0]), &token)
        .await;
    assert!(a.text.contains("[erased]"), "{}", a.text);
    server.stop();
    (server.output(), secrets)
}

async fn wait_for_mail(data: &std::path::Path, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mbox = data.join("outbox").join("OrderAlertsTopic.mbox");
    loop {
        let text = std::fs::read_to_string(&mbox).unwrap_or_default();
        if text.lines().filter(|l| l.contains(EMAIL)).count() >= n {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "mails never came");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Asserts that none of `secrets` appears in `output`, naming the first line that has one.
fn assert_nothing_leaked(output: &str, secrets: &[String]) {
    for secret in secrets {
        if let Some(line) = output.lines().find(|l| l.contains(secret.as_str())) {
            panic!("the log holds {secret:?}:\n{line}");
        }
    }
    // Only the banner's sample curl may name tok_visa.
    for line in output.lines().filter(|l| l.contains("tok_visa")) {
        assert!(line.contains(r#""paymentToken":"tok_visa""#), "{line}");
    }
    // The flow was logged, down to the workflow's debug lines.
    for expected in ["order accepted", "entering state", "customer forgotten"] {
        assert!(
            output.contains(expected),
            "{expected} not logged:\n{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_hold_no_email_payment_token_or_bearer_token() {
    let (output, secrets) = flow(&[]).await;
    assert!(output.contains("DEBUG"), "not at trace level:\n{output}");
    assert_nothing_leaked(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_trace_logs_hold_no_email_payment_token_or_bearer_token() {
    let (output, secrets) = flow(&["--log-json"]).await;
    assert!(
        output.contains(r#""level":"DEBUG""#),
        "not JSON at trace:\n{output}"
    );
    assert_nothing_leaked(&output, &secrets);
}
