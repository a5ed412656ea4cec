//! `GET /admin/series` and `GET /admin/alarms`: the monitor's samples and alarms as JSON, for
//! operators (a token of the admin group; anyone else gets 403).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use order_api::auth::{Authenticator, Caller};
use order_api::error::ApiError;
use order_app::alarms::Sample;
use serde_json::{Value, json};

use super::Monitor;

/// The admin routes over `monitor`, their callers established by `auth`.
pub fn router(monitor: Arc<Monitor>, auth: Arc<Authenticator>) -> Router {
    Router::new()
        .route("/admin/series", get(series))
        .route("/admin/alarms", get(alarms))
        .layer(Extension(auth))
        .with_state(monitor)
}

fn operator(caller: &Caller) -> Result<(), ApiError> {
    if caller.admin {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "only an operator may read the monitor",
        ))
    }
}

/// The period in seconds: a whole number when it is one (`5`, not `5.0`).
fn seconds(period: std::time::Duration) -> Value {
    if period.subsec_nanos() == 0 {
        json!(period.as_secs())
    } else {
        json!(period.as_secs_f64())
    }
}

fn sample(s: &Sample) -> Value {
    json!({
        "at": s.at.to_rfc3339(),
        "placed": s.placed,
        "completed": s.completed,
        "failed": s.failed,
        "latencyP50Seconds": s.latency_quantile(0.5),
        "latencyP99Seconds": s.latency_quantile(0.99),
        "queueDepth": s.queue_visible,
        "deadLetters": s.dead_letters,
        "projectionLagSeconds": s.projection_lag,
    })
}

async fn series(
    State(monitor): State<Arc<Monitor>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let samples: Vec<Value> = monitor.samples().iter().map(sample).collect();
    Ok(Json(json!({
        "periodSeconds": seconds(monitor.period),
        "samples": samples,
    })))
}

async fn alarms(
    State(monitor): State<Arc<Monitor>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let alarms: Vec<Value> = monitor
        .alarms()
        .iter()
        .map(|a| {
            json!({
                "name": a.definition.name,
                "state": a.state.as_str(),
                "since": a.since.to_rfc3339(),
                "reason": a.reason,
                "metric": a.definition.metric.name(),
                "threshold": a.definition.threshold,
            })
        })
        .collect();
    Ok(Json(json!({ "alarms": alarms })))
}
