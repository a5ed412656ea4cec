//! The routes after an order was placed: its customer (or an operator) cancels it, an operator
//! records its shipment or refunds some of it. Each parses strictly, calls the use case in
//! `order_app::after`, and answers what the order's stream now says; a refusal is one of the
//! API's JSON errors ([`refusal`]) and appends nothing.
//!
//! Who may: `cancel` is the order's customer's or an operator's, and anyone else's order
//! answers 404 exactly like an unknown one (as `GET /orders/{id}` does). `shipment` and
//! `refunds` are an operator's: anyone else is 403 before the order is even read, as
//! `DELETE /customers/{id}` is, so the answer says nothing about the order.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use order_app::after::{self, AfterError};
use order_domain::OrderId;
use order_domain::events::OrderLine;
use order_domain::order::{OrderError, OrderState, OrderStatus, Refund, RefundSettlement};
use serde_json::{Value, json};

use crate::Backend;
use crate::auth::Caller;
use crate::body::after::{parse_cancel, parse_refund, parse_shipment};
use crate::error::ApiError;
use crate::handlers::{
    idempotency_key, is_json, json_body, order_id, read_body, unsupported_media_type,
};

/// `POST /orders/{id}/cancel` → 202 `{"orderId","status"}`, CANCELLING while the workflow or
/// the cancellation's refund carries it out, CANCELLED once done. Asking again is harmless.
pub async fn cancel<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = order_id(path)?;
    let bytes = read_body(bytes)?;
    // The body is optional; one that is there is JSON like every other.
    if !bytes.is_empty() && !is_json(&headers) {
        return Err(unsupported_media_type());
    }
    let body = parse_cancel(&bytes)?;
    let state = after::cancel(
        backend.store(),
        id,
        |owner| caller.may_see(owner),
        &body.reason,
    )
    .await
    .map_err(|e| refusal(e, &[]))?;
    tracing::info!(order_id = %id, by = %caller.customer, admin = caller.admin, "cancellation asked");
    Ok(accepted(id, json!({ "status": status(&state) })))
}

/// `POST /orders/{id}/shipment` (an operator) → 200 `{"orderId","status","carrier",
/// "trackingId"}`. The same carrier and tracking id again is harmless; others are 409.
pub async fn ship<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = order_id(path)?;
    operator(&caller, "record a shipment")?;
    let body = parse_shipment(&json_body(&headers, bytes)?)?;
    let state = after::ship(backend.store(), id, &body.carrier, &body.tracking_id)
        .await
        .map_err(|e| refusal(e, &[]))?;
    tracing::info!(order_id = %id, operator = %caller.customer, "shipment recorded");
    Ok(Json(json!({
        "orderId": id.to_string(),
        "status": status(&state),
        "carrier": body.carrier,
        "trackingId": body.tracking_id,
    })))
}

/// `POST /orders/{id}/refunds` (an operator, with an `Idempotency-Key`) → 202 with the refund
/// as recorded. The same key and body again answer the same refund (where it stands now);
/// the same key with other lines is 422.
pub async fn refund<B: Backend>(
    State(backend): State<Arc<B>>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = order_id(path)?;
    operator(&caller, "refund an order")?;
    let body = parse_refund(&json_body(&headers, bytes)?)?;
    let key = idempotency_key(&headers)?.ok_or_else(|| {
        ApiError::invalid(
            "Idempotency-Key",
            "is required: a refund retried without one could be made twice",
        )
    })?;
    let items = body.items.clone();
    let (state, refund) = after::request_refund(backend.store(), id, body.into_request(key))
        .await
        .map_err(|e| refusal(e, &items))?;
    tracing::info!(
        order_id = %id,
        refund_id = %refund.request.refund_id,
        operator = %caller.customer,
        "refund requested"
    );
    Ok(accepted(id, refund_json(&state, &refund)))
}

fn refund_json(state: &OrderState, refund: &Refund) -> Value {
    let r = &refund.request;
    json!({
        "refundId": r.refund_id,
        "amount": r.amount,
        "status": match refund.settlement {
            RefundSettlement::Pending => "PENDING",
            RefundSettlement::Issued(_) => "ISSUED",
            RefundSettlement::Failed(_) => "FAILED",
        },
        "lines": r.lines,
        "restock": r.restock,
        "reason": r.reason,
        "orderStatus": status(state),
    })
}

/// 202 with `fields` and the order's id, pointing at the order.
fn accepted(id: OrderId, mut fields: Value) -> Response {
    let id = id.to_string();
    fields["orderId"] = json!(id);
    let mut response = (StatusCode::ACCEPTED, Json(fields)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/orders/{id}")) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    response
}

fn status(state: &OrderState) -> Option<&'static str> {
    state.status().map(OrderStatus::as_str)
}

fn operator(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.admin {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!("only an operator may {what}"),
        ))
    }
}

/// What a refused request answers: every refusal a status and a code, never a 5xx but 503
/// for a store that cannot be reached or an order that kept changing. `items` are the
/// request's lines, so a refusal about one product names its line.
pub fn refusal(e: AfterError, items: &[OrderLine]) -> ApiError {
    let conflict = |code, message: String| ApiError::new(StatusCode::CONFLICT, code, message);
    let line = |product: &order_domain::ProductId, leaf: &str| {
        items
            .iter()
            .position(|l| &l.product_id == product)
            .map(|i| format!("items[{i}].{leaf}"))
    };
    let e = match e {
        AfterError::NotFound => return ApiError::not_found("order"),
        AfterError::Busy => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "the order kept changing under the request; retry it",
            )
            .retry_after_ms(1000);
        }
        AfterError::Load(e) => return ApiError::unavailable("could not read the order", &e),
        AfterError::Refused(e) => e,
    };
    let message = e.to_string();
    match e {
        OrderError::NotPlaced => ApiError::not_found("order"),
        OrderError::AlreadyShipped => conflict("ALREADY_SHIPPED", message),
        OrderError::RefundInProgress => conflict("REFUND_IN_PROGRESS", message),
        OrderError::NothingToRefund => conflict("ALREADY_REFUNDED", message),
        OrderError::NotCompleted { .. } | OrderError::NotReady { .. } => {
            conflict("ORDER_NOT_COMPLETED", message)
        }
        OrderError::Closed { .. } | OrderError::Cancelled | OrderError::Failing => {
            conflict("ORDER_CLOSED", message)
        }
        OrderError::ExceedsLine { ref product_id, .. } => ApiError {
            field: line(product_id, "quantity"),
            ..conflict("REFUND_EXCEEDS_LINE", message)
        },
        OrderError::NotInOrder(ref product_id) => ApiError {
            field: line(product_id, "productId"),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "PRODUCT_NOT_IN_ORDER",
                message,
            )
        },
        OrderError::IdempotencyKeyReused => ApiError {
            field: Some("Idempotency-Key".into()),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                message,
            )
        },
        OrderError::AmountTooLarge => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "AMOUNT_TOO_LARGE",
            message,
        ),
        // The workflow's own refusals: a request from the API never meets them, but if one
        // did, the order's state refused it and nothing was appended.
        OrderError::RefundRequired
        | OrderError::UnknownRefund(_)
        | OrderError::RefundSettled(_)
        | OrderError::Stock { .. } => conflict("ORDER_CONFLICT", message),
    }
}

#[cfg(test)]
mod tests {
    use order_app::stream::LoadError;
    use order_domain::order::OrderStatus;
    use order_domain::ports::StoreError;
    use order_domain::{ProductId, Quantity};

    use super::*;

    fn product(id: &str) -> ProductId {
        ProductId::parse(id).unwrap()
    }

    fn answer(e: OrderError) -> (u16, &'static str, Option<String>) {
        let items = [
            OrderLine {
                product_id: product("TEE"),
                quantity: Quantity::new(1).unwrap(),
            },
            OrderLine {
                product_id: product("MUG"),
                quantity: Quantity::new(5).unwrap(),
            },
        ];
        let a = refusal(AfterError::Refused(e), &items);
        (a.status.as_u16(), a.code, a.field)
    }

    #[test]
    fn every_refusal_is_a_4xx_with_its_code_and_the_line_it_is_about() {
        let closed = Some(OrderStatus::Failed);
        assert_eq!(
            answer(OrderError::AlreadyShipped),
            (409, "ALREADY_SHIPPED", None)
        );
        assert_eq!(
            answer(OrderError::RefundInProgress),
            (409, "REFUND_IN_PROGRESS", None)
        );
        assert_eq!(
            answer(OrderError::NothingToRefund),
            (409, "ALREADY_REFUNDED", None)
        );
        assert_eq!(
            answer(OrderError::NotCompleted {
                status: Some(OrderStatus::Paid)
            }),
            (409, "ORDER_NOT_COMPLETED", None)
        );
        assert_eq!(
            answer(OrderError::Closed { status: closed }),
            (409, "ORDER_CLOSED", None)
        );
        assert_eq!(
            answer(OrderError::ExceedsLine {
                product_id: product("MUG"),
                requested: 5,
                refundable: 2,
            }),
            (409, "REFUND_EXCEEDS_LINE", Some("items[1].quantity".into()))
        );
        assert_eq!(
            answer(OrderError::NotInOrder(product("TEE"))),
            (
                422,
                "PRODUCT_NOT_IN_ORDER",
                Some("items[0].productId".into())
            )
        );
        assert_eq!(
            answer(OrderError::IdempotencyKeyReused),
            (
                422,
                "IDEMPOTENCY_KEY_REUSED",
                Some("Idempotency-Key".into())
            )
        );
        assert_eq!(answer(OrderError::NotPlaced).0, 404);
        for other in [
            OrderError::RefundRequired,
            OrderError::Cancelled,
            OrderError::Failing,
            OrderError::AmountTooLarge,
            OrderError::UnknownRefund("x".into()),
            OrderError::RefundSettled("x".into()),
        ] {
            let (status, _, _) = answer(other);
            assert!((400..500).contains(&status), "{status}");
        }
    }

    #[test]
    fn the_exceeded_line_s_message_says_requested_and_refundable() {
        let e = refusal(
            AfterError::Refused(OrderError::ExceedsLine {
                product_id: product("MUG"),
                requested: 4,
                refundable: 1,
            }),
            &[],
        );
        assert!(
            e.message.contains("4 requested, 1 refundable"),
            "{}",
            e.message
        );
        assert_eq!(e.field, None, "no line to name without the request's");
    }

    #[test]
    fn someone_else_s_order_is_404_and_a_store_outage_or_a_busy_order_503() {
        assert_eq!(
            refusal(AfterError::NotFound, &[]).status,
            StatusCode::NOT_FOUND
        );
        let busy = refusal(AfterError::Busy, &[]);
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after_secs, Some(1));
        let down = AfterError::Load(LoadError::Store(StoreError::Unavailable("down".into())));
        assert_eq!(refusal(down, &[]).code, "SERVICE_UNAVAILABLE");
    }
}
