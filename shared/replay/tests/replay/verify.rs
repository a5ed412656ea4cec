//! `--verify`: every changed, removed or inserted event is found and named.

use order_domain::envelope::{ChainError, EventMeta, GENESIS_HASH};
use order_domain::{OrderId, RecordedEvent, Timestamp};
use order_embedded::read_models::Projection;
use order_replay::{Failure, Outcome, ReplayOptions};
use rusqlite::params;

use crate::support::{Log, verify};

fn only_failure(log: &Log) -> Failure {
    let s = log.replay(verify());
    assert_eq!(s.outcome(), Outcome::Broken, "{s}");
    assert_eq!(s.failures, 1, "{s}");
    s.first_failures[0].clone()
}

#[test]
fn an_untouched_generated_log_verifies_and_matches_its_read_models() {
    let log = Log::new(3_000);
    let s = log.replay(verify());
    assert_eq!(s.outcome(), Outcome::Match, "{s}");
    assert_eq!(s.events, log.generated.events);
    assert_eq!(s.orders, log.generated.orders);
    assert_eq!(s.products, log.generated.products);
    assert_eq!(s.streams, log.generated.orders + log.generated.products);
    assert_eq!((s.failures, s.differences, s.pending), (0, 0, 0));
    assert_eq!(s.rows_compared, s.streams);
}

#[test]
fn a_changed_payload_fails_verification_at_that_stream_and_version() {
    let log = Log::new(500);
    let stream = log.stream_ending_with("OrderCompleted");
    log.sql(&format!(
        "UPDATE events SET payload = replace(payload, 'tok_visa', 'tok_amex') \
         WHERE stream_id = '{stream}' AND version = 1"
    ));
    let failure = only_failure(&log);
    assert_eq!(
        failure,
        Failure::Chain(ChainError::HashMismatch {
            stream: stream.clone(),
            version: 1
        })
    );
    assert!(failure.to_string().contains(&format!("{stream} version 1")));
}

#[test]
fn a_deleted_event_is_a_version_gap_at_the_next_version() {
    let log = Log::new(500);
    let stream = log.stream_ending_with("OrderCompleted");
    log.sql(&format!(
        "DELETE FROM events WHERE stream_id = '{stream}' AND version = 3"
    ));
    assert_eq!(
        only_failure(&log),
        Failure::Chain(ChainError::VersionGap {
            stream,
            version: 4,
            expected: 3
        })
    );
}

#[test]
fn swapped_versions_are_detected_at_the_first_swapped_version() {
    let log = Log::new(500);
    let stream = log.stream_ending_with("OrderCompleted");
    log.sql(&format!(
        "UPDATE events SET version = -2 WHERE stream_id = '{stream}' AND version = 2;
         UPDATE events SET version = 2 WHERE stream_id = '{stream}' AND version = 3;
         UPDATE events SET version = 3 WHERE stream_id = '{stream}' AND version = -2;"
    ));
    assert_eq!(
        only_failure(&log),
        Failure::Chain(ChainError::HashMismatch { stream, version: 2 })
    );
}

#[test]
fn an_inserted_event_breaks_the_chain_even_when_resealed() {
    let log = Log::new(500);
    let stream = log.stream_ending_with("OrderFailed");
    let head = log.int(&format!(
        "SELECT MAX(version) FROM events WHERE stream_id = '{stream}'"
    ));
    // A forger appends a well-formed event sealed onto a made-up predecessor.
    let forged = RecordedEvent::seal(
        order_domain::StreamId::parse(&stream).unwrap(),
        u64::try_from(head).unwrap(),
        GENESIS_HASH,
        ("OrderCompleted", 1, r#"{"total":1}"#.to_owned()),
        &EventMeta {
            correlation_id: "x".into(),
            causation_id: "x".into(),
            occurred_at: Timestamp::now(),
            trace_parent: None,
        },
    );
    log.conn()
        .execute(
            "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, occurred_at, \
             correlation_id, causation_id, payload, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                stream,
                head + 1,
                forged.event_id.to_string(),
                forged.event_type.as_str(),
                forged.schema_version,
                i64::try_from(forged.occurred_at.as_millis()).unwrap(),
                forged.correlation_id.as_str(),
                forged.causation_id.as_str(),
                forged.payload.as_str(),
                forged.prev_hash.as_str(),
                forged.hash.as_str()
            ],
        )
        .unwrap();
    let failure = only_failure(&log);
    let version = u64::try_from(head + 1).unwrap();
    assert_eq!(
        failure,
        Failure::Chain(ChainError::BrokenLink {
            stream: stream.clone(),
            version,
            prev: version - 1
        })
    );
    assert!(
        failure
            .to_string()
            .contains(&format!("{stream} version {version}"))
    );
}

#[test]
fn an_undecodable_event_is_reported_even_without_verify() {
    let log = Log::new(500);
    let stream = log.stream_ending_with("OrderCompleted");
    log.sql(&format!(
        "UPDATE events SET payload = 'not json' WHERE stream_id = '{stream}' AND version = 2"
    ));
    let s = log.replay(ReplayOptions::default());
    assert_eq!(s.outcome(), Outcome::Broken, "{s}");
    assert!(matches!(
        &s.first_failures[0],
        Failure::Undecodable { stream: st, version: 2, .. } if *st == stream
    ));
    // Its row is neither compared nor counted as a difference: the failure says it all.
    assert_eq!(s.differences, 0, "{s}");
}

#[test]
fn an_old_schema_event_is_upcast_on_replay_and_still_verifies() {
    let log = Log::new(200);
    let id = OrderId::generate();
    // Schema 0 of OrderPlaced called the payment token `card`.
    let payload = format!(
        r#"{{"orderId":"{id}","customerId":"c1","email":"a@example.com","items":[{{"productId":"SKU-00001","quantity":1}}],"card":"tok_visa"}}"#
    );
    let event = RecordedEvent::seal(
        id.stream(),
        0,
        GENESIS_HASH,
        ("OrderPlaced", 0, payload),
        &EventMeta {
            correlation_id: id.into(),
            causation_id: "legacy".into(),
            occurred_at: Timestamp::from_millis(1),
            trace_parent: None,
        },
    );
    let conn = log.conn();
    conn.execute(
        "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, occurred_at, \
         correlation_id, causation_id, payload, prev_hash, hash) \
         VALUES (?1, 1, ?2, ?3, 0, 1, ?4, ?5, ?6, ?7, ?8)",
        params![
            event.stream_id.as_str(),
            event.event_id.to_string(),
            event.event_type.as_str(),
            event.correlation_id.as_str(),
            event.causation_id.as_str(),
            event.payload.as_str(),
            event.prev_hash.as_str(),
            event.hash.as_str()
        ],
    )
    .unwrap();
    let position = conn.last_insert_rowid();
    Projection::OrderStatus
        .apply_batch(&conn, &[(position, event)])
        .unwrap();
    drop(conn);
    let s = log.replay(verify());
    assert_eq!(s.outcome(), Outcome::Match, "{s}");
    assert_eq!(s.orders, log.generated.orders + 1);
}
