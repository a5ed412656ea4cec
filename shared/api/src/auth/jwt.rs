//! Local verification of bearer JWTs against a JWKS document (the keys of Cognito, of another
//! identity provider, or of the embedded default's own [`Issuer`](super::issuer::Issuer)).
//!
//! Only asymmetric signatures are accepted (RS256 and ES256), and each key allows exactly the
//! algorithm of its own type: a token whose header names another algorithm than its key's (an
//! HMAC "signed" with the public key, `alg: none`) is refused before any signature check.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::cache::Verified;
use super::{Caller, Invalid, claims};

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// Smallest RSA modulus accepted in a JWKS.
const MIN_RSA_BITS: usize = 2048;

/// A JWKS document that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS is not JSON with a \"keys\" array: {0}")]
    Shape(String),
    #[error("JWKS key {index}: {problem}")]
    Key { index: usize, problem: String },
    #[error("the JWKS has no keys")]
    Empty,
}

/// One verification key: its algorithm and the rules a token signed with it must pass.
struct Key {
    alg: Algorithm,
    decoding: DecodingKey,
    validation: Validation,
}

/// Verifies bearer tokens: signature by a known key (by `kid`), issuer, audience, expiry.
/// Keys are decoded once, when the verifier is built; a token that verified is remembered
/// until it expires.
pub struct JwtVerifier {
    keys: HashMap<String, Key>,
    verified: Verified,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("JwtVerifier")
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

fn base64url(params: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let text = params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("\"{name}\" is missing"))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| format!("\"{name}\" is not base64url"))
}

/// The key and its one algorithm; anything but an RSA (>= 2048 bits) or P-256 signing key is
/// refused, as is an `alg` that does not match the key type.
fn decode_key(jwk: &Map<String, Value>) -> Result<(Algorithm, DecodingKey), String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if let Some(usage) = text("use")
        && usage != "sig"
    {
        return Err(format!("\"use\" is {usage:?}, not \"sig\""));
    }
    let (alg, key) = match text("kty") {
        Some("RSA") => {
            let n = base64url(jwk, "n")?;
            let e = base64url(jwk, "e")?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "the RSA modulus has {bits} bits, fewer than {MIN_RSA_BITS}"
                ));
            }
            (
                Algorithm::RS256,
                DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
        Some("EC") => {
            if text("crv") != Some("P-256") {
                return Err("an EC key must be on curve P-256 (ES256)".into());
            }
            let (x, y) = (base64url(jwk, "x")?, base64url(jwk, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("a P-256 key's x and y are 32 bytes each".into());
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            // Despite the name, the aws-lc verifier takes the raw uncompressed point here.
            (Algorithm::ES256, DecodingKey::from_ec_der(&point))
        }
        other => {
            return Err(format!(
                "key type {other:?} is not accepted (only RSA for RS256, EC P-256 for ES256)"
            ));
        }
    };
    let named = match text("alg") {
        None => alg,
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        Some(other) => return Err(format!("algorithm {other:?} is not accepted")),
    };
    if named != alg {
        return Err(format!("\"alg\" {named:?} does not match the key type"));
    }
    Ok((alg, key))
}

impl JwtVerifier {
    /// A verifier for the keys of `jwks` (a JWKS document's text), accepting tokens whose
    /// `iss` is `issuer` and whose `aud` contains `audience`.
    pub fn from_jwks(jwks: &str, issuer: &str, audience: &str) -> Result<Self, JwksError> {
        let doc: Value = serde_json::from_str(jwks).map_err(|e| JwksError::Shape(e.to_string()))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError::Shape("no \"keys\" array".into()))?;
        let mut keys = HashMap::with_capacity(list.len());
        for (index, jwk) in list.iter().enumerate() {
            let bad = |problem: String| JwksError::Key { index, problem };
            let jwk = jwk
                .as_object()
                .ok_or_else(|| bad("not a JSON object".into()))?;
            let kid = jwk
                .get("kid")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| bad("\"kid\" is missing".into()))?;
            let (alg, decoding) = decode_key(jwk).map_err(bad)?;
            let mut validation = Validation::new(alg);
            validation.leeway = LEEWAY_SECS;
            validation.validate_nbf = true;
            validation.set_issuer(&[issuer]);
            validation.set_audience(&[audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            let key = Key {
                alg,
                decoding,
                validation,
            };
            if keys.insert(kid.to_owned(), key).is_some() {
                return Err(bad(format!("kid {kid:?} appears twice")));
            }
        }
        if keys.is_empty() {
            return Err(JwksError::Empty);
        }
        Ok(Self {
            keys,
            verified: Verified::default(),
        })
    }

    /// The caller a token names, once its signature, issuer, audience and lifetime check out.
    pub fn verify(&self, token: &str) -> Result<Caller, Invalid> {
        if let Some(caller) = self.verified.get(token) {
            return Ok(caller);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| reason(e.kind()))?;
        let kid = header.kid.as_deref().ok_or(Invalid::UnknownKey)?;
        let key = self.keys.get(kid).ok_or(Invalid::UnknownKey)?;
        if header.alg != key.alg {
            return Err(Invalid::Algorithm);
        }
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &key.validation)
                .map_err(|e| reason(e.kind()))?;
        let caller = claims::caller(&data.claims)?;
        // `exp` is required and was checked, so it is a number here.
        if let Some(exp) = data.claims.get("exp").and_then(Value::as_u64) {
            self.verified
                .put(token, &caller, exp.saturating_add(LEEWAY_SECS));
        }
        Ok(caller)
    }
}

/// What went wrong, in words that never repeat the token or its claims.
fn reason(kind: &ErrorKind) -> Invalid {
    match kind {
        ErrorKind::InvalidSignature => Invalid::Signature,
        ErrorKind::ExpiredSignature => Invalid::Expired,
        ErrorKind::ImmatureSignature => Invalid::NotYetValid,
        ErrorKind::InvalidIssuer => Invalid::Issuer,
        ErrorKind::InvalidAudience => Invalid::Audience,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => Invalid::Algorithm,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => Invalid::Claims,
        _ => Invalid::Malformed,
    }
}
