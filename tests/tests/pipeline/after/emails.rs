//! The customer hears of every step: the order received at once, then its confirmation, its
//! shipment and each refund, or its cancellation; one email each, in the outbox. (Waits for
//! the order-update notices and the refund workflow.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use order_testkit::server::order_body;
use order_tests::{TestApp, default_seed, spawn_pipeline_with};
use reqwest::StatusCode;

use super::{cancel, completed, refund, settled, ship};

/// What an email is about, from its subject.
fn kind(email: &str) -> &'static str {
    let subject = email
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_lowercase();
    if subject.contains("cancel") {
        "cancelled"
    } else if subject.contains("refund") {
        "refunded"
    } else if subject.contains("ship") {
        "shipped"
    } else if subject.contains("confirm") {
        "confirmed"
    } else if subject.contains("receiv") || subject.contains("placed") {
        "received"
    } else if subject.contains("fail") {
        "failed"
    } else {
        "other"
    }
}

/// The emails about order `id` by kind, once `want` are all there (or 15 s went by), and
/// then a moment more for late duplicates.
async fn mail_of(
    app: &TestApp,
    id: &str,
    want: &[(&str, usize)],
) -> BTreeMap<&'static str, Vec<String>> {
    let tally = || {
        let mut by: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for e in app.emails_about(id) {
            by.entry(kind(&e)).or_default().push(e);
        }
        by
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let by = tally();
        if want
            .iter()
            .all(|(k, n)| by.get(k).map_or(0, Vec::len) >= *n)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    tally()
}

#[tokio::test]
async fn every_step_after_placement_mails_the_customer_once() {
    let app = spawn_pipeline_with(default_seed(), |c| c.retry_interval_scale = 1.0).await;

    // Received, confirmed, shipped, refunded.
    let id = completed(&app, &[("MUG", 2)], "tok_visa").await;
    assert_eq!(ship(&app, &id, "UPS", "1Z999").await.status, StatusCode::OK);
    let r = refund(&app, &id, "mail-refund", &[("MUG", 1)], true).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    settled(&app, &id, 1).await;
    let want = [
        ("received", 1),
        ("confirmed", 1),
        ("shipped", 1),
        ("refunded", 1),
    ];
    let mail = mail_of(&app, &id, &want).await;
    let counts: BTreeMap<_, _> = mail.iter().map(|(k, v)| (*k, v.len())).collect();
    assert_eq!(counts, want.into_iter().collect(), "{mail:#?}");
    for email in mail.values().flatten() {
        assert!(email.contains("To: jane.doe@example.com"), "{email}");
    }

    // Received, then cancelled while its payment is retried: never confirmed.
    let placed = app
        .post_order(&order_body(&[("TEE", 1)], "tok_error"))
        .await;
    let other = placed.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(cancel(&app, &other).await.status, StatusCode::ACCEPTED);
    app.wait_status(&other, "CANCELLED").await;
    let want = [("received", 1), ("cancelled", 1)];
    let mail = mail_of(&app, &other, &want).await;
    let counts: BTreeMap<_, _> = mail.iter().map(|(k, v)| (*k, v.len())).collect();
    assert_eq!(counts, want.into_iter().collect(), "{mail:#?}");
    app.shutdown().await;
}
