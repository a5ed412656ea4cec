//! Live rows against the log: what counts as a difference, and what is only lag.

use order_domain::envelope::EventMeta;
use order_domain::events::StockAdded;
use order_domain::{Money, ProductEvent, RecordedEvent, StreamId, Timestamp};
use order_replay::sqlite::{ReplayError, replay};
use order_replay::{Mismatch, Model, Outcome, ReplayOptions};
use rusqlite::params;

use crate::support::Log;

fn plain() -> ReplayOptions {
    ReplayOptions::default()
}

/// Appends a restock to `product` directly in the log, without projecting it.
pub fn restock_unprojected(log: &Log, product: &str) {
    let stream = format!("product#{product}");
    let (version, hash): (i64, String) = log
        .conn()
        .query_row(
            "SELECT version, hash FROM events WHERE stream_id = ?1 ORDER BY version DESC LIMIT 1",
            [&stream],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let e = RecordedEvent::seal(
        StreamId::parse(&stream).unwrap(),
        u64::try_from(version).unwrap(),
        &hash,
        ProductEvent::StockAdded(StockAdded {
            quantity: 5,
            stock_after: 5,
            price: Money::from_minor(100),
            refund_id: None,
        })
        .encode(),
        &EventMeta {
            correlation_id: "restock".into(),
            causation_id: "restock".into(),
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
                version + 1,
                e.event_id.to_string(),
                e.event_type.as_str(),
                e.schema_version,
                i64::try_from(e.occurred_at.as_millis()).unwrap(),
                e.correlation_id.as_str(),
                e.causation_id.as_str(),
                e.payload.as_str(),
                e.prev_hash.as_str(),
                e.hash.as_str()
            ],
        )
        .unwrap();
}

#[test]
fn a_changed_view_document_is_a_difference_naming_the_field() {
    let log = Log::new(500);
    let order = log.text("SELECT order_id FROM order_status WHERE status = 'COMPLETED' LIMIT 1");
    log.sql(&format!(
        "UPDATE order_status SET view = replace(view, '\"COMPLETED\"', '\"PAID\"') WHERE order_id = '{order}'"
    ));
    let s = log.replay(plain());
    assert_eq!(s.outcome(), Outcome::Differ, "{s}");
    assert_eq!(s.differences, 1);
    let d = &s.first_differences[0];
    assert_eq!(
        (d.model, d.key.as_str()),
        (Model::OrderStatus, order.as_str())
    );
    let Mismatch::Differs { fields, .. } = &d.mismatch else {
        panic!("{d}")
    };
    assert_eq!(fields.len(), 1, "{d}");
    assert_eq!(
        (
            fields[0].field.as_str(),
            fields[0].live.as_str(),
            fields[0].log.as_str()
        ),
        ("status", "PAID", "COMPLETED")
    );
    assert!(
        s.to_string().contains("status: live PAID, log COMPLETED"),
        "{s}"
    );
}

#[test]
fn a_wrong_status_column_is_a_difference_even_when_the_document_is_right() {
    let log = Log::new(500);
    log.sql(
        "UPDATE order_status SET status = 'PLACED' WHERE order_id = \
         (SELECT order_id FROM order_status WHERE status = 'FAILED' LIMIT 1)",
    );
    let s = log.replay(plain());
    assert_eq!(s.differences, 1, "{s}");
    assert!(
        s.to_string()
            .contains("column status: live PLACED, log FAILED"),
        "{s}"
    );
}

#[test]
fn a_deleted_row_is_missing_and_an_invented_row_is_unjustified() {
    let log = Log::new(500);
    log.sql(
        "DELETE FROM inventory WHERE product_id = 'SKU-00002';
         INSERT INTO order_status (order_id, status, version, updated_at, view)
           VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'PLACED', 1, 0, '{}');
         INSERT INTO inventory (product_id, available, version, view) VALUES ('ZZZ', 1, 1, '{}');",
    );
    let s = log.replay(plain());
    assert_eq!(s.differences, 3, "{s}");
    let kinds: Vec<_> = s
        .first_differences
        .iter()
        .map(|d| (d.model, d.key.as_str(), std::mem::discriminant(&d.mismatch)))
        .collect();
    assert!(kinds.contains(&(
        Model::OrderStatus,
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        std::mem::discriminant(&Mismatch::Unjustified { live_version: 0 })
    )));
    assert!(kinds.contains(&(
        Model::Inventory,
        "SKU-00002",
        std::mem::discriminant(&Mismatch::Missing { log_version: 0 })
    )));
    assert!(kinds.contains(&(
        Model::Inventory,
        "ZZZ",
        std::mem::discriminant(&Mismatch::Unjustified { live_version: 0 })
    )));
}

#[test]
fn events_the_projection_has_not_applied_yet_are_pending_not_differences() {
    let log = Log::new(500);
    restock_unprojected(&log, "SKU-00001");
    let s = log.replay(plain());
    assert_eq!(s.outcome(), Outcome::Match, "{s}");
    assert_eq!(s.pending, 1);
    assert!(s.to_string().contains("pending: 1 event"), "{s}");
}

#[test]
fn a_missing_database_is_an_error_not_an_empty_match() {
    let dir = tempfile::tempdir().unwrap();
    let err = replay(&dir.path().join("orders.db"), &plain(), &mut ()).unwrap_err();
    assert!(matches!(err, ReplayError::NoDatabase(_)), "{err}");
    // And nothing was created there.
    assert!(!dir.path().join("orders.db").exists());
}
