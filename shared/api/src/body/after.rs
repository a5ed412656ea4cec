//! The bodies of what is asked of an order after it was placed: a cancellation's optional
//! reason, a shipment's carrier and tracking id, a refund's lines. Read as strictly as an
//! order (unknown, repeated or mistyped fields are refused naming them), and every text is
//! bounded and free of control characters: it goes into the log for good, and into emails.

use order_domain::events::OrderLine;
use order_domain::order::RefundRequest;
use serde::Deserialize;

use super::decode::{decode, present_string};
use super::{Item, lines};
use crate::error::ApiError;

/// Longest reason, in characters (a cancellation's or a refund's).
pub const MAX_REASON_CHARS: usize = 500;
/// Longest carrier name, in characters.
pub const MAX_CARRIER_CHARS: usize = 64;
/// Longest tracking id, in characters.
pub const MAX_TRACKING_CHARS: usize = 64;

/// `POST /orders/{id}/cancel`: everything is optional, the body too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelBody {
    pub reason: String,
}

/// `POST /orders/{id}/shipment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentBody {
    pub carrier: String,
    pub tracking_id: String,
}

/// `POST /orders/{id}/refunds`, before the Idempotency-Key is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundBody {
    pub items: Vec<OrderLine>,
    pub restock: bool,
    pub reason: String,
}

impl RefundBody {
    /// The refund as the use case takes it, under the request's Idempotency-Key.
    pub fn into_request(self, idempotency_key: String) -> RefundRequest {
        RefundRequest {
            idempotency_key,
            items: self.items,
            restock: self.restock,
            reason: self.reason,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCancel {
    #[serde(default, deserialize_with = "present_string")]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawShipment {
    carrier: String,
    tracking_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRefund {
    items: Vec<Item>,
    restock: bool,
    #[serde(default, deserialize_with = "present_string")]
    reason: Option<String>,
}

/// A cancellation's body; an empty body is a cancellation without a reason.
pub fn parse_cancel(bytes: &[u8]) -> Result<CancelBody, ApiError> {
    if bytes.is_empty() {
        return Ok(CancelBody::default());
    }
    let raw: RawCancel = decode(bytes)?;
    Ok(CancelBody {
        reason: reason(raw.reason)?,
    })
}

/// A shipment's body.
pub fn parse_shipment(bytes: &[u8]) -> Result<ShipmentBody, ApiError> {
    let raw: RawShipment = decode(bytes)?;
    let carrier = label("carrier", raw.carrier, MAX_CARRIER_CHARS, true)?;
    let tracking_id = label("trackingId", raw.tracking_id, MAX_TRACKING_CHARS, false)?;
    Ok(ShipmentBody {
        carrier,
        tracking_id,
    })
}

/// A refund's body: 1 to 50 lines, one per product, each quantity 1 to 1000 (what the order
/// holds is checked against the order itself).
pub fn parse_refund(bytes: &[u8]) -> Result<RefundBody, ApiError> {
    let raw: RawRefund = decode(bytes)?;
    Ok(RefundBody {
        items: lines(&raw.items)?,
        restock: raw.restock,
        reason: reason(raw.reason)?,
    })
}

/// A reason: up to [`MAX_REASON_CHARS`] characters, none of them a control character.
fn reason(raw: Option<String>) -> Result<String, ApiError> {
    let text = raw.unwrap_or_default();
    let count = text.chars().count();
    if count > MAX_REASON_CHARS {
        return Err(ApiError::invalid(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters, got {count}"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "reason",
            "must not contain control characters (line breaks included)",
        ));
    }
    Ok(text)
}

/// A carrier name or tracking id: 1 to `max` printable ASCII characters, not starting or
/// ending with a space; inner spaces only where `spaces` (a carrier's name may have them).
fn label(field: &str, text: String, max: usize, spaces: bool) -> Result<String, ApiError> {
    let allowed = |b: u8| b.is_ascii_graphic() || (spaces && b == b' ');
    let ok = (1..=max).contains(&text.len())
        && text.bytes().all(allowed)
        && !text.starts_with(' ')
        && !text.ends_with(' ');
    if ok {
        Ok(text)
    } else {
        let what = if spaces {
            "printable ASCII characters, not starting or ending with a space"
        } else {
            "printable ASCII characters without spaces"
        };
        Err(ApiError::invalid(
            field,
            format!("must be 1 to {max} {what}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn field<T: std::fmt::Debug>(r: Result<T, ApiError>) -> Option<String> {
        r.unwrap_err().field
    }

    const REFUND: &str =
        r#"{"items":[{"productId":"MUG","quantity":2}],"restock":true,"reason":"damaged"}"#;

    #[test]
    fn a_cancellation_may_have_no_body_or_a_reason() {
        assert_eq!(parse_cancel(b"").unwrap().reason, "");
        assert_eq!(parse_cancel(b"{}").unwrap().reason, "");
        let with = parse_cancel(br#"{"reason":"changed my mind"}"#).unwrap();
        assert_eq!(with.reason, "changed my mind");
    }

    #[test]
    fn a_cancellation_s_bad_body_names_the_field() {
        assert_eq!(parse_cancel(b"{").unwrap_err().code, "MALFORMED_JSON");
        assert_eq!(field(parse_cancel(b"[]")).as_deref(), Some("body"));
        assert_eq!(
            field(parse_cancel(br#"{"why":"x"}"#)).as_deref(),
            Some("why")
        );
        assert_eq!(
            field(parse_cancel(br#"{"reason":null}"#)).as_deref(),
            Some("reason")
        );
        assert_eq!(
            field(parse_cancel(br#"{"reason":"a\nBcc: x@y.z"}"#)).as_deref(),
            Some("reason")
        );
        let long = format!(r#"{{"reason":"{}"}}"#, "é".repeat(MAX_REASON_CHARS + 1));
        assert_eq!(
            field(parse_cancel(long.as_bytes())).as_deref(),
            Some("reason")
        );
        let fits = format!(r#"{{"reason":"{}"}}"#, "é".repeat(MAX_REASON_CHARS));
        assert!(
            parse_cancel(fits.as_bytes()).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(
            field(parse_cancel(br#"{"reason":"a","reason":"b"}"#)).as_deref(),
            Some("reason")
        );
    }

    #[test]
    fn a_shipment_needs_a_carrier_and_a_tracking_id_within_bounds() {
        let ok = parse_shipment(br#"{"carrier":"Royal Mail","trackingId":"1Z999AA1"}"#).unwrap();
        assert_eq!(
            (ok.carrier.as_str(), ok.tracking_id.as_str()),
            ("Royal Mail", "1Z999AA1")
        );
        for (body, named) in [
            (r#"{"trackingId":"X"}"#, "carrier"),
            (r#"{"carrier":"UPS"}"#, "trackingId"),
            (r#"{"carrier":"","trackingId":"X"}"#, "carrier"),
            (r#"{"carrier":" UPS","trackingId":"X"}"#, "carrier"),
            (r#"{"carrier":"UPS","trackingId":"1Z 99"}"#, "trackingId"),
            (r#"{"carrier":"UPS","trackingId":"1Z\r\n"}"#, "trackingId"),
            (r#"{"carrier":"UPS","trackingId":7}"#, "trackingId"),
            (r#"{"carrier":"UPS","trackingId":"X","eta":"1d"}"#, "eta"),
        ] {
            assert_eq!(
                field(parse_shipment(body.as_bytes())).as_deref(),
                Some(named),
                "{body}"
            );
        }
        let long = format!(
            r#"{{"carrier":"UPS","trackingId":"{}"}}"#,
            "9".repeat(MAX_TRACKING_CHARS + 1)
        );
        assert_eq!(
            field(parse_shipment(long.as_bytes())).as_deref(),
            Some("trackingId")
        );
    }

    #[test]
    fn a_refund_s_lines_are_read_as_an_order_s() {
        let ok = parse_refund(REFUND.as_bytes()).unwrap();
        assert!(ok.restock);
        assert_eq!(ok.items[0].quantity.get(), 2);
        let request = ok.into_request("k1".into());
        assert_eq!(request.idempotency_key, "k1");
        let no_reason =
            parse_refund(br#"{"items":[{"productId":"MUG","quantity":1}],"restock":false}"#)
                .unwrap();
        assert_eq!(no_reason.reason, "");
        for (from, to, named) in [
            (r#""quantity":2"#, r#""quantity":0"#, "items[0].quantity"),
            (r#""quantity":2"#, r#""quantity":1001"#, "items[0].quantity"),
            (r#""quantity":2"#, r#""quantity":"2""#, "items[0].quantity"),
            (
                r#""productId":"MUG""#,
                r#""productId":"a b""#,
                "items[0].productId",
            ),
            (r#""restock":true,"#, "", "restock"),
            (r#""restock":true"#, r#""restock":"yes""#, "restock"),
            (r#"[{"productId":"MUG","quantity":2}]"#, "[]", "items"),
            (r#"[{"productId":"MUG","quantity":2}]"#, "[1]", "items[0]"),
            (r#""damaged""#, r#""damaged","amount":5"#, "amount"),
        ] {
            let body = REFUND.replace(from, to);
            assert_eq!(
                field(parse_refund(body.as_bytes())).as_deref(),
                Some(named),
                "{body}"
            );
        }
        let twice = REFUND.replace(
            r#"{"productId":"MUG","quantity":2}"#,
            r#"{"productId":"MUG","quantity":2},{"productId":"MUG","quantity":1}"#,
        );
        let e = parse_refund(twice.as_bytes()).unwrap_err();
        assert_eq!(
            (e.status, e.field.as_deref()),
            (StatusCode::BAD_REQUEST, Some("items[1].productId"))
        );
        let many: Vec<String> = (0..51)
            .map(|i| format!(r#"{{"productId":"P{i}","quantity":1}}"#))
            .collect();
        let big = format!(r#"{{"items":[{}],"restock":true}}"#, many.join(","));
        assert_eq!(
            field(parse_refund(big.as_bytes())).as_deref(),
            Some("items")
        );
    }
}
