//! Scenario 6: `DELETE /customers/{id}`. Only an operator may forget a customer; it destroys
//! their key once (1, then 0 on repeat); their history then reads `"[erased]"` while the order
//! itself stays; a new order of theirs completes under a new key.

use reqwest::StatusCode;

use crate::host::{Host, body};

/// The email of the OrderPlaced event in the order's history, as `token` sees it.
async fn shown_email(host: &Host, id: &str, token: &str) -> String {
    let a = host.get(&format!("/orders/{id}/events"), token).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let placed = &a.body["events"][0];
    assert_eq!(placed["type"], "OrderPlaced", "{a:?}");
    assert!(placed["data"].get("paymentToken").is_none(), "{a:?}");
    assert!(placed["data"].get("personal").is_none(), "{a:?}");
    placed["data"]["email"].as_str().unwrap().to_owned()
}

pub async fn an_operator_forgets_a_customer(host: &Host) {
    let jane = host.token("jane", Some("jane@example.com"), false);
    let bob = host.token("bob", Some("bob@example.com"), false);
    let ops = host.token("ops-1", None, true);
    let old = host.post(&jane, &body(None), None).await.order_id();
    assert_eq!(host.wait_done(&old, &jane).await["status"], "COMPLETED");
    let bobs = host.post(&bob, &body(None), None).await.order_id();
    assert_eq!(host.wait_done(&bobs, &bob).await["status"], "COMPLETED");
    assert_eq!(shown_email(host, &old, &jane).await, "j***@example.com");

    // Not an operator (another customer, or jane herself): 403, and nothing changes.
    for token in [&bob, &jane] {
        let a = host.delete("/customers/jane", token).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");
        assert_eq!(a.body["error"]["code"], "FORBIDDEN", "{a:?}");
    }
    assert_eq!(shown_email(host, &old, &jane).await, "j***@example.com");

    // An operator: the key goes once.
    for destroyed in [1, 0] {
        let a = host.delete("/customers/jane", &ops).await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        assert_eq!(a.body["customerId"], "jane", "{a:?}");
        assert_eq!(a.body["forgotten"], true, "{a:?}");
        assert_eq!(a.body["keysDestroyed"], destroyed, "{a:?}");
    }

    // Her history reads erased (to her and to an operator); the order itself is still there.
    for token in [&jane, &ops] {
        assert_eq!(shown_email(host, &old, token).await, "[erased]");
        let raw = host.get(&format!("/orders/{old}/events"), token).await;
        assert!(raw.text.contains(r#""email":"[erased]""#), "{raw:?}");
        let view = host.get(&format!("/orders/{old}"), token).await;
        assert_eq!(view.status, StatusCode::OK, "{view:?}");
        assert_eq!(view.body["status"], "COMPLETED", "{view:?}");
    }
    // Another customer is untouched.
    assert_eq!(shown_email(host, &bobs, &bob).await, "b***@example.com");

    // A new order of hers completes under a new key: it shows her (masked) email while the
    // old one stays erased.
    let new = host.post(&jane, &body(None), None).await.order_id();
    assert_eq!(host.wait_done(&new, &jane).await["status"], "COMPLETED");
    assert_eq!(shown_email(host, &new, &jane).await, "j***@example.com");
    assert_eq!(shown_email(host, &old, &jane).await, "[erased]");
    let listed = host.wait_listed(&jane, "", 2).await;
    assert_eq!(listed.len(), 2, "{listed:?}");

    // Forgetting her again destroys the new key: one again.
    let a = host.delete("/customers/jane", &ops).await;
    assert_eq!(a.body["keysDestroyed"], 1, "{a:?}");
    assert_eq!(shown_email(host, &new, &jane).await, "[erased]");
    host.assert_nothing_leaked();
}
