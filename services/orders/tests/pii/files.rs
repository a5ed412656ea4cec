//! No file of the data directory holds a customer's email or payment token in clear: not the
//! database, not its WAL (nor its shared-memory index), not the keys, before a forget, after
//! it, and after a clean shutdown.
//!
//! One exception, by necessity: the outbox. The "order received" and confirmation emails are
//! addressed to the customer, so the mbox that stands in for the mail server holds their address
//! in the message's `To:` header, and only there (never a payment token). The test asserts that
//! the mbox is the only file with the address, that the address appears on `To:` lines only, and
//! that once the customer is forgotten no new email is written for them: an order of theirs
//! caught between its first payment attempt and its retry fails instead of being charged or
//! confirmed.

use std::path::Path;

use serde_json::Value;

use crate::{Server, cli_token, contains, files_under, rows};

const EMAIL: &str = "pii.probe.7319@example.com";
const PAYMENTS: [&str; 3] = ["tok_visa", "tok_decline", "tok_error"];
const CUSTOMER: &str = "pii-probe";

/// Asserts that no file under `data` holds the email or a payment token, except the outbox's
/// `To:` headers; returns how many outbox messages carry the address.
fn assert_no_clear_data(data: &Path, stage: &str) -> usize {
    let files = files_under(data);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(data).unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "orders.db"), "{stage}: {names:?}");
    let mut addressed = 0;
    for (file, name) in files.iter().zip(&names) {
        let bytes = std::fs::read(file).unwrap();
        for payment in PAYMENTS {
            assert!(
                !contains(&bytes, payment),
                "{stage}: {name} holds the payment token {payment}"
            );
        }
        let is_mbox =
            file.starts_with(data.join("outbox")) && file.extension().is_some_and(|e| e == "mbox");
        if !is_mbox {
            assert!(!contains(&bytes, EMAIL), "{stage}: {name} holds the email");
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines().filter(|l| l.contains(EMAIL)) {
            assert!(
                line.starts_with("To: "),
                "{stage}: {name} holds the email outside a To: header: {line}"
            );
            addressed += 1;
        }
    }
    addressed
}

/// Every OrderPlaced payload carries the personal data only sealed: a `personal` object of
/// exactly keyId, nonce and ciphertext, and no `email` or `paymentToken` key anywhere.
fn assert_sealed(data: &Path, orders: usize) -> Vec<String> {
    let payloads = rows(
        data,
        "SELECT payload FROM events WHERE event_type = 'OrderPlaced' ORDER BY position",
    );
    assert_eq!(payloads.len(), orders);
    let mut key_ids = Vec::new();
    for row in payloads {
        let rusqlite::types::Value::Text(text) = &row[0] else {
            panic!("payload is not text: {row:?}");
        };
        let payload: Value = serde_json::from_str(text).unwrap();
        let personal = payload["personal"].as_object().expect("a personal object");
        let mut keys: Vec<&str> = personal.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["ciphertext", "keyId", "nonce"], "{payload}");
        assert_no_key(&payload, &["email", "paymentToken"]);
        key_ids.push(personal["keyId"].as_str().unwrap().to_owned());
    }
    key_ids
}

fn assert_no_key(v: &Value, forbidden: &[&str]) {
    match v {
        Value::Object(map) => {
            for (k, inner) in map {
                assert!(!forbidden.contains(&k.as_str()), "key {k} in {v}");
                assert_no_key(inner, forbidden);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| assert_no_key(i, forbidden)),
        _ => {}
    }
}

/// Waits until the outbox holds `n` emails addressed to the probe customer.
async fn wait_for_mails(data: &Path, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mbox = data.join("outbox").join("OrderAlertsTopic.mbox");
        let text = std::fs::read_to_string(mbox).unwrap_or_default();
        let got = text.lines().filter(|l| l.contains(EMAIL)).count();
        if got >= n {
            assert_eq!(got, n, "more emails than orders placed and completed");
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{got} of {n} mails");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Waits until the server logs that the order's payment failed once and will be retried.
async fn wait_for_retry(server: &Server, id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(&server.stderr).unwrap();
        if log
            .lines()
            .any(|l| l.contains("retrying task") && l.contains(id))
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no retry:\n{log}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_holds_an_email_or_payment_token_in_clear_before_or_after_a_forget() {
    let dir = tempfile::tempdir().unwrap();
    let quick = ["--retry-interval-scale", "0.01"];
    let mut server = Server::start(dir.path(), "first", &quick, &[]).await;
    let data = server.data.clone();
    let token = cli_token(&data, CUSTOMER, &[]);
    let admin = cli_token(&data, "ops-1", &["--admin"]);

    let payments = ["tok_visa", "tok_visa", "tok_decline", "tok_error"];
    let mut ids = Vec::new();
    for payment in payments {
        ids.push(server.place(&token, EMAIL, payment).await);
    }
    let mut statuses = Vec::new();
    for id in &ids {
        let view = server.finished(id, &token).await;
        statuses.push(view["status"].as_str().unwrap().to_owned());
        assert!(!view.to_string().contains(EMAIL), "{view}");
    }
    assert_eq!(statuses, ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED"]);
    // An "order received" for each of the four, a confirmation for each of the three completed.
    wait_for_mails(&data, 7).await;
    let names = files_under(&data);
    assert!(names.contains(&data.join("orders.db-wal")), "{names:?}");
    assert_eq!(assert_no_clear_data(&data, "running"), 7);
    let first_keys = assert_sealed(&data, ids.len());
    assert!(first_keys.iter().all(|k| k == &first_keys[0]), "one key");

    assert_eq!(server.forget(CUSTOMER, &admin).await, 1);
    assert_eq!(assert_no_clear_data(&data, "forgotten"), 7);
    server.stop();
    assert_eq!(assert_no_clear_data(&data, "stopped"), 7);
    assert_sealed(&data, ids.len());

    // Forgotten between a failed first charge and its retry (at three times the ASL's
    // interval: 3 s): the retry finds no key, so no charge and no confirmation. The workflow's
    // debug line says when the first attempt has failed.
    let slow = ["--retry-interval-scale", "3"];
    let env = [("RUST_LOG", "info,order_workflow=debug")];
    let mut server = Server::start(dir.path(), "second", &slow, &env).await;
    let posted = std::time::Instant::now();
    let late = server.place(&token, EMAIL, "tok_error").await;
    // Its "order received" goes out at once, while the customer is still known.
    wait_for_mails(&data, 8).await;
    wait_for_retry(&server, &late).await;
    assert_eq!(server.forget(CUSTOMER, &admin).await, 1, "a new key");
    let view = server.finished(&late, &token).await;
    assert_eq!(view["status"], "FAILED", "{view}");
    assert_eq!(view["reason"], "PAYMENT_DECLINED", "{view}");
    assert!(
        posted.elapsed() >= std::time::Duration::from_secs(3),
        "declined at the retry"
    );
    let events = server.get(&format!("/orders/{late}/events"), &admin).await;
    let declined = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "PaymentDeclined")
        .cloned()
        .unwrap_or_else(|| panic!("{}", events.text));
    assert_eq!(
        declined["data"]["code"], "personal_data_erased",
        "{declined}"
    );
    // Nothing new addressed to the forgotten customer, even a while later (the failure
    // notice goes to the operators' topic, without the address).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(assert_no_clear_data(&data, "forgotten in flight"), 8);
    server.stop();
    assert_eq!(assert_no_clear_data(&data, "stopped again"), 8);
    let keys = assert_sealed(&data, ids.len() + 1);
    assert_ne!(
        keys[ids.len()],
        first_keys[0],
        "the late order had a new key"
    );
}
