//! Admission of new orders against the process's backlog (`order_app::backlog`): past the
//! bound, `POST /orders` is answered 503 `BACKLOG_FULL` with `Retry-After` before anything is
//! read, claimed or appended, so acceptance cannot outrun processing without limit.
//!
//! 503 rather than 429: the refusal is the server's state (everyone's orders together), not
//! anything this client did; 429 `RATE_LIMITED` stays the per-customer limit's answer.

use std::num::NonZeroU64;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use order_app::backlog::{self, Admitted, PROCESS};

use crate::error::ApiError;

/// How the host admits new orders: the process's backlog, against `bound` (`None`: counted,
/// never shed). Installed as a request extension by [`crate::guarded_router`]; without it (the
/// Lambda API, whose process sees only its own invocations) nothing is counted or shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub bound: Option<NonZeroU64>,
}

/// A `POST /orders` the backlog let in (or `None` when the host does not admit): the handler
/// keeps its place once it recorded a new order; dropped otherwise, it gives the place back.
#[derive(Debug)]
pub struct Admit(pub Option<Admitted<'static>>);

impl Admit {
    /// The request recorded a new order (not a replay): it stays open until it ends.
    pub fn keep(self) {
        if let Some(admitted) = self.0 {
            admitted.keep();
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(admission) = parts.extensions.get::<Admission>().copied() else {
            return Ok(Self(None));
        };
        PROCESS
            .try_admit(admission.bound)
            .map(|admitted| Self(Some(admitted)))
            .ok_or_else(|| {
                order_app::metrics::shed();
                backlog_full(admission.bound)
            })
    }
}

fn backlog_full(bound: Option<NonZeroU64>) -> ApiError {
    let bound = bound.map_or(0, NonZeroU64::get);
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "BACKLOG_FULL",
        format!(
            "the server has {bound} orders in progress, its bound; this request placed \
             nothing: retry it after the Retry-After seconds, with the same Idempotency-Key if \
             it had one (an earlier attempt with that key may have placed the order, and the \
             key's retry answers with it)"
        ),
    )
    .retry_after_ms(backlog::RETRY_AFTER_SECS * 1000)
}
