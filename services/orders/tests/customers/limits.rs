//! The per-customer rate limit over HTTP: past its burst a customer gets 429 RATE_LIMITED with
//! `Retry-After`, while another customer and an operator are still served, and the customer
//! is served again once the wait is over.

use std::time::Duration;

use reqwest::StatusCode;

use crate::host::{Answer, Host};

/// The server must run with `--rate-limit 5/s`.
pub const RATE: &str = "5/s";

/// `n` requests sent together: one after another, a slow host (the emulator under load takes
/// a quarter of a second per listing) would refill the bucket between them.
async fn burst(host: &Host, token: &str, n: usize) -> Vec<Answer> {
    let mut pending: Vec<_> = (0..n)
        .map(|_| Box::pin(host.get("/orders", token)))
        .collect();
    let mut answers: Vec<Option<Answer>> = (0..n).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (request, answer) in pending.iter_mut().zip(answers.iter_mut()) {
            if answer.is_none() {
                match request.as_mut().poll(cx) {
                    std::task::Poll::Ready(a) => *answer = Some(a),
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    answers.into_iter().flatten().collect()
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
