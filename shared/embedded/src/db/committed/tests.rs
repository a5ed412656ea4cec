use order_domain::{OrderId, StreamWrite};

use super::*;

fn write(n: u64) -> StreamWrite {
    crate::test_writes::noted(&OrderId::generate().stream(), 0, n)
}

/// Stages the write's events at `positions`, as the store's append does.
fn stage(feed: &CommittedFeed, positions: &[i64], w: StreamWrite) {
    feed.stage(
        positions
            .iter()
            .zip(w.events)
            .map(|(p, e)| Arc::new((*p, e))),
    );
}

/// Stages events at `positions` and commits with the log's head at the last of them.
fn commit(feed: &CommittedFeed, positions: &[i64]) {
    stage(feed, positions, write(positions.len() as u64));
    feed.committed(*positions.last().unwrap());
}

fn positions(events: &[FeedEvent]) -> Vec<i64> {
    events.iter().map(|e| e.0).collect()
}

#[test]
fn contiguous_commits_are_served_from_any_position_they_cover() {
    let feed = CommittedFeed::starting_at(10);
    assert_eq!(feed.read_after(10, 5).unwrap(), vec![]);
    commit(&feed, &[11, 12]);
    commit(&feed, &[13]);
    assert_eq!(positions(&feed.read_after(10, 5).unwrap()), [11, 12, 13]);
    assert_eq!(positions(&feed.read_after(11, 1).unwrap()), [12]);
    assert_eq!(
        positions(&feed.read_after(13, 5).unwrap()),
        Vec::<i64>::new()
    );
    assert!(
        feed.read_after(9, 5).is_none(),
        "before the ring: the database"
    );
    assert!(
        feed.read_after(14, 5).is_none(),
        "past the head: the database"
    );
}

#[test]
fn a_gap_in_positions_restarts_the_ring_at_the_event_after_it() {
    let feed = CommittedFeed::starting_at(0);
    commit(&feed, &[1, 2]);
    // Position 3 went to a rolled-back job (or a write that staged nothing).
    commit(&feed, &[4]);
    assert!(feed.read_after(0, 10).is_none());
    assert!(feed.read_after(2, 10).is_none());
    assert_eq!(positions(&feed.read_after(3, 10).unwrap()), [4]);
}

#[test]
fn events_nobody_staged_make_the_ring_refuse_everything_before_the_head() {
    let feed = CommittedFeed::starting_at(0);
    commit(&feed, &[1, 2]);
    // A commit whose jobs inserted positions 3 and 4 with raw SQL.
    feed.committed(4);
    assert!(feed.read_after(2, 10).is_none());
    assert_eq!(feed.read_after(4, 10).unwrap(), vec![]);
    // The same when the raw insert shares a commit with a staged append.
    stage(&feed, &[5], write(1));
    feed.committed(6);
    assert!(feed.read_after(4, 10).is_none());
    assert_eq!(feed.read_after(6, 10).unwrap(), vec![]);
}

#[test]
fn a_failed_commit_publishes_nothing() {
    let feed = CommittedFeed::starting_at(0);
    stage(&feed, &[1, 2], write(2));
    feed.commit_failed();
    assert_eq!(feed.read_after(0, 10).unwrap(), vec![]);
    // The positions are used again by the next commit.
    commit(&feed, &[1]);
    assert_eq!(positions(&feed.read_after(0, 10).unwrap()), [1]);
}

#[test]
fn a_failed_job_unstages_only_its_own_events() {
    let feed = CommittedFeed::starting_at(0);
    stage(&feed, &[1], write(1));
    let mark = feed.staged_len();
    stage(&feed, &[2, 3], write(2));
    feed.unstage(mark);
    stage(&feed, &[2], write(1));
    feed.committed(2);
    assert_eq!(positions(&feed.read_after(0, 10).unwrap()), [1, 2]);
}

#[test]
fn a_ring_that_never_saw_the_head_proves_nothing() {
    let feed = CommittedFeed::default();
    assert!(feed.read_after(0, 10).is_none());
}

#[test]
fn memory_is_bounded_and_the_oldest_events_go_to_the_database() {
    let feed = CommittedFeed::starting_at(0);
    let n = i64::try_from(CAPACITY).unwrap() + 100;
    for p in 1..=n {
        commit(&feed, &[p]);
    }
    assert_eq!(feed.ring_lock().events.len(), CAPACITY);
    assert!(feed.read_after(99, 1).is_none());
    assert_eq!(positions(&feed.read_after(100, 2).unwrap()), [101, 102]);
    assert_eq!(positions(&feed.read_after(n - 1, 10).unwrap()), [n]);
}
