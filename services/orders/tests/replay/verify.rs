//! A mixed run's log matches its live read models and verifies; a changed, deleted or
//! reordered event fails `--verify`, naming the stream and version; a refund beyond what was
//! captured fails its audit.

use crate::run::{Copy, run};

#[test]
fn replay_of_a_mixed_run_matches_the_live_read_models_and_verifies() {
    let copy = Copy::new();
    let r = copy.replay(&[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("read models: match"), "{r}");
    let events = copy.int("SELECT COUNT(*) FROM events");
    assert!(
        r.stdout.contains(&format!("replayed {events} events")),
        "{r}"
    );
    assert!(r.stdout.contains("(7 orders, 4 products)"), "{r}");
    let v = copy.replay(&["--verify"]);
    assert_eq!(v.code, 0, "{v}");
    assert!(v.stdout.contains("every stream verified"), "{v}");
}

#[test]
fn a_changed_event_payload_fails_verify_naming_the_stream_and_version() {
    let copy = Copy::new();
    let stream = format!("order#{}", run().declined);
    copy.sql(&format!(
        "UPDATE events SET payload = replace(payload, 'declined', 'accepted') \
         WHERE stream_id = '{stream}' AND event_type = 'PaymentDeclined'"
    ));
    let version = copy.int(&format!(
        "SELECT version FROM events WHERE stream_id = '{stream}' AND event_type = 'PaymentDeclined'"
    ));
    let r = copy.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout.contains(&format!(
            "{stream} version {version}: stored hash does not match"
        )),
        "{r}"
    );
}

#[test]
fn a_deleted_event_fails_verify_naming_the_stream_and_version() {
    let copy = Copy::new();
    let stream = format!("order#{}", run().completed);
    copy.sql(&format!(
        "DELETE FROM events WHERE stream_id = '{stream}' AND version = 2"
    ));
    let r = copy.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout
            .contains(&format!("{stream} version 3: expected version 2")),
        "{r}"
    );
}

#[test]
fn swapped_versions_fail_verify_naming_the_stream_and_version() {
    let copy = Copy::new();
    let stream = format!("order#{}", run().out_of_stock);
    copy.sql(&format!(
        "UPDATE events SET version = -1 WHERE stream_id = '{stream}' AND version = 3;
         UPDATE events SET version = 3 WHERE stream_id = '{stream}' AND version = 4;
         UPDATE events SET version = 4 WHERE stream_id = '{stream}' AND version = -1;"
    ));
    let r = copy.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains(&format!("{stream} version 3")), "{r}");
}

/// The audit: an event appended onto the chain as the pipeline would (so every chain
/// verifies) but giving back more than the order captured fails `--verify` with exit 3,
/// naming the order; the untouched run's money and stock add up.
#[test]
fn a_refund_beyond_the_capture_fails_the_audit_naming_the_order() {
    let copy = Copy::new();
    let v = copy.replay(&["--verify"]);
    assert!(v.stdout.contains("audit: money and stock add up"), "{v}");
    let stream = format!("order#{}", run().completed);
    let conn = rusqlite::Connection::open(copy.data().join("orders.db")).unwrap();
    let head = order_embedded::store::stream_events(&conn, &stream, 0)
        .unwrap()
        .pop()
        .unwrap();
    let forged = order_domain::OrderEvent::RefundIssued(order_domain::events::RefundIssued {
        refund_id: format!("{}-R1", run().completed),
        gateway_refund_id: "re_forged".into(),
        amount: order_domain::Money::from_minor(1_000_000),
    });
    let meta = order_domain::EventMeta {
        correlation_id: run().completed.as_str().into(),
        causation_id: head.event_id.into(),
        occurred_at: order_domain::Timestamp::now(),
        trace_parent: None,
    };
    let e = order_domain::RecordedEvent::seal(
        head.stream_id.clone(),
        head.version,
        &head.hash,
        forged.encode(),
        &meta,
    );
    order_embedded::store::insert_event(&conn, &e).unwrap();
    drop(conn);
    let r = copy.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains("chains: every stream verified"), "{r}");
    assert!(
        r.stdout.contains(&format!(
            "{stream}: refunded 10000.00, more than the 9.00 captured"
        )),
        "{r}"
    );
    assert!(
        r.stdout.contains(&format!(
            "refund {}-R1 issued but never requested",
            run().completed
        )),
        "{r}"
    );
}
