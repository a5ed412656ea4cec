//! The embedded default's own token issuer, so a local server needs no identity provider: an
//! ES256 key created on first start in the data directory (`auth/issuer-es256.pk8`, readable
//! by its owner only), the JWKS the server verifies against, and [`Issuer::mint`] for
//! `orders token` and the tests.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use order_domain::{CustomerId, Email};
use serde_json::{Value, json};

use super::claims::{ADMIN_GROUP, GROUPS_CLAIM};
use super::jwt::{JwksError, JwtVerifier};

/// The `iss` of the tokens the embedded default mints.
pub const ISSUER: &str = "urn:order-pipeline:local";
/// The `aud` of the tokens the embedded default mints.
pub const AUDIENCE: &str = "order-pipeline";
/// Where the key lives, under the data directory.
pub const KEY_FILE: &str = "auth/issuer-es256.pk8";

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a PKCS#8 P-256 key")]
    BadKey(PathBuf),
    #[error("could not create a key")]
    Generate,
    #[error("could not sign the token: {0}")]
    Sign(String),
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

/// A signing key with its public JWK and key id (the RFC 7638 thumbprint).
pub struct Issuer {
    kid: String,
    jwk: Value,
    signing: EncodingKey,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signing key stays out of logs.
        f.debug_struct("Issuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IssuerError + '_ {
    move |source| IssuerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` only if nothing is there yet, readable by the owner only. The key
/// goes to a private temporary file first and is hard-linked into place, so two processes
/// starting at once (a server and `orders token`) end up sharing one key, never half a file.
fn write_new(path: &Path, bytes: &[u8]) -> Result<bool, IssuerError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".issuer-{}-{}.tmp",
        std::process::id(),
        ulid::Ulid::generate()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    written.map_err(io(&tmp))?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Issuer {
    /// The issuer whose key is in `data_dir` (see [`KEY_FILE`]), creating the key if absent.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, IssuerError> {
        let path = data_dir.join(KEY_FILE);
        if !path.exists() {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| IssuerError::Generate)?;
            if write_new(&path, pkcs8.as_ref())? {
                tracing::info!(path = %path.display(), "created the local token issuer's key");
            }
        }
        let der = fs::read(&path).map_err(io(&path))?;
        Self::from_pkcs8(&der).ok_or(IssuerError::BadKey(path))
    }

    /// An issuer with a fresh key that lives only in memory.
    pub fn ephemeral() -> Result<Self, IssuerError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| IssuerError::Generate)?;
        Self::from_pkcs8(pkcs8.as_ref()).ok_or(IssuerError::Generate)
    }

    /// An issuer from a PKCS#8 DER P-256 private key.
    pub fn from_pkcs8(der: &[u8]) -> Option<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return None;
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..]);
        // RFC 7638: the required members, in lexicographic order, without whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "alg": "ES256", "use": "sig",
        });
        Some(Self {
            kid,
            jwk,
            signing: EncodingKey::from_ec_der(der),
        })
    }

    /// The key id tokens carry in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// A verifier that accepts this issuer's tokens.
    pub fn verifier(&self) -> Result<JwtVerifier, IssuerError> {
        Ok(JwtVerifier::from_jwks(
            &self.jwks().to_string(),
            ISSUER,
            AUDIENCE,
        )?)
    }

    /// A token for `customer`, valid for `ttl`; `admin` puts it in the `admin` group.
    pub fn mint(
        &self,
        customer: &CustomerId,
        email: Option<&Email>,
        admin: bool,
        ttl: Duration,
    ) -> Result<String, IssuerError> {
        let now = now_secs();
        let mut claims = json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": customer.as_str(),
            "iat": now,
            "exp": now.saturating_add(ttl.as_secs()),
        });
        if let Some(email) = email {
            claims["email"] = json!(email.as_str());
        }
        if admin {
            claims[GROUPS_CLAIM] = json!([ADMIN_GROUP]);
        }
        self.sign(&claims)
    }

    /// Signs arbitrary claims with this key (tests use it for tokens the verifier must refuse).
    pub fn sign(&self, claims: &Value) -> Result<String, IssuerError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing)
            .map_err(|e| IssuerError::Sign(e.to_string()))
    }
}
