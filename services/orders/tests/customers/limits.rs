//! The per-customer rate limit over HTTP: past its burst a customer gets 429 RATE_LIMITED with
//! `Retry-After`, while another customer and an operator are still served, and the customer
//! is served again once the wait is over.

use std::time::Duration;

use reqwest::StatusCode;

use crate::host::{Answer, Host};

/// The server must run with `--rate-limit 5/s`.
pub const RATE: &str = "5/s";

async fn burst(host: &Host, token: &str, n: usize) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(n);
    for _ in 0..n {
        answers.push(host.get("/orders", token).await);
    }
    answers
}

pub async fn a_customer_past_the_rate_waits_while_others_are_served(host: &Host) {
    let jane = host.token("jane", Some("jane@example.com"), false);
    let bob = host.token("bob", Some("bob@example.com"), false);
    let ops = host.token("ops-1", None, true);

    let answers = burst(host, &jane, 20).await;
    let served = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let limited: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(served + limited.len(), 20, "{answers:?}");
    assert!(served >= 5, "the burst of 5 is served: {answers:?}");
    assert!(!limited.is_empty(), "20 requests at once exceed 5/s");
    for a in &limited {
        assert_eq!(a.body["error"]["code"], "RATE_LIMITED", "{a:?}");
        let wait: u64 = a.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&wait), "{a:?}");
    }

    // Another customer, and an operator (exempt), are served meanwhile.
    let a = host.get("/orders", &bob).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let admins = burst(host, &ops, 12).await;
    assert!(
        admins.iter().all(|a| a.status == StatusCode::OK),
        "{admins:?}"
    );

    // After the wait she is served again.
    let last = limited.last().unwrap();
    let wait: u64 = last.header("retry-after").unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let a = host.get("/orders", &jane).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    host.assert_nothing_leaked();
}
