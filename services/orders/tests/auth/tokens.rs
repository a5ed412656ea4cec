//! Every kind of bad token, against a server that is its own issuer: 401 on the order routes,
//! never an echo of the token, nothing appended; the public routes stay open.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use order_api::auth::Issuer;
use order_api::auth::issuer::{AUDIENCE, ISSUER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Rig, assert_unauthorized, body};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims the server would accept, for `cust-42`.
fn claims() -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "cust-42", "email": "jane@example.com", "exp": now() + 600 })
}

/// `header.claims.` + a signature made by `sign`, built by hand.
fn by_hand(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{message}.{}", b64(&sign(message.as_bytes())))
}

/// The bad tokens, each named: the server's own key signs what it must still refuse.
fn bad_tokens(server_key: &Issuer, good: &str) -> Vec<(&'static str, String)> {
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims();
        edit(&mut c);
        server_key.sign(&c).unwrap()
    };
    let stranger = Issuer::ephemeral().unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let mut edited = claims();
    edited["sub"] = json!("cust-7");
    let foreign = stranger.sign(&claims()).unwrap();
    let foreign_sig = foreign.rsplit('.').next().unwrap();
    let kid = server_key.kid();
    let public = server_key.jwks().to_string();
    let hs = hmac::Key::new(hmac::HMAC_SHA256, public.as_bytes());
    vec![
        ("malformed", "this-is-not-a-jwt".to_owned()),
        ("expired", with(&|c| c["exp"] = json!(now() - 3600))),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://issuer.example")),
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("another-api"))),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "sub missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        ("sub not a customer id", with(&|c| c["sub"] = json!(""))),
        (
            "bad signature",
            format!("{}.{}.{foreign_sig}", parts[0], parts[1]),
        ),
        (
            "claims edited after signing",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(edited.to_string().as_bytes()),
                parts[2]
            ),
        ),
        ("unknown kid", foreign),
        (
            "alg none",
            by_hand(&json!({ "alg": "none", "typ": "JWT" }), &claims(), |_| {
                Vec::new()
            }),
        ),
        (
            "alg none with the kid",
            by_hand(&json!({ "alg": "none", "kid": kid }), &claims(), |_| {
                Vec::new()
            }),
        ),
        (
            "HS256 keyed with the public key",
            by_hand(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
                &claims(),
                |m| hmac::sign(&hs, m).as_ref().to_vec(),
            ),
        ),
    ]
}

/// Every bad token is a 401 on POST (nothing appended) and on the order reads.
#[tokio::test]
async fn every_kind_of_bad_token_is_401_and_nothing_is_appended() {
    let rig = Rig::start(&[]).await;
    let good = rig.cli_token("cust-42", &["--email", "jane@example.com"]);
    let placed = rig.post(&good, &body(None)).await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{placed:?}");
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let before = rig.placed_orders();
    let server_key = Issuer::load_or_create(&rig.data()).unwrap();

    for (what, token) in bad_tokens(&server_key, &good) {
        let a = rig.post(&token, &body(Some("jane@example.com"))).await;
        assert_unauthorized(&a, true, &token, what);
        for path in [format!("/orders/{id}"), format!("/orders/{id}/events")] {
            assert_unauthorized(&rig.get(&path, &token).await, true, &token, what);
        }
    }
    let b = body(Some("jane@example.com"));
    for (what, auth) in [
        ("no Authorization header", None),
        ("Basic scheme", Some("Basic Y3VzdC00MjpwYXNzd29yZA==")),
        ("Bearer without a token", Some("Bearer ")),
    ] {
        for (method, path) in [(Method::POST, "/orders"), (Method::POST, "/")] {
            let a = rig.send(method, path, auth, Some(&b)).await;
            assert_unauthorized(&a, false, "", what);
        }
        let a = rig
            .send(Method::GET, &format!("/orders/{id}"), auth, None)
            .await;
        assert_unauthorized(&a, false, "", what);
    }
    // A token in another header is no token.
    let a = rig
        .send(Method::POST, "/orders", Some(&good), Some(&b))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(rig.placed_orders(), before, "nothing appended");

    // The public routes need no token; the good one still works after all that.
    for path in ["/health", "/inventory/MUG"] {
        let a = rig.send(Method::GET, path, None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {a:?}");
    }
    assert_eq!(
        rig.get(&format!("/orders/{id}"), &good).await.status,
        StatusCode::OK
    );
}
