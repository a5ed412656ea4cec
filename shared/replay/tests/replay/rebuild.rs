//! `--rebuild`: repairs what differs, deletes what the log does not justify, and never
//! regresses a row a running projection has moved on.

use order_domain::{OrderId, StreamId};
use order_replay::sqlite::{Repairer, apply_repair};
use order_replay::{Model, Outcome, Repair, ReplayOptions, StreamFold, View};

use crate::compare::restock_unprojected;
use crate::support::{Log, rebuild, replay_at};

#[test]
fn rebuild_repairs_corrupted_missing_and_invented_rows_and_then_replay_matches() {
    let log = Log::new(800);
    log.sql(
        "UPDATE order_status SET view = replace(view, '\"COMPLETED\"', '\"PAID\"'), status = 'PAID' \
           WHERE order_id = (SELECT order_id FROM order_status WHERE status = 'COMPLETED' LIMIT 1);
         DELETE FROM inventory WHERE product_id = 'SKU-00003';
         INSERT INTO order_status (order_id, status, version, updated_at, view)
           VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'PLACED', 1, 0, '{}');",
    );
    let before = log.replay(ReplayOptions::default());
    assert_eq!(before.differences, 3, "{before}");
    let rebuilt = log.replay(rebuild());
    assert_eq!(rebuilt.outcome(), Outcome::Match, "{rebuilt}");
    assert_eq!(
        (
            rebuilt.rebuild.written,
            rebuilt.rebuild.deleted,
            rebuilt.rebuild.unresolved
        ),
        (2, 1, 0),
        "{rebuilt}"
    );
    let after = log.replay(ReplayOptions::default());
    assert_eq!(after.outcome(), Outcome::Match, "{after}");
    assert_eq!(after.differences, 0);
}

#[test]
fn rebuild_brings_a_lagging_row_to_the_head_and_replay_still_matches() {
    let log = Log::new(300);
    restock_unprojected(&log, "SKU-00000");
    let s = log.replay(rebuild());
    assert_eq!((s.differences, s.rebuild.written), (0, 1), "{s}");
    let available = log.int("SELECT available FROM inventory WHERE product_id = 'SKU-00000'");
    assert_eq!(available, 5);
    // Ahead of the projection's checkpoint now, but at the log's head: not a difference.
    let again = log.replay(ReplayOptions::default());
    assert_eq!(again.outcome(), Outcome::Match, "{again}");
}

/// Folds the first `n` events of a stream, as a replay that read an older snapshot would have.
fn view_after(log: &Log, stream: &str, n: i64) -> View {
    let conn = log.conn();
    let events = order_embedded::store::stream_events(&conn, stream, 0).unwrap();
    let mut fold = StreamFold::new(StreamId::parse(stream).unwrap(), &ReplayOptions::default());
    for e in events.iter().take(usize::try_from(n).unwrap()) {
        fold.push(e, true);
    }
    fold.finish().rebuilt.expect("a view")
}

#[test]
fn a_repair_never_regresses_a_row_that_moved_past_the_rebuilt_version() {
    let log = Log::new(300);
    let order = log.text("SELECT order_id FROM order_status WHERE status = 'COMPLETED' LIMIT 1");
    let stream = format!("order#{order}");
    let live_before = log.text(&format!(
        "SELECT view FROM order_status WHERE order_id = '{order}'"
    ));
    let stale = view_after(&log, &stream, 2);
    assert_eq!(stale.version(), 2);
    let changed = apply_repair(&log.conn(), &Repair::Put(stale)).unwrap();
    assert!(!changed);
    let live_after = log.text(&format!(
        "SELECT view FROM order_status WHERE order_id = '{order}'"
    ));
    assert_eq!(live_before, live_after);
    // At the same version, a corrupted row is overwritten.
    log.sql(&format!(
        "UPDATE order_status SET view = '{{}}' WHERE order_id = '{order}'"
    ));
    let head = log.int(&format!(
        "SELECT version FROM order_status WHERE order_id = '{order}'"
    ));
    assert!(apply_repair(&log.conn(), &Repair::Put(view_after(&log, &stream, head))).unwrap());
    assert_eq!(
        log.text(&format!(
            "SELECT view FROM order_status WHERE order_id = '{order}'"
        )),
        live_before
    );
}

#[test]
fn a_delete_is_skipped_when_the_log_now_justifies_the_row() {
    let log = Log::new(300);
    let order = log.text("SELECT order_id FROM order_status LIMIT 1");
    // Replay saw no stream (head 0), but by the time of the write the stream has events.
    let repair = Repair::Delete {
        model: Model::OrderStatus,
        key: order.clone(),
        head_version: 0,
    };
    assert!(!apply_repair(&log.conn(), &repair).unwrap());
    let unknown = OrderId::generate().to_string();
    log.sql(&format!(
        "INSERT INTO order_status (order_id, status, version, updated_at, view) VALUES ('{unknown}', 'PLACED', 1, 0, '{{}}')"
    ));
    let orphan = Repair::Delete {
        model: Model::OrderStatus,
        key: unknown,
        head_version: 0,
    };
    assert!(apply_repair(&log.conn(), &orphan).unwrap());
}

#[test]
fn rebuild_does_not_write_back_a_tampered_stream() {
    let log = Log::new(300);
    let stream = log.stream_ending_with("OrderCompleted");
    let order = stream.trim_start_matches("order#").to_owned();
    log.sql(&format!(
        "UPDATE events SET payload = replace(payload, '\"total\":', '\"total\":1') \
           WHERE stream_id = '{stream}' AND event_type = 'OrderCompleted'"
    ));
    let before = log.text(&format!(
        "SELECT view FROM order_status WHERE order_id = '{order}'"
    ));
    let s = replay_at(
        &log.path,
        ReplayOptions {
            verify: true,
            rebuild: true,
            ..ReplayOptions::default()
        },
    );
    assert_eq!(s.outcome(), Outcome::Broken, "{s}");
    assert_eq!(s.rebuild.written, 0, "{s}");
    let after = log.text(&format!(
        "SELECT view FROM order_status WHERE order_id = '{order}'"
    ));
    assert_eq!(before, after);
}

#[test]
fn repairs_are_written_in_batches_and_counted() {
    let log = Log::new(300);
    log.sql("DELETE FROM order_status");
    let mut stats = order_replay::summary::RebuildStats::default();
    let mut r = Repairer::open(&log.path).unwrap();
    let conn = log.conn();
    let mut stmt = conn
        .prepare("SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'order#%'")
        .unwrap();
    let streams: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for s in &streams {
        let n = log.int(&format!(
            "SELECT MAX(version) FROM events WHERE stream_id = '{s}'"
        ));
        r.push(Repair::Put(view_after(&log, s, n)), true, &mut stats)
            .unwrap();
    }
    r.flush(&mut stats).unwrap();
    assert_eq!(stats.written, streams.len() as u64);
    assert_eq!(
        log.replay(ReplayOptions::default()).outcome(),
        Outcome::Match
    );
}

/// Every column of every order_status row, in key order, as text.
fn order_rows(log: &Log) -> Vec<String> {
    let conn = log.conn();
    let mut s = conn
        .prepare(
            "SELECT order_id || '|' || status || '|' || version || '|' || updated_at || '|' || \
             customer_id || '|' || placed_at || '|' || view FROM order_status ORDER BY order_id",
        )
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_rebuild_from_nothing_writes_the_rows_the_projection_wrote_listing_columns_included() {
    let log = Log::new(800);
    let live = order_rows(&log);
    assert!(live.len() > 50);
    let blank =
        log.int("SELECT COUNT(*) FROM order_status WHERE customer_id = '' OR placed_at = 0");
    assert_eq!(blank, 0, "the projection writes customer_id and placed_at");
    log.sql("DELETE FROM order_status");
    let s = log.replay(rebuild());
    assert_eq!(s.rebuild.written, u64::try_from(live.len()).unwrap(), "{s}");
    assert_eq!(order_rows(&log), live, "byte for byte");
}

#[test]
fn wrong_listing_columns_are_differences_and_a_rebuild_puts_them_back() {
    let log = Log::new(300);
    let live = order_rows(&log);
    log.sql(
        "UPDATE order_status SET customer_id = 'someone-else' \
           WHERE order_id = (SELECT MIN(order_id) FROM order_status);
         UPDATE order_status SET placed_at = placed_at + 1 \
           WHERE order_id = (SELECT MAX(order_id) FROM order_status);",
    );
    let before = log.replay(ReplayOptions::default());
    assert_eq!(before.differences, 2, "{before}");
    let shown = format!("{before}");
    assert!(shown.contains("column customer_id"), "{shown}");
    assert!(shown.contains("column placed_at"), "{shown}");
    let rebuilt = log.replay(rebuild());
    assert_eq!(rebuilt.rebuild.written, 2, "{rebuilt}");
    assert_eq!(order_rows(&log), live);
    let after = log.replay(ReplayOptions::default());
    assert_eq!(after.outcome(), Outcome::Match, "{after}");
}
