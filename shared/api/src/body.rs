//! POST /orders bodies: JSON → domain values, with every problem named by its field.

use axum::http::StatusCode;
use order_app::place::PlaceOrder;
use order_domain::events::OrderLine;
use order_domain::{CustomerId, Email, PaymentToken, ProductId, Quantity};
use serde::Deserialize;

use crate::error::ApiError;

mod strict;

/// Most lines one order may have (an order and its products must fit one atomic append).
pub const MAX_LINES: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Body {
    customer_id: String,
    email: String,
    items: Vec<Item>,
    payment_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Item {
    product_id: String,
    quantity: i64,
}

/// `field` joined to the serde path it was found under.
fn join(path: &str, field: &str) -> String {
    if path.is_empty() || path == "." {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// Parses and validates a body. Syntax errors (including invalid UTF-8) are MALFORMED_JSON;
/// a wrong type, a missing, unknown or repeated field is INVALID_FIELD naming it.
pub fn parse(bytes: &[u8]) -> Result<PlaceOrder, ApiError> {
    // Parse to a JSON tree first: serde would otherwise accept a struct written as an array.
    // The tree refuses a repeated key, which serde_json alone would resolve to the last one.
    let value = strict::parse(bytes).map_err(|e| match e {
        strict::StrictError::Malformed(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("the body is not valid JSON: {e}"),
        ),
        strict::StrictError::DuplicateKey { path } => {
            let message = format!("{path} appears twice in one object; give each key once");
            ApiError::invalid(path, message)
        }
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    if let Some(items) = value.get("items").and_then(serde_json::Value::as_array)
        && let Some(i) = items.iter().position(|item| !item.is_object())
    {
        return Err(ApiError::invalid(
            format!("items[{i}]"),
            "must be an object with productId and quantity",
        ));
    }
    let body: Body = match serde_path_to_error::deserialize(value) {
        Ok(b) => b,
        Err(e) => {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            // serde's path already ends at an unknown field, but stops before a missing one.
            let named = msg
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match named {
                Some(name) => join(&path, name),
                None if path == "." => "body".to_owned(),
                None => path,
            };
            return Err(ApiError::invalid(field, msg));
        }
    };
    let customer_id =
        CustomerId::parse(&body.customer_id).map_err(|e| ApiError::invalid("customerId", e.0))?;
    let email = Email::parse(&body.email).map_err(|e| ApiError::invalid("email", e.0))?;
    let payment_token = PaymentToken::parse(&body.payment_token)
        .map_err(|e| ApiError::invalid("paymentToken", e.0))?;
    if body.items.is_empty() {
        return Err(ApiError::invalid("items", "must have at least one line"));
    }
    if body.items.len() > MAX_LINES {
        return Err(ApiError::invalid(
            "items",
            format!(
                "must have at most {MAX_LINES} lines, got {}",
                body.items.len()
            ),
        ));
    }
    let mut items: Vec<OrderLine> = Vec::with_capacity(body.items.len());
    for (i, item) in body.items.iter().enumerate() {
        let product_id = ProductId::parse(&item.product_id)
            .map_err(|e| ApiError::invalid(format!("items[{i}].productId"), e.0))?;
        if items.iter().any(|l| l.product_id == product_id) {
            return Err(ApiError::invalid(
                format!("items[{i}].productId"),
                format!(
                    "product {product_id} appears on more than one line; put the total on one line"
                ),
            ));
        }
        let quantity = Quantity::new(item.quantity)
            .map_err(|e| ApiError::invalid(format!("items[{i}].quantity"), e.0))?;
        items.push(OrderLine {
            product_id,
            quantity,
        });
    }
    Ok(PlaceOrder {
        customer_id,
        email,
        items,
        payment_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(body: &str) -> Option<String> {
        parse(body.as_bytes()).unwrap_err().field
    }

    const OK: &str = r#"{"customerId":"c1","email":"a@example.com","items":[{"productId":"P1","quantity":2}],"paymentToken":"tok_visa"}"#;

    #[test]
    fn a_valid_body_parses() {
        let p = parse(OK.as_bytes()).unwrap();
        assert_eq!(p.items[0].quantity.get(), 2);
    }

    #[test]
    fn malformed_json_and_invalid_utf8_are_malformed_json() {
        assert_eq!(
            parse(b"{\"customerId\":").unwrap_err().code,
            "MALFORMED_JSON"
        );
        assert_eq!(
            parse(b"{\"customerId\":\"\xff\"}").unwrap_err().code,
            "MALFORMED_JSON"
        );
        assert_eq!(
            parse(format!("{OK} trailing").as_bytes()).unwrap_err().code,
            "MALFORMED_JSON"
        );
    }

    #[test]
    fn wrong_types_and_missing_fields_name_the_field() {
        assert_eq!(
            field(&OK.replace("\"quantity\":2", "\"quantity\":\"2\"")).as_deref(),
            Some("items[0].quantity")
        );
        assert_eq!(
            field(&OK.replace("\"quantity\":2", "\"quantity\":1.5")).as_deref(),
            Some("items[0].quantity")
        );
        assert_eq!(
            field(&OK.replace("\"email\":\"a@example.com\",", "")).as_deref(),
            Some("email")
        );
        assert_eq!(
            field(&OK.replace("\"quantity\":2}", "\"quantity\":2,\"x\":1}")).as_deref(),
            Some("items[0].x")
        );
        assert_eq!(field("[]").as_deref(), Some("body"));
        assert_eq!(
            field(r#"["c1","a@example.com",[],"tok_visa"]"#).as_deref(),
            Some("body")
        );
        assert_eq!(
            field(&OK.replace(r#"{"productId":"P1","quantity":2}"#, r#"["P1",2]"#)).as_deref(),
            Some("items[0]")
        );
    }

    #[test]
    fn zero_negative_huge_duplicate_and_too_many_lines_are_rejected() {
        assert_eq!(
            field(&OK.replace("\"quantity\":2", "\"quantity\":0")).as_deref(),
            Some("items[0].quantity")
        );
        assert_eq!(
            field(&OK.replace("\"quantity\":2", "\"quantity\":-1")).as_deref(),
            Some("items[0].quantity")
        );
        assert_eq!(
            field(&OK.replace("\"quantity\":2", "\"quantity\":99999999999999999999999")).as_deref(),
            Some("items[0].quantity")
        );
        let dup = OK.replace("}]", "},{\"productId\":\"P1\",\"quantity\":1}]");
        assert_eq!(field(&dup).as_deref(), Some("items[1].productId"));
        let many: Vec<String> = (0..10_000)
            .map(|i| format!(r#"{{"productId":"P{i}","quantity":1}}"#))
            .collect();
        let big = OK.replace(
            r#"[{"productId":"P1","quantity":2}]"#,
            &format!("[{}]", many.join(",")),
        );
        assert_eq!(field(&big).as_deref(), Some("items"));
        assert_eq!(
            field(&OK.replace(r#"{"productId":"P1","quantity":2}"#, "")).as_deref(),
            Some("items")
        );
    }

    #[test]
    fn a_repeated_key_is_refused_naming_it_even_inside_a_line() {
        let twice = OK.replace(
            r#""customerId":"c1""#,
            r#""customerId":"c1","customerId":"c2""#,
        );
        let e = parse(twice.as_bytes()).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "INVALID_FIELD")
        );
        assert_eq!(e.field.as_deref(), Some("customerId"));
        // Repeated with the same value too: a reader that keeps the first must never differ.
        let same = OK.replace(r#""quantity":2"#, r#""quantity":2,"quantity":2"#);
        assert_eq!(field(&same).as_deref(), Some("items[0].quantity"));
        let second = OK.replace(
            r#"{"productId":"P1","quantity":2}"#,
            r#"{"productId":"P1","quantity":2},{"productId":"P2","productId":"P3","quantity":1}"#,
        );
        assert_eq!(field(&second).as_deref(), Some("items[1].productId"));
    }

    #[test]
    fn a_header_injection_attempt_in_the_email_is_rejected() {
        assert_eq!(
            field(&OK.replace("a@example.com", "a@example.com\\r\\nBcc: x@y.com")).as_deref(),
            Some("email")
        );
    }
}
