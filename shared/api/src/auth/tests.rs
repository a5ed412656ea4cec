//! The verifier against every kind of bad token, with tokens built by hand (not by the crate
//! that verifies them), and the extractor's 401 answers.

use std::time::Duration;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::issuer::{AUDIENCE, ISSUER};
use super::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.claims.signature`, the signature made by `sign` over the first two parts.
fn token(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign(message.as_bytes());
    format!("{message}.{}", b64(&sig))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn good_claims() -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "c-1", "exp": now() + 600, "email": "a@example.com" })
}

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

#[test]
fn the_issuer_s_own_tokens_verify_with_email_and_admin() {
    let issuer = Issuer::ephemeral().unwrap();
    let verifier = issuer.verifier().unwrap();
    let email = Email::parse("jane@example.com").unwrap();
    let t = issuer
        .mint(
            &customer("c-1"),
            Some(&email),
            false,
            Duration::from_mins(1),
        )
        .unwrap();
    let caller = verifier.verify(&t).unwrap();
    assert_eq!(caller.customer.as_str(), "c-1");
    assert_eq!(caller.email, Some(email));
    assert!(!caller.admin);
    let admin = issuer
        .mint(&customer("ops"), None, true, Duration::from_mins(1))
        .unwrap();
    let caller = verifier.verify(&admin).unwrap();
    assert!(caller.admin && caller.email.is_none());
    assert!(caller.may_see("anyone") && !verifier.verify(&t).unwrap().may_see("c-2"));
}

#[test]
fn every_kind_of_bad_token_is_refused_for_what_it_is() {
    let issuer = Issuer::ephemeral().unwrap();
    let other = Issuer::ephemeral().unwrap();
    let verifier = issuer.verifier().unwrap();
    let kid = issuer.kid().to_owned();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = good_claims();
        edit(&mut c);
        issuer.sign(&c).unwrap()
    };
    let good = with(&|_| {});
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut edited = good_claims();
    edited["sub"] = json!("c-2");
    let edited = format!("{head}.{}.{sig}", b64(edited.to_string().as_bytes()));
    let other_sig = other.sign(&good_claims()).unwrap();
    let foreign_sig = format!("{head}.{}", other_sig.split_once('.').unwrap().1);
    // Algorithm confusion: HMAC keyed with the public key, which anyone can read.
    let public = issuer.jwks().to_string();
    let hs_key = hmac::Key::new(hmac::HMAC_SHA256, public.as_bytes());
    let confused = token(
        &json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
        &good_claims(),
        |m| hmac::sign(&hs_key, m).as_ref().to_vec(),
    );
    let none = token(
        &json!({ "alg": "none", "typ": "JWT", "kid": kid }),
        &good_claims(),
        |_| Vec::new(),
    );
    let rs_as_es = token(
        &json!({ "alg": "RS256", "typ": "JWT", "kid": kid }),
        &good_claims(),
        |_| vec![0; 256],
    );
    let cases: Vec<(&str, String, Invalid)> = vec![
        ("garbage", "not-a-jwt".into(), Invalid::Malformed),
        ("two parts", "a.b".into(), Invalid::Malformed),
        (
            "expired",
            with(&|c| c["exp"] = json!(now() - 120)),
            Invalid::Expired,
        ),
        (
            "not yet valid",
            with(&|c| c["nbf"] = json!(now() + 600)),
            Invalid::NotYetValid,
        ),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.example")),
            Invalid::Issuer,
        ),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("someone-else")),
            Invalid::Audience,
        ),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            Invalid::Claims,
        ),
        (
            "no aud",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            Invalid::Claims,
        ),
        (
            "no sub",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            Invalid::Claims,
        ),
        (
            "bad sub",
            with(&|c| c["sub"] = json!(" padded ")),
            Invalid::Subject,
        ),
        ("claims edited", edited, Invalid::Signature),
        ("signed by another key", foreign_sig, Invalid::Signature),
        ("unknown kid", other_sig, Invalid::UnknownKey),
        // "none" is no algorithm the header parser knows: refused as it is read.
        ("alg none", none, Invalid::Malformed),
        ("HS256 with the public key", confused, Invalid::Algorithm),
        ("RS256 named on an ES256 key", rs_as_es, Invalid::Algorithm),
    ];
    for (what, t, expected) in cases {
        assert_eq!(verifier.verify(&t).err(), Some(expected), "{what}");
    }
    assert!(verifier.verify(&good).is_ok());
    // Within the leeway, an expired token still passes.
    assert!(
        verifier
            .verify(&with(&|c| c["exp"] = json!(now() - 5)))
            .is_ok()
    );
}

#[test]
fn an_rs256_key_from_a_jwks_verifies_tokens_signed_outside_this_crate() {
    let rng = SystemRandom::new();
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let jwks = json!({ "keys": [
        { "kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64(&public.n), "e": b64(&public.e) }
    ]});
    let verifier = JwtVerifier::from_jwks(&jwks.to_string(), ISSUER, AUDIENCE).unwrap();
    let rs = |kid: &str, claims: &Value| {
        token(
            &json!({ "alg": "RS256", "typ": "JWT", "kid": kid }),
            claims,
            |m| {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, m, &mut sig).unwrap();
                sig
            },
        )
    };
    let mut groups = good_claims();
    groups["cognito:groups"] = json!(["admin"]);
    let caller = verifier.verify(&rs("rsa-1", &groups)).unwrap();
    assert!(caller.admin);
    assert_eq!(caller.customer.as_str(), "c-1");
    assert_eq!(
        verifier.verify(&rs("rsa-2", &groups)).err(),
        Some(Invalid::UnknownKey)
    );
    // HMAC keyed with the RSA modulus: refused before any signature check.
    let hs_key = hmac::Key::new(hmac::HMAC_SHA256, &public.n);
    let confused = token(
        &json!({ "alg": "HS256", "kid": "rsa-1" }),
        &good_claims(),
        |m| hmac::sign(&hs_key, m).as_ref().to_vec(),
    );
    assert_eq!(verifier.verify(&confused).err(), Some(Invalid::Algorithm));
}

#[test]
fn a_jwks_with_keys_of_other_kinds_is_refused() {
    let ec = Issuer::ephemeral().unwrap().jwks()["keys"][0].clone();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut k = ec.clone();
        edit(&mut k);
        JwtVerifier::from_jwks(&json!({ "keys": [k] }).to_string(), ISSUER, AUDIENCE)
    };
    assert!(with(&|_| {}).is_ok());
    for (what, edit) in [
        (
            "oct",
            &(|k: &mut Value| *k = json!({ "kty": "oct", "kid": "h", "k": "c2VjcmV0" }))
                as &dyn Fn(&mut Value),
        ),
        ("HS256 named", &|k| k["alg"] = json!("HS256")),
        ("ES384 named", &|k| k["alg"] = json!("ES384")),
        ("RS256 on EC", &|k| k["alg"] = json!("RS256")),
        ("P-384", &|k| k["crv"] = json!("P-384")),
        ("encryption key", &|k| k["use"] = json!("enc")),
        ("no kid", &|k| {
            k.as_object_mut().unwrap().remove("kid");
        }),
        ("short x", &|k| k["x"] = json!("AAAA")),
        (
            "small RSA",
            &|k| *k = json!({ "kty": "RSA", "kid": "r", "n": b64(&[0xff; 128]), "e": "AQAB" }),
        ),
    ] {
        assert!(with(edit).is_err(), "{what}");
    }
    assert!(JwtVerifier::from_jwks(r#"{"keys":[]}"#, ISSUER, AUDIENCE).is_err());
    assert!(JwtVerifier::from_jwks("[]", ISSUER, AUDIENCE).is_err());
    let twice = json!({ "keys": [ec, ec] }).to_string();
    assert!(JwtVerifier::from_jwks(&twice, ISSUER, AUDIENCE).is_err());
}

#[test]
fn the_issuer_key_is_created_once_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let a = Issuer::load_or_create(dir.path()).unwrap();
    let b = Issuer::load_or_create(dir.path()).unwrap();
    assert_eq!(a.kid(), b.kid());
    let t = a
        .mint(&customer("c-1"), None, false, Duration::from_mins(1))
        .unwrap();
    assert!(b.verifier().unwrap().verify(&t).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.path().join(issuer::KEY_FILE);
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The kid is the RFC 7638 thumbprint: recomputed from the published JWK.
    let jwk = &a.jwks()["keys"][0];
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
        jwk["x"], jwk["y"]
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(a.kid(), b64(digest.as_ref()));
}

/// A router whose one route answers its caller's id, behind `auth`.
async fn ask(auth: Authenticator, request: axum::http::Request<axum::body::Body>) -> Response {
    use tower::ServiceExt as _;
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|c: Caller| async move {
                format!("{} admin={}", c.customer.as_str(), c.admin)
            }),
        )
        .layer(axum::Extension(Arc::new(auth)));
    app.oneshot(request).await.unwrap()
}

async fn text(r: Response) -> String {
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn get(headers: &[(&str, &str)]) -> axum::http::Request<axum::body::Body> {
    let mut b = axum::http::Request::get("/");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(axum::body::Body::empty()).unwrap()
}

#[tokio::test]
async fn the_extractor_answers_401_with_a_challenge_and_never_echoes_the_token() {
    let issuer = Issuer::ephemeral().unwrap();
    let jwt = || Authenticator::Jwt(issuer.verifier().unwrap());
    let good = issuer
        .mint(&customer("c-7"), None, false, Duration::from_mins(1))
        .unwrap();
    let ok = ask(jwt(), get(&[("authorization", &format!("bearer {good}"))])).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(text(ok).await, "c-7 admin=false");

    let forged = format!("{good}x");
    for (headers, challenge) in [
        (vec![], "Bearer"),
        (vec![("authorization", "Basic dXNlcjpwYXNz")], "Bearer"),
        (
            vec![("authorization", "Bearer not.a.jwt")],
            r#"Bearer error="invalid_token""#,
        ),
        (
            vec![("authorization", &*format!("Bearer {forged}"))],
            r#"Bearer error="invalid_token""#,
        ),
    ] {
        let r = ask(jwt(), get(&headers)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], challenge);
        let body: Value = serde_json::from_str(&text(r).await).unwrap();
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("not.a.jwt") && !message.contains(&good[..20]),
            "{message}"
        );
    }
    // No authenticator installed: a wiring bug, not a 401.
    let app = axum::Router::new().route("/", axum::routing::get(|_: Caller| async { "" }));
    let r = tower::ServiceExt::oneshot(app, get(&[])).await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn behind_the_gateway_only_the_claims_extension_counts() {
    let mut with_claims = get(&[]);
    with_claims.extensions_mut().insert(GatewayClaims(
        json!({ "sub": "c-9", "cognito:groups": "[admin other]" })
            .as_object()
            .unwrap()
            .clone(),
    ));
    let r = ask(Authenticator::Gateway, with_claims).await;
    assert_eq!(text(r).await, "c-9 admin=true");
    // A bearer header (even a valid one) is not what the gateway path trusts.
    let issuer = Issuer::ephemeral().unwrap();
    let good = issuer
        .mint(&customer("c-7"), None, true, Duration::from_mins(1))
        .unwrap();
    let header_only = get(&[("authorization", &format!("Bearer {good}"))]);
    let r = ask(Authenticator::Gateway, header_only).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let mut bad_sub = get(&[]);
    bad_sub.extensions_mut().insert(GatewayClaims(
        json!({ "email": "a@example.com" })
            .as_object()
            .unwrap()
            .clone(),
    ));
    let r = ask(Authenticator::Gateway, bad_sub).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
