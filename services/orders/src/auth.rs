//! How `orders serve` establishes its callers: the data directory's own token issuer (the
//! embedded default, so a local server needs no identity provider), or an identity provider's
//! JWKS, issuer and audience given on the command line (Cognito's, say).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use order_api::auth::{Authenticator, Issuer, JwtVerifier};
use order_domain::{CustomerId, Email};

/// The customer the start-up banner's token is for.
pub const DEMO_CUSTOMER: &str = "c-1";
/// The demo customer's email, carried in the banner's token.
pub const DEMO_EMAIL: &str = "jane@example.com";
/// How long the banner's token lasts.
pub const DEMO_TTL: Duration = Duration::from_hours(24);

/// Who the banner's console link signs in as (an operator: a member of the `admin` group).
pub const CONSOLE_OPERATOR: &str = "console-operator";
/// How long the console link's token lasts: the link is printed to a terminal and its log, so
/// it should not outlive the session it is for (`orders token --admin` mints another).
pub const CONSOLE_TTL: Duration = Duration::from_hours(1);

/// An identity provider's tokens, verified with its published keys.
#[derive(Debug, Clone)]
pub struct External<'a> {
    pub jwks: &'a Path,
    pub issuer: &'a str,
    pub audience: &'a str,
}

/// The server's authenticator, and the local issuer when there is one (the banner mints its
/// demo token with it).
pub fn authenticator(
    data_dir: &Path,
    external: Option<External<'_>>,
) -> anyhow::Result<(Arc<Authenticator>, Option<Issuer>)> {
    if let Some(ext) = external {
        let text = std::fs::read_to_string(ext.jwks)
            .with_context(|| format!("reading --auth-jwks {}", ext.jwks.display()))?;
        let verifier = JwtVerifier::from_jwks(&text, ext.issuer, ext.audience)
            .with_context(|| format!("--auth-jwks {}", ext.jwks.display()))?;
        return Ok((Arc::new(Authenticator::Jwt(verifier)), None));
    }
    let issuer = Issuer::load_or_create(data_dir).context("the local token issuer")?;
    let verifier = issuer.verifier()?;
    Ok((Arc::new(Authenticator::Jwt(verifier)), Some(issuer)))
}

/// A token from the data directory's issuer (creating its key if absent), as `orders token`
/// prints it.
pub fn mint(
    data_dir: &Path,
    customer: &str,
    email: Option<&str>,
    admin: bool,
    ttl: Duration,
) -> anyhow::Result<String> {
    let customer = CustomerId::parse(customer).map_err(|e| anyhow::anyhow!("--customer {e}"))?;
    let email = email
        .map(Email::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--email {e}"))?;
    let issuer = Issuer::load_or_create(data_dir).context("the local token issuer")?;
    Ok(issuer.mint(&customer, email.as_ref(), admin, ttl)?)
}
