//! One order's timeline (`--order`), the read models as of an instant (`--as-of`), and the exit
//! codes of a missing data directory, an unknown order and bad arguments.

use order_domain::{OrderId, Timestamp};

use crate::run::{Copy, replay_in, run};

#[test]
fn as_of_before_an_orders_completion_shows_it_unfinished() {
    let copy = Copy::new();
    let id = &run().completed;
    let completed_at = copy.int(&format!(
        "SELECT occurred_at FROM events WHERE stream_id = 'order#{id}' AND event_type = 'OrderCompleted'"
    ));
    let before = Timestamp::from_millis(u64::try_from(completed_at - 1).unwrap()).to_rfc3339();
    let then = copy.replay(&["--order", id, "--as-of", &before]);
    then.assert_shows_an_unfinished_order();
    let now = copy.replay(&["--order", id]);
    assert!(now.stdout.contains("state now: COMPLETED"), "{now}");
    // The whole read models then: this order was not yet complete.
    let all = copy.replay(&["--as-of", &before]);
    assert_eq!(all.code, 0, "{all}");
    assert!(all.stdout.contains(&format!("as of {before}")), "{all}");
    assert!(all.stdout.contains("inventory then:"), "{all}");
}

#[test]
fn the_order_timeline_shows_what_each_event_changed() {
    let copy = Copy::new();
    let r = copy.replay(&["--order", &run().out_of_stock, "--verify"]);
    assert_eq!(r.code, 0, "{r}");
    for expected in [
        "OrderPlaced",
        "status ∅→PLACED",
        "items LAST×1",
        "status PLACED→VALIDATED",
        "status VALIDATED→PAID",
        "LAST: 1 requested, 0 available",
        "refunded false→true",
        "status PAID→FAILED",
        "reason ∅→OUT_OF_STOCK",
        "state now: FAILED (OUT_OF_STOCK)",
        "live row: matches the log",
    ] {
        assert!(r.stdout.contains(expected), "{expected} missing:\n{r}");
    }
    let rejected = copy.replay(&["--order", &run().rejected]);
    assert!(
        rejected.stdout.contains("code INSUFFICIENT_STOCK"),
        "{rejected}"
    );
}

#[test]
fn a_missing_data_dir_or_unknown_order_exits_4_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = replay_in(&dir.path().join("nothing-here"), &[]);
    assert_eq!(missing.code, 4, "{missing}");
    assert!(missing.stderr.contains("no database at"), "{missing}");
    let copy = Copy::new();
    let unknown = copy.replay(&["--order", &OrderId::generate().to_string()]);
    assert_eq!(unknown.code, 4, "{unknown}");
    let conflicting = copy.replay(&["--rebuild", "--as-of", "2026-01-01T00:00:00Z"]);
    assert_eq!(conflicting.code, 2, "{conflicting}");
    let bad_time = copy.replay(&["--as-of", "yesterday"]);
    assert_eq!(bad_time.code, 2, "{bad_time}");
}
