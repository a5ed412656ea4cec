//! The console's JSON routes (see the module above): each one an operator's, each answer in
//! camelCase like the rest of the API.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use order_api::error::ApiError;
use order_app::ReadModels;
use order_app::dead_letters::{self, Selection};
use order_domain::ports::{DeadLetter, DeadLetters, PolledQueue};
use order_domain::{OrderId, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Admin, Console};

/// Most ids one redrive names.
pub const MAX_REDRIVE_IDS: usize = 100;
/// Longest dead-letter id accepted (SQS message ids are 36 characters).
const MAX_ID_CHARS: usize = 128;

type Shared<R, Q> = State<Arc<Console<R, Q>>>;

/// `GET /admin/orders/counts`: `{"counts":{"PLACED":n,…every status…},"total"}`.
pub async fn counts<R: ReadModels, Q: PolledQueue + DeadLetters>(
    State(console): Shared<R, Q>,
    _: Admin,
) -> Result<Response, ApiError> {
    let counts = console
        .reads
        .count_by_status()
        .await
        .map_err(|e| ApiError::unavailable("counting the orders failed", &e))?;
    let by_status: serde_json::Map<String, Value> = counts
        .iter()
        .map(|(status, n)| (status.as_str().to_owned(), json!(n)))
        .collect();
    Ok(Json(json!({ "counts": by_status, "total": counts.total() })).into_response())
}

/// `GET /admin/emails`: the last emails, newest first.
pub async fn emails<R: ReadModels, Q: PolledQueue + DeadLetters>(
    State(console): Shared<R, Q>,
    _: Admin,
) -> Response {
    let emails: Vec<Value> = console
        .emails
        .latest()
        .into_iter()
        .map(|e| {
            json!({
                "topic": e.topic.name(),
                "subject": e.subject,
                "at": e.at,
                "orderId": e.order_id.map(|id| id.to_string()),
            })
        })
        .collect();
    Json(json!({ "emails": emails })).into_response()
}

fn letter(l: &DeadLetter) -> Value {
    let order_id = serde_json::from_str::<Value>(&l.body)
        .ok()
        .and_then(|v| v.get("orderId")?.as_str().map(str::to_owned))
        .filter(|id| OrderId::parse(id).is_ok());
    let sent_at = l
        .sent_at_ms
        .and_then(|ms| u64::try_from(ms).ok())
        .map(Timestamp::from_millis);
    json!({
        "id": l.id,
        "queue": l.queue,
        "sourceQueue": l.source_queue,
        "sentAt": sent_at,
        "receiveCount": l.receive_count,
        "orderId": order_id,
    })
}

/// `GET /admin/dead-letters`: OrdersQueue's dead letters, oldest first, each with the order
/// its message names (the body is only `{"orderId"}`, so nothing else is shown).
pub async fn dead_letters<R: ReadModels, Q: PolledQueue + DeadLetters>(
    State(console): Shared<R, Q>,
    _: Admin,
) -> Result<Response, ApiError> {
    let all = dead_letters::list(&console.queue)
        .await
        .map_err(|e| ApiError::unavailable("reading the dead letters failed", &e))?;
    let letters: Vec<Value> = all.iter().map(letter).collect();
    Ok(Json(json!({ "deadLetters": letters })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedrive {
    #[serde(default)]
    ids: Option<Vec<String>>,
    #[serde(default)]
    all: Option<bool>,
}

/// `{"ids":[…]}` (1 to [`MAX_REDRIVE_IDS`] ids) or `{"all":true}`, never both.
fn selection(bytes: &[u8]) -> Result<Selection, ApiError> {
    let raw: RawRedrive = order_api::body::decode(bytes)?;
    match (raw.ids, raw.all) {
        (Some(_), Some(_)) => Err(ApiError::invalid("all", "give either ids or all, not both")),
        (None, Some(true)) => Ok(Selection::All),
        (None, Some(false)) => Err(ApiError::invalid("all", "must be true when given")),
        (None, None) => Err(ApiError::invalid("ids", "give ids, or all: true")),
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_REDRIVE_IDS {
                return Err(ApiError::invalid(
                    "ids",
                    format!("must hold 1 to {MAX_REDRIVE_IDS} ids"),
                ));
            }
            if let Some(i) = ids.iter().position(|id| {
                id.is_empty()
                    || id.chars().count() > MAX_ID_CHARS
                    || !id.chars().all(|c| c.is_ascii_graphic())
            }) {
                return Err(ApiError::invalid(
                    format!("ids[{i}]"),
                    format!("must be 1 to {MAX_ID_CHARS} printable ASCII characters"),
                ));
            }
            Ok(Selection::Ids(ids))
        }
    }
}

/// `POST /admin/dead-letters/redrive`: moves the chosen dead letters back to OrdersQueue
/// (`order_app::dead_letters::redrive`: an id no longer dead-lettered is a no-op, and every
/// outcome is logged as an action of `console:<the operator's id>`).
pub async fn redrive<R: ReadModels, Q: PolledQueue + DeadLetters>(
    State(console): Shared<R, Q>,
    Admin(caller): Admin,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = order_api::json_body(&headers, bytes)?;
    let selection = selection(&bytes)?;
    let operator = format!("console:{}", caller.customer);
    let done = dead_letters::redrive(&console.queue, selection, &operator)
        .await
        .map_err(|e| ApiError::unavailable("redriving the dead letters failed", &e))?;
    Ok(Json(json!({ "redriven": done })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redrive_names_ids_or_all_and_nothing_else() {
        assert_eq!(selection(br#"{"all":true}"#).unwrap(), Selection::All);
        assert_eq!(
            selection(br#"{"ids":["1","2"]}"#).unwrap(),
            Selection::Ids(vec!["1".into(), "2".into()])
        );
        for (body, field) in [
            (r#"{"all":false}"#, "all"),
            (r#"{"ids":["1"],"all":true}"#, "all"),
            (r"{}", "ids"),
            (r#"{"ids":[]}"#, "ids"),
            (r#"{"ids":[""]}"#, "ids[0]"),
            (r#"{"ids":["1","a b"]}"#, "ids[1]"),
            (r#"{"id":"1"}"#, "id"),
        ] {
            let e = selection(body.as_bytes()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{body}: {e:?}");
        }
    }
}
