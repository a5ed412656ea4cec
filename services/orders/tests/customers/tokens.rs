//! Scenario 1: every kind of bad token is a 401 with the JSON error body and a Bearer
//! challenge, on every order route, and nothing is appended for it.

use order_api::auth::Issuer;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::host::{Answer, Host, body};

/// The customer every bad token claims to be.
const MALLORY: &str = "mallory";
const UNKNOWN: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/// Each kind of bad token, named, as its `Authorization` header; `None` sends none at all.
fn bad_tokens(key: &Issuer) -> Vec<(&'static str, Option<String>)> {
    let good = key.sign(&order_testkit::forged::claims(MALLORY)).unwrap();
    let mut kinds = vec![
        ("missing header", None),
        (
            "Basic scheme",
            Some("Basic bWFsbG9yeTpwYXNzd29yZA==".into()),
        ),
        ("Bearer without a token", Some("Bearer ".into())),
        ("the token without Bearer", Some(good)),
    ];
    kinds.extend(
        order_testkit::forged::bad_tokens(key, MALLORY)
            .into_iter()
            .map(|(what, token)| (what, Some(format!("Bearer {token}")))),
    );
    kinds
}

/// A 401 with the JSON error, a Bearer challenge, and no echo of the token.
fn assert_unauthorized(a: &Answer, auth: Option<&str>, what: &str) {
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {a:?}");
    assert_eq!(a.body["error"]["code"], "UNAUTHORIZED", "{what}: {a:?}");
    // A bearer token that was sent and refused is `invalid_token` (RFC 6750); no token at all,
    // or another scheme, is a bare challenge.
    let sent = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|t| !t.is_empty());
    let challenge = a.header("www-authenticate").unwrap_or_default();
    if sent {
        assert_eq!(
            challenge, r#"Bearer error="invalid_token""#,
            "{what}: {a:?}"
        );
    } else {
        assert!(challenge.starts_with("Bearer"), "{what}: {a:?}");
    }
    for part in auth.unwrap_or_default().split(['.', ' ']) {
        assert!(
            part.len() <= 8 || !a.text.contains(part),
            "{what}: the answer echoes the token: {a:?}"
        );
    }
}

/// Every bad token on POST /orders, GET /orders, GET /orders/{id}, its events and DELETE
/// /customers/{id}: 401. Afterwards a good token of the same customer places exactly one order.
pub async fn every_bad_token_is_401_and_appends_nothing(host: &Host) {
    let ops = host.token("ops-1", None, true);
    let jane = host.token("jane", Some("jane@example.com"), false);
    let id = host.post(&jane, &body(None), None).await.order_id();
    let mallory = body(Some("mallory@example.com"));

    for (what, auth) in bad_tokens(host.issuer()) {
        let auth = auth.as_deref();
        let a = host
            .send(Method::POST, "/orders", auth, &[], Some(&mallory))
            .await;
        assert_unauthorized(&a, auth, what);
        for path in [
            "/orders".to_owned(),
            format!("/orders/{id}"),
            format!("/orders/{id}/events"),
            format!("/orders/{UNKNOWN}"),
        ] {
            let a = host.send(Method::GET, &path, auth, &[], None).await;
            assert_unauthorized(&a, auth, &format!("{what} on GET {path}"));
        }
        let a = host
            .send(Method::DELETE, "/customers/jane", auth, &[], None)
            .await;
        assert_unauthorized(&a, auth, &format!("{what} on DELETE"));
    }

    // Nothing was appended for the bad tokens: the customer they claimed has only the order
    // its good token places now (it completes, so the ones before it would be listed too).
    let good = host.token(MALLORY, Some("mallory@example.com"), false);
    let own = host.post(&good, &body(None), None).await.order_id();
    assert_eq!(host.wait_done(&own, &good).await["status"], "COMPLETED");
    let listed = host.wait_listed(&ops, "&customerId=mallory", 1).await;
    let ids: Vec<_> = listed.iter().map(|o| o["orderId"].clone()).collect();
    assert_eq!(ids, [json!(own)], "only the good token's order");
    // Jane's order was neither touched nor forgotten by the bad DELETEs.
    assert_eq!(host.wait_done(&id, &jane).await["status"], "COMPLETED");
    let events = host.get(&format!("/orders/{id}/events"), &jane).await;
    assert_eq!(
        events.body["events"][0]["data"]["email"],
        "j***@example.com"
    );

    // The public routes need no token.
    for path in ["/health", "/inventory/MUG"] {
        let a = host.send(Method::GET, path, None, &[], None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {a:?}");
    }
    host.assert_nothing_leaked();
}
