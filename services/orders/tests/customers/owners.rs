//! Scenarios 2 and 4: an order belongs to its customer (a foreign body `customerId` is 403,
//! another customer's order and history are 404 byte for byte like an unknown id's, an
//! operator sees them), and idempotency keys are scoped by customer.

use reqwest::StatusCode;
use serde_json::json;

use crate::host::{Host, body};

const UNKNOWN: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

pub async fn orders_belong_to_their_customer(host: &Host) {
    let jane = host.token("jane", Some("jane@example.com"), false);
    let bob = host.token("bob", Some("bob@example.com"), false);
    let ops = host.token("ops-1", None, true);

    let id = host.post(&jane, &body(None), None).await.order_id();
    let view = host.wait_done(&id, &jane).await;
    assert_eq!(view["customerId"], "jane");
    assert_eq!(view["status"], "COMPLETED", "{view}");

    // A body naming another customer: 403 FORBIDDEN on customerId, whoever asks.
    let mut foreign = body(Some("bob@example.com"));
    foreign["customerId"] = json!("jane");
    for token in [&bob, &ops] {
        let a = host.post(token, &foreign, None).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");
        assert_eq!(a.body["error"]["code"], "FORBIDDEN", "{a:?}");
        assert_eq!(a.body["error"]["field"], "customerId", "{a:?}");
    }
    foreign["customerId"] = json!("bob");
    let a = host.post(&jane, &foreign, None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");

    // Another customer: the order and its history answer exactly as an unknown id does.
    for suffix in ["", "/events"] {
        let theirs = host.get(&format!("/orders/{id}{suffix}"), &bob).await;
        let unknown = host.get(&format!("/orders/{UNKNOWN}{suffix}"), &bob).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{theirs:?}");
        assert_eq!(theirs.body["error"]["code"], "NOT_FOUND", "{theirs:?}");
        assert_eq!(
            (theirs.status, &theirs.text),
            (unknown.status, &unknown.text),
            "{suffix}: someone else's order must look unknown"
        );
        for token in [&jane, &ops] {
            let a = host.get(&format!("/orders/{id}{suffix}"), token).await;
            assert_eq!(a.status, StatusCode::OK, "{a:?}");
        }
    }
    let history = host.get(&format!("/orders/{id}/events"), &ops).await;
    let placed = &history.body["events"][0];
    assert_eq!(placed["type"], "OrderPlaced", "{history:?}");
    assert_eq!(placed["data"]["email"], "j***@example.com", "{history:?}");

    // Nothing was appended for the refused bodies: jane has her one order, bob none.
    let listed = host.wait_listed(&ops, "&customerId=jane", 1).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let bobs = host.get("/orders", &bob).await;
    assert_eq!(bobs.status, StatusCode::OK, "{bobs:?}");
    assert_eq!(bobs.body["orders"], json!([]), "{bobs:?}");
    host.assert_nothing_leaked();
}

/// The same key and body from two customers are two orders, neither a replay; the same key
/// again from each replays that customer's own order.
pub async fn idempotency_keys_are_scoped_by_customer(host: &Host) {
    let jane = host.token("jane", Some("jane@example.com"), false);
    let bob = host.token("bob", Some("bob@example.com"), false);
    let same = body(Some("shared@example.com"));
    let key = "checkout-2024-0001";

    let first = host.post(&jane, &same, Some(key)).await;
    let second = host.post(&bob, &same, Some(key)).await;
    let (janes, bobs) = (first.order_id(), second.order_id());
    assert_ne!(
        janes, bobs,
        "a key reused by another customer is a new order"
    );
    for a in [&first, &second] {
        assert_eq!(a.header("idempotent-replayed"), None, "{a:?}");
    }

    let again = host.post(&jane, &same, Some(key)).await;
    assert_eq!(again.order_id(), janes);
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{again:?}"
    );
    let bob_again = host.post(&bob, &same, Some(key)).await;
    assert_eq!(bob_again.order_id(), bobs);
    assert_eq!(bob_again.header("idempotent-replayed"), Some("true"));

    // A third customer's other body under the same key is no conflict (422) either: the
    // key is not hers yet.
    let carol = host.token("carol", Some("carol@example.com"), false);
    let mut other = body(None);
    other["items"][0]["quantity"] = serde_json::json!(2);
    let carols = host.post(&carol, &other, Some(key)).await;
    assert_eq!(carols.header("idempotent-replayed"), None, "{carols:?}");
    let carols = carols.order_id();
    assert!(carols != janes && carols != bobs);
    assert_eq!(host.wait_done(&carols, &carol).await["customerId"], "carol");

    // Each order is its customer's, and only theirs.
    for (id, owner, other) in [(&janes, &jane, &bob), (&bobs, &bob, &jane)] {
        let view = host.wait_done(id, owner).await;
        assert_eq!(view["status"], "COMPLETED", "{view}");
        let a = host.get(&format!("/orders/{id}"), other).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");
    }
    assert_eq!(host.wait_done(&janes, &jane).await["customerId"], "jane");
    assert_eq!(host.wait_done(&bobs, &bob).await["customerId"], "bob");
    host.assert_nothing_leaked();
}
