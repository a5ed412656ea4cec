//! Who is calling: the [`Caller`] extractor every order route takes, established by the
//! [`Authenticator`] the host installs on the router.
//!
//! - Locally (`orders serve`) the router verifies `Authorization: Bearer <jwt>` itself
//!   ([`Authenticator::Jwt`]), against the embedded default's own [`issuer::Issuer`] or a JWKS
//!   given on the command line.
//! - Behind API Gateway, the Cognito authorizer has already verified the token; the Lambda host
//!   copies the verified claims from the request context into [`GatewayClaims`], and
//!   [`Authenticator::Gateway`] trusts only that extension, never a header a caller can write.
//!
//! Every failure is a 401 with the API's JSON error body and a `WWW-Authenticate: Bearer`
//! header; the message names the kind of problem, never the token.

mod cache;
pub mod claims;
pub mod issuer;
pub mod jwt;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use order_domain::{CustomerId, Email};

use crate::error::ApiError;
use crate::limit::CustomerLimit;
pub use issuer::{Issuer, IssuerError};
pub use jwt::{JwksError, JwtVerifier};

/// The signed-in caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`.
    pub customer: CustomerId,
    /// The token's `email` claim, if it holds a valid address.
    pub email: Option<Email>,
    /// A member of the `admin` group (`cognito:groups`): may read any customer's orders.
    pub admin: bool,
}

impl Caller {
    /// Whether this caller may see what belongs to `customer`.
    pub fn may_see(&self, customer: &str) -> bool {
        self.admin || self.customer.as_str() == customer
    }
}

/// Claims already verified by API Gateway's authorizer (`requestContext.authorizer.claims`),
/// as a request extension the Lambda host inserts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewayClaims(pub serde_json::Map<String, serde_json::Value>);

/// How a request's caller is established; installed on the router as an extension.
#[derive(Debug)]
pub enum Authenticator {
    /// Verify the bearer token here.
    Jwt(JwtVerifier),
    /// Trust only the [`GatewayClaims`] the host inserted (API Gateway verified the token).
    Gateway,
}

/// Why a token was refused. The words are fixed: a message never echoes the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is meant for another audience")]
    Audience,
    #[error("the token's algorithm is not accepted for its key")]
    Algorithm,
    #[error("the token's key (kid) is unknown")]
    UnknownKey,
    #[error("the token lacks a required claim (exp, iss, aud, sub) or has one of the wrong type")]
    Claims,
    #[error("the token's subject (sub) is missing or not a valid customer id")]
    Subject,
}

/// A request without a usable identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header (or, behind API Gateway, no authorizer claims).
    #[error("sign in: send Authorization: Bearer <token>")]
    Missing,
    /// An `Authorization` header of another scheme than Bearer.
    #[error("the Authorization header must use the Bearer scheme")]
    NotBearer,
    /// A bearer token that does not verify.
    #[error("{0}")]
    Invalid(Invalid),
    /// The host installed no [`Authenticator`]: a wiring bug, never the caller's fault.
    #[error("authentication is not configured")]
    NotConfigured,
    /// A signed-in caller past their request rate (429 with `Retry-After`).
    #[error("{}", .0.message)]
    RateLimited(ApiError),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        if let Self::RateLimited(e) = self {
            return e.into_response();
        }
        if self == Self::NotConfigured {
            tracing::error!("the router has no Authenticator extension");
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                self.to_string(),
            )
            .into_response();
        }
        let challenge = if matches!(self, Self::Invalid(_)) {
            r#"Bearer error="invalid_token""#
        } else {
            "Bearer"
        };
        let mut response =
            ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", self.to_string())
                .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let text = value
        .to_str()
        .map_err(|_| AuthError::Invalid(Invalid::Malformed))?;
    let (scheme, token) = text.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

impl Authenticator {
    /// The caller of a request, from its headers and extensions.
    pub fn authenticate(&self, parts: &Parts) -> Result<Caller, AuthError> {
        match self {
            Self::Jwt(verifier) => verifier
                .verify(bearer(&parts.headers)?)
                .map_err(AuthError::Invalid),
            Self::Gateway => {
                let claims = parts
                    .extensions
                    .get::<GatewayClaims>()
                    .filter(|c| !c.0.is_empty())
                    .ok_or(AuthError::Missing)?;
                claims::caller(&claims.0).map_err(AuthError::Invalid)
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AuthError> {
        let auth = parts
            .extensions
            .get::<Arc<Authenticator>>()
            .ok_or(AuthError::NotConfigured)?;
        let caller = auth.authenticate(parts)?;
        // Counted only once the caller is known: unauthenticated floods never fill the table.
        // Operators are not limited: they read many customers' orders at once, and shedding
        // still bounds what they can make the server do.
        if !caller.admin
            && let Some(limit) = parts.extensions.get::<Arc<CustomerLimit>>()
        {
            limit
                .check(&caller.customer)
                .map_err(AuthError::RateLimited)?;
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests;
