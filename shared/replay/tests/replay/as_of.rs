//! `--as-of`: the read models as they stood at an instant.

use order_domain::{OrderId, Timestamp};
use order_replay::sqlite::order_report;
use order_replay::{Outcome, ReplayOptions};

use crate::support::{Log, START_MS};

fn at(ms: i64) -> ReplayOptions {
    ReplayOptions {
        as_of: Some(Timestamp::from_millis(u64::try_from(ms).unwrap())),
        ..ReplayOptions::default()
    }
}

#[test]
fn as_of_folds_only_the_events_up_to_that_instant() {
    let log = Log::new(1_000);
    let middle = log.int("SELECT occurred_at FROM events WHERE position = 500");
    let s = log.replay(at(middle));
    assert_eq!(s.outcome(), Outcome::Match, "{s}");
    assert_eq!(s.events, log.generated.events, "every event is still read");
    let placed = log.int(&format!(
        "SELECT COUNT(*) FROM events WHERE event_type = 'OrderPlaced' AND occurred_at <= {middle}"
    ));
    assert_eq!(s.orders, u64::try_from(placed).unwrap());
    assert!(s.orders < log.generated.orders);
    // Nothing is compared with today's live rows.
    assert_eq!((s.rows_compared, s.differences), (0, 0));
    assert!(s.to_string().contains("as of "), "{s}");
}

#[test]
fn as_of_before_the_first_event_has_no_rows() {
    let log = Log::new(200);
    let s = log.replay(at(i64::try_from(START_MS).unwrap()));
    assert_eq!((s.orders, s.products), (0, 0), "{s}");
}

#[test]
fn an_order_as_of_before_its_completion_is_unfinished() {
    let log = Log::new(300);
    let stream = log.stream_ending_with("OrderCompleted");
    let id = OrderId::parse(stream.trim_start_matches("order#")).unwrap();
    let paid_at = log.int(&format!(
        "SELECT occurred_at FROM events WHERE stream_id = '{stream}' AND event_type = 'PaymentCaptured'"
    ));
    let then = order_report(&log.path, id, &at(paid_at)).unwrap().unwrap();
    let state = then.timeline.state.as_ref().unwrap();
    assert_eq!(state.status.as_str(), "PAID");
    assert_eq!(then.timeline.entries.len(), 3);
    assert_eq!(then.timeline.later, 2);
    let now = order_report(&log.path, id, &ReplayOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(now.outcome(), Outcome::Match, "{now}");
    assert_eq!(
        now.timeline.state.as_ref().unwrap().status.as_str(),
        "COMPLETED"
    );
    let text = now.to_string();
    for change in [
        "status ∅→PLACED",
        "status PLACED→VALIDATED",
        "status VALIDATED→PAID",
        "status PAID→COMPLETED",
        "live row: matches the log",
    ] {
        assert!(text.contains(change), "{change} missing from:\n{text}");
    }
}

#[test]
fn an_unknown_order_has_no_report() {
    let log = Log::new(100);
    assert!(
        order_report(&log.path, OrderId::generate(), &ReplayOptions::default())
            .unwrap()
            .is_none()
    );
}
