//! Forgetting a customer end to end: an operator's `DELETE /customers/{id}` on the running
//! server, then `orders forget` on the stopped one (0 keys the second time; the first time for
//! the control customer). Afterwards the history shows the email as erased, the hash chains
//! still verify, a rebuild leaves the views byte-identical, and the customer's next order is
//! sealed under a new key.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::types::Value as Sql;
use serde_json::Value;

use crate::{STOCK, Server, cli_token, orders, rows};

const ALICE: &str = "forget-a";
const BOB: &str = "forget-b";
const ALICE_EMAIL: &str = "alice.forget.4410@example.com";
const BOB_EMAIL: &str = "bob.control.4410@example.com";

/// The read models' rows, every column as stored.
type Views = (Vec<Vec<Sql>>, Vec<Vec<Sql>>);

fn views(data: &Path) -> Views {
    (
        rows(data, "SELECT * FROM order_status ORDER BY order_id"),
        rows(data, "SELECT * FROM inventory ORDER BY product_id"),
    )
}

/// Waits until the projections have caught up with `orders` finished orders, `completed` of
/// them taking a mug; returns the views then.
async fn settled_views(data: &Path, orders: usize, completed: i64) -> Views {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = rows(
            data,
            "SELECT COUNT(*) FROM order_status WHERE status IN ('COMPLETED', 'FAILED')",
        );
        let left = rows(data, "SELECT available FROM inventory");
        if done[0][0] == Sql::Integer(i64::try_from(orders).unwrap())
            && left[0][0] == Sql::Integer(STOCK - completed)
        {
            return views(data);
        }
        assert!(Instant::now() < deadline, "views never settled: {left:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The email an order's history shows in its OrderPlaced.
async fn shown_email(server: &Server, id: &str, token: &str) -> String {
    let a = server.get(&format!("/orders/{id}/events"), token).await;
    assert_eq!(a.status, reqwest::StatusCode::OK, "{a:?}");
    let placed = &a.body["events"][0];
    assert_eq!(placed["type"], "OrderPlaced", "{}", a.text);
    assert!(placed["data"].get("paymentToken").is_none(), "{}", a.text);
    assert!(placed["data"].get("personal").is_none(), "{}", a.text);
    placed["data"]["email"].as_str().unwrap().to_owned()
}

/// The key id an order's OrderPlaced was sealed under.
fn key_id(data: &Path, id: &str) -> String {
    let sql = format!(
        "SELECT payload FROM events WHERE event_type = 'OrderPlaced' AND stream_id = 'order#{id}'"
    );
    let found = rows(data, &sql);
    let Sql::Text(payload) = &found[0][0] else {
        panic!("{found:?}");
    };
    let payload: Value = serde_json::from_str(payload).unwrap();
    payload["personal"]["keyId"].as_str().unwrap().to_owned()
}

fn replay(data: &Path, args: &[&str]) -> crate::Ran {
    orders(&["replay"], data, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_customers_history_reads_erased_and_the_log_still_verifies_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let quick = ["--retry-interval-scale", "0.01"];
    let mut server = Server::start(dir.path(), "serve", &quick, &[]).await;
    let data = server.data.clone();
    let alice = cli_token(&data, ALICE, &[]);
    let bob = cli_token(&data, BOB, &[]);
    let admin = cli_token(&data, "ops-1", &["--admin"]);

    let alices = [
        server.place(&alice, ALICE_EMAIL, "tok_visa").await,
        server.place(&alice, ALICE_EMAIL, "tok_decline").await,
    ];
    let bobs = server.place(&bob, BOB_EMAIL, "tok_visa").await;
    for id in &alices {
        server.finished(id, &alice).await;
    }
    server.finished(&bobs, &bob).await;
    let before = settled_views(&data, 3, 2).await;
    for id in &alices {
        assert_eq!(shown_email(&server, id, &alice).await, "a***@example.com");
    }
    let old_key = key_id(&data, &alices[0]);
    assert_eq!(key_id(&data, &alices[1]), old_key);

    // The operator forgets Alice on the running server.
    assert_eq!(server.forget(ALICE, &admin).await, 1);
    for id in &alices {
        assert_eq!(shown_email(&server, id, &alice).await, "[erased]");
        assert_eq!(shown_email(&server, id, &admin).await, "[erased]");
        let a = server.get(&format!("/orders/{id}/events"), &alice).await;
        assert!(a.text.contains(r#""email":"[erased]""#), "{}", a.text);
    }
    assert_eq!(shown_email(&server, &bobs, &bob).await, "b***@example.com");
    assert_eq!(views(&data), before, "a forget changes no view");
    server.stop();

    // The second path, the command line, on the stopped server: nothing left of Alice's.
    let again = orders(&["forget", "--customer", ALICE], &data, &[]);
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("0 data key(s) destroyed"), "{again}");

    let verified = replay(&data, &["--verify"]);
    assert_eq!(verified.code, 0, "{verified}");
    assert!(
        verified.stdout.contains("every stream verified"),
        "{verified}"
    );
    let rebuilt = replay(&data, &["--rebuild"]);
    assert_eq!(rebuilt.code, 0, "{rebuilt}");
    assert_eq!(views(&data), before, "rebuilt views are byte-identical");
    let compared = replay(&data, &[]);
    assert_eq!(compared.code, 0, "{compared}");
    assert!(compared.stdout.contains("read models: match"), "{compared}");

    // Bob forgotten on the command line: once 1 key, then 0.
    let first = orders(&["forget", "--customer", BOB], &data, &[]);
    assert!(first.stdout.contains("1 data key(s) destroyed"), "{first}");
    let second = orders(&["forget", "--customer", BOB], &data, &[]);
    assert!(
        second.stdout.contains("0 data key(s) destroyed"),
        "{second}"
    );

    // Back up: Bob's history reads erased too, and Alice's next order gets a new key.
    let server = Server::start(dir.path(), "again", &quick, &[]).await;
    assert_eq!(shown_email(&server, &bobs, &admin).await, "[erased]");
    let fresh = server.place(&alice, ALICE_EMAIL, "tok_visa").await;
    let view = server.finished(&fresh, &alice).await;
    assert_eq!(view["status"], "COMPLETED", "{view}");
    assert_ne!(key_id(&data, &fresh), old_key, "a new data key");
    assert_eq!(
        shown_email(&server, &fresh, &alice).await,
        "a***@example.com"
    );
    assert_eq!(shown_email(&server, &alices[0], &alice).await, "[erased]");
    drop(server);
    let verified = replay(&data, &["--verify"]);
    assert_eq!(verified.code, 0, "{verified}");
}
