//! Every kind of bearer token a server must refuse, for the sign-in tests of both hosts: tokens
//! its own issuer signs with claims it must still refuse, tokens signed by a stranger, and
//! tokens forged by hand (`alg: none`, HMAC keyed with the public key, edited claims).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use order_api::auth::Issuer;
use order_api::auth::issuer::{AUDIENCE, ISSUER};
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims the server would accept for `customer`.
pub fn claims(customer: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": customer,
        "email": format!("{customer}@example.com"), "exp": now() + 600,
    })
}

/// `header.claims.` + the signature `sign` makes of them, built by hand.
fn by_hand(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{message}.{}", b64(&sign(message.as_bytes())))
}

/// Each kind of bad token claiming to be `customer`, named, for a server that verifies with
/// `key` (its own issuer): the bare token, to be sent as `Bearer <token>`.
pub fn bad_tokens(key: &Issuer, customer: &str) -> Vec<(&'static str, String)> {
    let signed = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims(customer);
        edit(&mut c);
        key.sign(&c).unwrap()
    };
    let good = key.sign(&claims(customer)).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let stranger = Issuer::ephemeral()
        .unwrap()
        .sign(&claims(customer))
        .unwrap();
    let foreign_sig = stranger.rsplit('.').next().unwrap();
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims(customer);
        edit(&mut c);
        format!(
            "{}.{}.{}",
            parts[0],
            b64(c.to_string().as_bytes()),
            parts[2]
        )
    };
    let kid = key.kid();
    let hs256 = |secret: String| {
        let hs = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
        by_hand(&header, &claims(customer), |m| {
            hmac::sign(&hs, m).as_ref().to_vec()
        })
    };
    let none = |header: Value| by_hand(&header, &claims(customer), |_| Vec::new());
    vec![
        ("malformed", "this-is-not-a-jwt".to_owned()),
        ("expired", signed(&|c| c["exp"] = json!(now() - 3600))),
        (
            "wrong issuer",
            signed(&|c| c["iss"] = json!("https://evil.example")),
        ),
        (
            "wrong audience",
            signed(&|c| c["aud"] = json!("another-api")),
        ),
        (
            "no exp",
            signed(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "sub missing",
            signed(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        ("sub not a customer id", signed(&|c| c["sub"] = json!(""))),
        (
            "bad signature",
            format!("{}.{}.{foreign_sig}", parts[0], parts[1]),
        ),
        (
            "claims edited after signing: another customer",
            edited(&|c| c["sub"] = json!("someone-else")),
        ),
        (
            "claims edited after signing: made an operator",
            edited(&|c| c["cognito:groups"] = json!(["admin"])),
        ),
        ("unknown kid", stranger.clone()),
        ("alg none", none(json!({ "alg": "none", "typ": "JWT" }))),
        (
            "alg none with the kid",
            none(json!({ "alg": "none", "kid": kid })),
        ),
        (
            "HS256 keyed with the public JWKS",
            hs256(key.jwks().to_string()),
        ),
        (
            "HS256 keyed with the public JWK",
            hs256(key.jwks()["keys"][0].to_string()),
        ),
    ]
}
