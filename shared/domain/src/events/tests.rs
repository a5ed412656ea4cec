use super::*;
use crate::envelope::{EventMeta, GENESIS_HASH};
use crate::time::Timestamp;

fn stored(ty: &str, schema: u32, payload: &str) -> RecordedEvent {
    RecordedEvent::seal(
        OrderId::generate().stream(),
        0,
        GENESIS_HASH,
        (ty, schema, payload.to_owned()),
        &EventMeta {
            correlation_id: "c".into(),
            causation_id: "c".into(),
            occurred_at: Timestamp::from_millis(0),
            trace_parent: None,
        },
    )
}

#[test]
fn an_event_round_trips_through_its_stored_form() {
    let e = OrderEvent::OrderFailed(OrderFailed {
        reason: FailureReason::OutOfStock,
        message: "no".into(),
    });
    let (ty, schema, payload) = e.encode();
    assert_eq!(
        decode(&stored(ty, schema, &payload)).unwrap(),
        DomainEvent::Order(e)
    );
    assert!(payload.contains("\"OUT_OF_STOCK\""));
}

#[test]
fn a_schema_zero_order_placed_is_upcast_on_read() {
    let id = OrderId::generate();
    let old = format!(
        r#"{{"orderId":"{id}","customerId":"c1","email":"a@example.com","items":[{{"productId":"P1","quantity":2}}],"card":"tok_visa"}}"#
    );
    let DomainEvent::Order(OrderEvent::OrderPlaced(p)) =
        decode(&stored("OrderPlaced", 0, &old)).unwrap()
    else {
        panic!("not OrderPlaced")
    };
    let Personal::Clear(data) = p.personal else {
        panic!("not clear")
    };
    assert_eq!(data.payment_token.as_str(), "tok_visa");
    assert_eq!(data.email.as_str(), "a@example.com");
}

#[test]
fn a_sealed_order_placed_decodes_with_its_personal_field_untouched() {
    let id = OrderId::generate();
    let current = format!(
        r#"{{"orderId":"{id}","customerId":"c1","items":[{{"productId":"P1","quantity":2}}],"personal":{{"keyId":"k","nonce":"bg","ciphertext":"Yw"}}}}"#
    );
    let DomainEvent::Order(OrderEvent::OrderPlaced(p)) =
        decode(&stored("OrderPlaced", 2, &current)).unwrap()
    else {
        panic!("not OrderPlaced")
    };
    assert!(matches!(p.personal, Personal::Sealed(s) if s.key_id == "k"));
}

/// The fast path (typed straight from the text) and the upcasters' path (through a `Value`)
/// decode a current payload alike, and refuse a malformed one alike.
#[test]
fn current_payloads_decode_alike_from_text_and_from_a_value() {
    let id = OrderId::generate();
    let cases = [
        (
            "OrderPlaced",
            format!(
                r#"{{"orderId":"{id}","customerId":"c1","items":[{{"productId":"P1","quantity":2}}],"personal":{{"keyId":"k","nonce":"bg","ciphertext":"Yw"}}}}"#
            ),
        ),
        (
            "OrderPlaced",
            format!(
                r#"{{"orderId":"{id}","customerId":"c1","items":[{{"productId":"P1","quantity":2}}],"personal":{{"email":"a@example.com","paymentToken":"tok_visa"}}}}"#
            ),
        ),
        (
            "OrderFailed",
            r#"{"reason":"OUT_OF_STOCK","message":"no"}"#.to_owned(),
        ),
    ];
    for (ty, payload) in cases {
        let value: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(
            OrderEvent::from_current_str(ty, &payload).unwrap(),
            OrderEvent::from_current(ty, value).unwrap()
        );
    }
    let bad = r#"{"reason":7}"#;
    assert!(matches!(
        OrderEvent::from_current_str("OrderFailed", bad),
        Err(DecodeError::Payload(..))
    ));
    assert!(matches!(
        decode(&stored("OrderFailed", 1, bad)),
        Err(DecodeError::Payload(..))
    ));
}

#[test]
fn an_unknown_type_or_future_schema_is_an_error_not_a_panic() {
    assert!(matches!(
        decode(&stored("Nope", 1, "{}")),
        Err(DecodeError::UnknownType(_))
    ));
    assert!(matches!(
        decode(&stored("OrderCompleted", 9, r#"{"total":1}"#)),
        Err(DecodeError::FutureSchema(..))
    ));
}
