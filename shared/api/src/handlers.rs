//! The route handlers: parse, call the use case, map the outcome to HTTP.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use order_app::ReadModels;
use order_app::place::{IdempotencyKey, Origin, PlaceError};
use order_app::query::{self, QueryError, ShownEvent};
use order_app::vault;
use order_domain::{CustomerId, OrderId, ProductId, TraceParent};
use order_read_models::OrderView;
use serde_json::{Value, json};

use crate::admission::Admit;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::{Backend, Deadline, MAX_BODY_BYTES, body};

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "method not allowed on this route",
    )
}

fn query_error(e: &QueryError) -> ApiError {
    ApiError::unavailable("could not read the order", e)
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )
    };
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_owned()))
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| format!("req-{}", ulid::Ulid::generate()), str::to_owned)
}

/// The caller's W3C `traceparent`, if valid, else the X-Ray trace header API Gateway passes on
/// under active tracing. An invalid one is ignored (the order starts a trace of its own), never
/// refused: tracing must not turn a good order away.
fn trace_parent(headers: &HeaderMap) -> Option<TraceParent> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("traceparent")
        .and_then(|s| TraceParent::parse(s.trim()).ok())
        .or_else(|| header("x-amzn-trace-id").and_then(TraceParent::from_xray))
}

/// A JSON request's body: 415 for another content type, 413 past [`MAX_BODY_BYTES`].
pub fn json_body(
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    if !is_json(headers) {
        return Err(unsupported_media_type());
    }
    read_body(bytes)
}

pub(crate) fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type must be application/json",
    )
}

/// A request's body as it came, whatever its content type; 413 past [`MAX_BODY_BYTES`].
pub(crate) fn read_body(bytes: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "UNREADABLE_BODY", e.body_text())
        }
    })
}

pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// The caller comes first: an unauthenticated request is refused before its body is read. Then
/// the backlog: past its bound the request is shed before its body is read (503, nothing
/// claimed or appended); admitted, it keeps its place only if it recorded a new order.
pub async fn place_order<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    admit: Admit,
    deadline: Option<Extension<Deadline>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = json_body(&headers, bytes)?;
    let key = idempotency_key(&headers)?;
    let request = body::parse(&bytes)?.for_caller(&caller)?;
    let rid = request_id(&headers);
    let origin = Origin {
        request_id: &rid,
        trace_parent: trace_parent(&headers),
    };
    let key = key
        .as_deref()
        .map(|k| IdempotencyKey::new(k).until(deadline.map(|Extension(Deadline(d))| d)));
    let placed = backend
        .place(request, key, origin)
        .await
        .map_err(|e| match e {
            PlaceError::UnknownProduct { index, product_id } => ApiError {
                field: Some(format!("items[{index}].productId")),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "UNKNOWN_PRODUCT",
                    format!("product {product_id} does not exist"),
                )
            },
            PlaceError::KeyReused => ApiError {
                field: Some("Idempotency-Key".into()),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "IDEMPOTENCY_KEY_REUSED",
                    e.to_string(),
                )
            },
            PlaceError::KeyInProgress { retry_after_ms } => ApiError {
                field: Some("Idempotency-Key".into()),
                ..ApiError::new(
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_KEY_IN_PROGRESS",
                    e.to_string(),
                )
            }
            .retry_after_ms(retry_after_ms),
            PlaceError::Store(_) | PlaceError::Port(_) | PlaceError::KeyTaken => {
                ApiError::unavailable("the order could not be placed", &e)
            }
        })?;
    if !placed.replayed {
        admit.keep();
    }
    let id = placed.order_id.to_string();
    tracing::info!(order_id = %id, replayed = placed.replayed, "order accepted");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({ "orderId": id, "status": "PLACED" })),
    )
        .into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/orders/{id}")) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    if placed.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

pub(crate) fn order_id(path: Result<Path<String>, PathRejection>) -> Result<OrderId, ApiError> {
    let Path(raw) =
        path.map_err(|_| ApiError::invalid("orderId", "must be a 26-character ULID"))?;
    OrderId::parse(&raw).map_err(|e| ApiError::invalid("orderId", e.0))
}

/// Someone else's order answers exactly as an unknown one: an id reveals nothing.
pub async fn get_order<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = order_id(path)?;
    let view = query::get_order(backend.store(), backend.reads(), id)
        .await
        .map_err(|e| query_error(&e))?
        .filter(|view| caller.may_see(&view.customer_id))
        .ok_or_else(|| ApiError::not_found("order"))?;
    Ok(Json(serde_json::to_value(view).unwrap_or(Value::Null)))
}

fn event_json(shown: ShownEvent) -> Value {
    let e = shown.record;
    json!({
        "type": e.event_type,
        "version": e.version,
        "eventId": e.event_id.to_string(),
        "schemaVersion": e.schema_version,
        "occurredAt": e.occurred_at,
        "correlationId": e.correlation_id,
        "causationId": e.causation_id,
        "data": shown.data,
        "prevHash": e.prev_hash,
        "hash": e.hash,
    })
}

/// The owner is read from the stream itself (folded as the status view is), so the history
/// of an order the projection has not seen yet is guarded all the same.
pub async fn get_order_events<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = order_id(path)?;
    let records = query::get_order_events(backend.store(), id)
        .await
        .map_err(|e| query_error(&e))?;
    let owner = OrderView::from_order_stream(&records)
        .map_err(|e| ApiError::unavailable("could not read the order", &e))?;
    if !owner.is_some_and(|view| caller.may_see(&view.customer_id)) {
        return Err(ApiError::not_found("order"));
    }
    let events = query::show_history(backend.keys(), id, records)
        .await
        .map_err(|e| query_error(&e))?;
    Ok(Json(json!({
        "orderId": id.to_string(),
        "events": events.into_iter().map(event_json).collect::<Vec<_>>(),
    })))
}

pub async fn get_inventory<B: Backend>(
    State(backend): State<Arc<B>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(raw) = path.map_err(|_| ApiError::invalid("productId", "must be a product id"))?;
    let id = ProductId::parse(&raw).map_err(|e| ApiError::invalid("productId", e.0))?;
    let view = backend
        .reads()
        .get_inventory(&id)
        .await
        .map_err(|e| ApiError::unavailable("could not read the inventory", &e))?
        .ok_or_else(|| ApiError::not_found("product"))?;
    Ok(Json(json!({
        "productId": view.product_id,
        "name": view.name,
        "price": view.price,
        "available": view.available,
        "version": view.version,
    })))
}

/// `GET /orders` query parameters, kept as text so a bad one is refused naming it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    customer_id: Option<String>,
}

/// The caller's orders, newest first; an operator may name another customer.
pub async fn list_orders<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::invalid("query", format!("bad query string: {e}")))?;
    let limit = params
        .limit
        .as_deref()
        .map(|l| {
            l.parse::<usize>().map_err(|_| {
                ApiError::invalid(
                    "limit",
                    format!("must be a whole number from 1 to {}", query::MAX_LIMIT),
                )
            })
        })
        .transpose()?;
    let customer = match params.customer_id.as_deref() {
        None => caller.customer.clone(),
        Some(other) => {
            let other =
                CustomerId::parse(other).map_err(|e| ApiError::invalid("customerId", e.0))?;
            if other != caller.customer && !caller.admin {
                return Err(ApiError {
                    field: Some("customerId".into()),
                    ..ApiError::new(
                        StatusCode::FORBIDDEN,
                        "FORBIDDEN",
                        "only an operator may list another customer's orders",
                    )
                });
            }
            other
        }
    };
    let page = query::list_orders(backend.reads(), &customer, limit, params.cursor.as_deref())
        .await
        .map_err(|e| match e.field() {
            Some(field) => ApiError::invalid(field, e.to_string()),
            None => ApiError::unavailable("could not list the orders", &e),
        })?;
    Ok(Json(json!({
        "orders": page.orders,
        "next": page.next.map(|c| c.encode()),
    })))
}

/// `DELETE /customers/{customerId}`: an operator forgets a customer (crypto-shredding): their
/// data keys are destroyed, so every order's email and payment token read as erased from now
/// on. The log, its hash chains and the views are unchanged. Repeating it is harmless.
pub async fn forget_customer<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(raw) = path.map_err(|_| ApiError::invalid("customerId", "must be a customer id"))?;
    let customer = CustomerId::parse(&raw).map_err(|e| ApiError::invalid("customerId", e.0))?;
    if !caller.admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "only an operator may forget a customer",
        ));
    }
    let destroyed = vault::forget(backend.keys(), &customer)
        .await
        .map_err(|e| ApiError::unavailable("could not forget the customer", &e))?;
    tracing::info!(operator = %caller.customer, destroyed, "operator forgot a customer");
    Ok(Json(json!({
        "customerId": customer.as_str(),
        "forgotten": true,
        "keysDestroyed": destroyed,
    })))
}
