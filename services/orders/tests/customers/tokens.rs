//! Scenario 1: every kind of bad token is a 401 with the JSON error body and a Bearer
//! challenge, on every order route, and nothing is appended for it.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use order_api::auth::Issuer;
use order_api::auth::issuer::{AUDIENCE, ISSUER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::host::{Answer, Host, body};

/// The customer every bad token claims to be.
const MALLORY: &str = "mallory";
const UNKNOWN: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims the server would accept.
fn claims() -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": MALLORY, "email": "mallory@example.com", "exp": now() + 600 })
}

/// `header.claims.signature`, built by hand.
fn by_hand(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{message}.{}", b64(&sign(message.as_bytes())))
}

/// Each kind of bad token, named; `None` sends no `Authorization` header at all.
fn bad_tokens(key: &Issuer) -> Vec<(&'static str, Option<String>)> {
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims();
        edit(&mut c);
        Some(format!("Bearer {}", key.sign(&c).unwrap()))
    };
    let good = key.sign(&claims()).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let stranger = Issuer::ephemeral().unwrap().sign(&claims()).unwrap();
    let foreign_sig = stranger.rsplit('.').next().unwrap();
    let mut edited = claims();
    edited["cognito:groups"] = json!(["admin"]);
    let kid = key.kid();
    let hs256 = |secret: String| {
        let hs = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
        by_hand(&header, &claims(), |m| hmac::sign(&hs, m).as_ref().to_vec())
    };
    let none = by_hand(&json!({ "alg": "none", "kid": kid }), &claims(), |_| {
        Vec::new()
    });
    vec![
        ("missing header", None),
        (
            "Basic scheme",
            Some("Basic bWFsbG9yeTpwYXNzd29yZA==".into()),
        ),
        ("Bearer without a token", Some("Bearer ".into())),
        ("the token without Bearer", Some(good.clone())),
        ("malformed", Some("Bearer this-is-not-a-jwt".into())),
        ("expired", with(&|c| c["exp"] = json!(now() - 3600))),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.example")),
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("another-api"))),
        (
            "bad signature",
            Some(format!("Bearer {}.{}.{foreign_sig}", parts[0], parts[1])),
        ),
        (
            "claims edited after signing",
            Some(format!(
                "Bearer {}.{}.{}",
                parts[0],
                b64(edited.to_string().as_bytes()),
                parts[2]
            )),
        ),
        ("alg none", Some(format!("Bearer {none}"))),
        (
            "HS256 keyed with the public JWKS",
            Some(format!("Bearer {}", hs256(key.jwks().to_string()))),
        ),
        (
            "HS256 keyed with the public JWK",
            Some(format!(
                "Bearer {}",
                hs256(key.jwks()["keys"][0].to_string())
            )),
        ),
        ("unknown kid", Some(format!("Bearer {stranger}"))),
    ]
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
