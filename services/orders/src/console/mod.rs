//! `/console`: the operator's page, served by `orders serve` on both backends beside the API.
//!
//! The page (`index.html`, `console.css`, `console.js`, embedded in the binary: nothing to
//! build, nothing fetched from elsewhere) is public, since it holds no data; it asks for an
//! admin token (kept in the tab's sessionStorage, or taken from the `#token=` fragment of the
//! start-up banner's link, which never reaches a server or a log) and polls the JSON routes
//! below every two seconds with it. Every JSON route needs an operator's token (401 without a
//! token that verifies, 403 for a customer's), with the API's error shape:
//!
//! - `GET /admin/orders/counts`: orders per status, from the status view ([`api`]).
//! - `GET /admin/emails`: the last emails sent (topic, subject, time, order; no address).
//! - `GET /admin/dead-letters`, `POST /admin/dead-letters/redrive`: OrdersQueue's dead
//!   letters, redriven through the shared use case (idempotent, logged as the operator's).
//! - `GET /admin/series`, `GET /admin/alarms`: throughput, latency, depths and alarms, from the
//!   monitor; the page shows "no alarms" while `/admin/alarms` answers 404.
//!
//! An order's timeline is the API's own `GET /orders/{id}` and `/events`, read as the admin.

mod api;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use order_api::auth::{Authenticator, Caller};
use order_api::error::ApiError;
use order_app::ReadModels;
use order_domain::ports::{DeadLetters, PolledQueue};
use order_runtime::recent_emails::RecentEmails;

const INDEX_HTML: &str = include_str!("index.html");
const CONSOLE_JS: &str = include_str!("console.js");
const CONSOLE_CSS: &str = include_str!("console.css");

/// The page's policy: its own script and style only, requests to this origin only, never
/// framed, and no referrer (the fragment never leaves the page anyway).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the console reads and acts on.
pub struct Console<R, Q> {
    /// The status view (counts).
    pub reads: R,
    /// OrdersQueue: its dead letters, and its depth for the series.
    pub queue: Q,
    /// The last emails the host's notifier sent.
    pub emails: RecentEmails,
}

/// The console's routes; `auth` establishes their callers as it does the API's.
pub fn router<R, Q>(console: Console<R, Q>, auth: Arc<Authenticator>) -> Router
where
    R: ReadModels,
    Q: PolledQueue + DeadLetters,
{
    Router::new()
        .route("/console", get(page))
        .route("/console/console.js", get(script))
        .route("/console/console.css", get(style))
        .route("/admin/orders/counts", get(api::counts::<R, Q>))
        .route("/admin/emails", get(api::emails::<R, Q>))
        .route("/admin/dead-letters", get(api::dead_letters::<R, Q>))
        .route("/admin/dead-letters/redrive", post(api::redrive::<R, Q>))
        .with_state(Arc::new(console))
        .layer(Extension(auth))
}

/// A signed-in operator (a token of the `admin` group): 401 without a token that verifies,
/// 403 for anyone else.
pub(crate) struct Admin(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !caller.admin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "the console's data is for operators: sign in with a token of the admin group",
            )
            .into_response());
        }
        Ok(Self(caller))
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}
