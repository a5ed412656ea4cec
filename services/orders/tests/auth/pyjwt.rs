//! Tokens from an independent implementation: PyJWT signs with an RSA and a P-256 key of its
//! own, whose JWKS the server is given with `--auth-jwks`. Under `CI=true` a missing Python
//! tool is a failure, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::{Rig, assert_unauthorized, body, cli_token};

/// The repository's `.venv/bin/python` with PyJWT, or `None` (a skip) outside CI.
fn python() -> Option<PathBuf> {
    order_testkit::support::venv_python("jwt, cryptography")
}

/// Runs the minting script: the JWKS goes to `jwks`, the answer is `{iss, aud, tokens}`.
fn mint(python: &Path, jwks: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/auth/mint_pyjwt.py");
    let out = Command::new(python).arg(script).arg(jwks).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn pyjwt_tokens_are_accepted_through_auth_jwks_and_its_bad_ones_refused() {
    let Some(python) = python() else { return };
    let keys = tempfile::tempdir().unwrap();
    let jwks = keys.path().join("jwks.json");
    let minted = mint(&python, &jwks);
    let (iss, aud) = (
        minted["iss"].as_str().unwrap(),
        minted["aud"].as_str().unwrap(),
    );
    let token = |name: &str| minted["tokens"][name].as_str().unwrap().to_owned();
    let jwks_arg = jwks.to_str().unwrap();
    let rig = Rig::start(&[
        "--auth-jwks",
        jwks_arg,
        "--auth-issuer",
        iss,
        "--auth-audience",
        aud,
    ])
    .await;

    // RS256: the customer places an order, the email from the token's claim.
    let customer = token("rs256_customer");
    let placed = rig.post(&customer, &body(None)).await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{placed:?}");
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let view = rig.get(&format!("/orders/{id}"), &customer).await;
    assert_eq!(view.status, StatusCode::OK, "{view:?}");
    assert_eq!(view.body["customerId"], "py-1");
    // ES256: an operator sees it, another customer does not.
    let path = format!("/orders/{id}/events");
    assert_eq!(
        rig.get(&path, &token("es256_admin")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        rig.get(&path, &token("es256_other")).await.status,
        StatusCode::NOT_FOUND
    );

    let before = rig.placed_orders();
    for name in [
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "impostor_key",
        "rs256_on_the_ec_kid",
        "hs256_with_the_jwks",
        "unknown_kid",
    ] {
        let t = token(name);
        let a = rig.post(&t, &body(Some("py@example.com"))).await;
        assert_unauthorized(&a, true, &t, name);
    }
    // This server verifies the identity provider's tokens, not the data directory's own.
    let local = cli_token(&rig.data(), "py-1", &[]);
    let a = rig.post(&local, &body(Some("py@example.com"))).await;
    assert_unauthorized(&a, true, &local, "a local issuer's token");
    assert_eq!(rig.placed_orders(), before, "nothing appended");
}
