//! POST /orders bodies: JSON → domain values, with every problem named by its field; then
//! the caller's identity fills in (and must agree with) the customer and the email.

use axum::http::StatusCode;
use order_app::place::PlaceOrder;
use order_domain::events::OrderLine;
use order_domain::{CustomerId, Email, PaymentToken, ProductId, Quantity};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiError;

pub mod after;
mod decode;
/// The strict JSON reading every route uses, for the host's own routes (the console's) too.
pub use decode::decode;
mod strict;

use decode::present_string;

/// Most lines one order may have (an order and its products must fit one atomic append).
pub const MAX_LINES: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Body {
    #[serde(default, deserialize_with = "present_string")]
    customer_id: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    email: Option<String>,
    items: Vec<Item>,
    payment_token: String,
}

/// One line of a body's `items`, before validation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Item {
    product_id: String,
    quantity: i64,
}

/// A valid body, before the caller is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBody {
    /// Optional: the customer is the caller; if given, it must be the caller.
    pub customer_id: Option<CustomerId>,
    /// Optional: defaults to the caller's `email` claim.
    pub email: Option<Email>,
    pub items: Vec<OrderLine>,
    pub payment_token: PaymentToken,
}

impl OrderBody {
    /// The order `caller` places: a body naming another customer is FORBIDDEN (an operator
    /// places orders as themself too); without an email in the body or the token, INVALID_FIELD.
    pub fn for_caller(self, caller: &Caller) -> Result<PlaceOrder, ApiError> {
        if let Some(named) = &self.customer_id
            && *named != caller.customer
        {
            return Err(ApiError {
                field: Some("customerId".into()),
                ..ApiError::new(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN",
                    "customerId must be the signed-in customer (or be left out)",
                )
            });
        }
        let email = self.email.or_else(|| caller.email.clone()).ok_or_else(|| {
            ApiError::invalid(
                "email",
                "is required when the sign-in token carries no email claim",
            )
        })?;
        Ok(PlaceOrder {
            customer_id: caller.customer.clone(),
            email,
            items: self.items,
            payment_token: self.payment_token,
        })
    }
}

/// Parses and validates a body. Syntax errors (including invalid UTF-8) are MALFORMED_JSON;
/// a wrong type, a missing, unknown or repeated field is INVALID_FIELD naming it.
pub fn parse(bytes: &[u8]) -> Result<OrderBody, ApiError> {
    let body: Body = decode(bytes)?;
    let customer_id = body
        .customer_id
        .as_deref()
        .map(CustomerId::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("customerId", e.0))?;
    let email = body
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("email", e.0))?;
    let payment_token = PaymentToken::parse(&body.payment_token)
        .map_err(|e| ApiError::invalid("paymentToken", e.0))?;
    let items = lines(&body.items)?;
    Ok(OrderBody {
        customer_id,
        email,
        items,
        payment_token,
    })
}

/// Validates a body's `items`: 1 to [`MAX_LINES`] lines, one per product, each quantity 1 to
/// 1000; every problem named by its field (`items[2].quantity`).
fn lines(raw: &[Item]) -> Result<Vec<OrderLine>, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::invalid("items", "must have at least one line"));
    }
    if raw.len() > MAX_LINES {
        return Err(ApiError::invalid(
            "items",
            format!("must have at most {MAX_LINES} lines, got {}", raw.len()),
        ));
    }
    let mut items: Vec<OrderLine> = Vec::with_capacity(raw.len());
    for (i, item) in raw.iter().enumerate() {
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
    Ok(items)
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
            field(&OK.replace(",\"paymentToken\":\"tok_visa\"", "")).as_deref(),
            Some("paymentToken")
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

    fn caller(customer: &str, email: Option<&str>) -> Caller {
        Caller {
            customer: CustomerId::parse(customer).unwrap(),
            email: email.map(|e| Email::parse(e).unwrap()),
            admin: false,
        }
    }

    #[test]
    fn the_customer_is_the_caller_and_a_foreign_customer_id_is_forbidden() {
        let own = parse(OK.as_bytes())
            .unwrap()
            .for_caller(&caller("c1", None));
        assert_eq!(own.unwrap().customer_id.as_str(), "c1");
        let left_out = OK.replace("\"customerId\":\"c1\",", "");
        let placed = parse(left_out.as_bytes())
            .unwrap()
            .for_caller(&caller("c9", None))
            .unwrap();
        assert_eq!(placed.customer_id.as_str(), "c9");
        let e = parse(OK.as_bytes())
            .unwrap()
            .for_caller(&Caller {
                admin: true,
                ..caller("c2", None)
            })
            .unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "FORBIDDEN"));
        assert_eq!(e.field.as_deref(), Some("customerId"));
    }

    #[test]
    fn optional_fields_given_as_null_are_refused_naming_them() {
        for name in ["email", "customerId"] {
            let v: serde_json::Value = serde_json::from_str(OK).unwrap();
            let mut v = v.as_object().unwrap().clone();
            v.insert(name.into(), serde_json::Value::Null);
            let body = serde_json::Value::Object(v).to_string();
            assert_eq!(field(&body).as_deref(), Some(name));
        }
    }

    #[test]
    fn the_email_defaults_to_the_token_s_and_one_of_them_is_needed() {
        let no_email = OK.replace("\"email\":\"a@example.com\",", "");
        let body = parse(no_email.as_bytes()).unwrap();
        let placed = body
            .clone()
            .for_caller(&caller("c1", Some("t@example.com")))
            .unwrap();
        assert_eq!(placed.email.as_str(), "t@example.com");
        let e = body.for_caller(&caller("c1", None)).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("INVALID_FIELD", Some("email"))
        );
        let given = parse(OK.as_bytes())
            .unwrap()
            .for_caller(&caller("c1", Some("t@example.com")))
            .unwrap();
        assert_eq!(
            given.email.as_str(),
            "a@example.com",
            "the body's email wins"
        );
    }

    #[test]
    fn a_header_injection_attempt_in_the_email_is_rejected() {
        assert_eq!(
            field(&OK.replace("a@example.com", "a@example.com\\r\\nBcc: x@y.com")).as_deref(),
            Some("email")
        );
    }
}
