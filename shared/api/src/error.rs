//! The API's one error shape: `{"error":{"code","message","field"?}}`, for every 4xx and 5xx,
//! with a `Retry-After` header (whole seconds) when the client should wait before retrying.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer. `field` names the request field at fault (`items[2].quantity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds the client should wait before retrying (`Retry-After`), at least 1.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    /// The same error, telling the client to wait `ms` before retrying (rounded up to whole
    /// seconds, at least 1: `Retry-After: 0` would invite a retry that fails the same way).
    #[must_use]
    pub fn retry_after_ms(self, ms: u64) -> Self {
        Self {
            retry_after_secs: Some(ms.div_ceil(1000).max(1)),
            ..self
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::BAD_REQUEST, "INVALID_FIELD", message)
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    /// A failure of ours: logged in full, answered without internals.
    pub fn unavailable(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            format!("{context}; retry the request (with the same Idempotency-Key)"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after(e: ApiError) -> Option<String> {
        e.into_response()
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        let conflict = || ApiError::new(StatusCode::CONFLICT, "X", "wait");
        assert_eq!(retry_after(conflict()), None);
        assert_eq!(
            retry_after(conflict().retry_after_ms(29_001)).as_deref(),
            Some("30")
        );
        assert_eq!(
            retry_after(conflict().retry_after_ms(0)).as_deref(),
            Some("1")
        );
    }
}
