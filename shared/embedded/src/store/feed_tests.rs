//! The change feed served from the committed-events ring reads exactly what the database holds:
//! in order, without a gap or a repeat, across seeds, failed jobs, the ring's bound and restarts.

use order_domain::OrderId;
use order_domain::ports::EventStore;

use super::*;
use crate::db::Durability;

const BATCH: usize = 512;

fn write(n: u64) -> StreamWrite {
    crate::test_writes::noted(&OrderId::generate().stream(), 0, n)
}

/// Reads the whole feed after `after` as a consumer does, each batch checked against the
/// database's; returns the positions seen.
async fn drain(store: &SqliteEventStore, mut after: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    loop {
        let batch = store.read_feed(after, BATCH).await.unwrap();
        let want = store
            .db()
            .read(move |c| events_after(c, after, BATCH))
            .await
            .unwrap();
        let got: Vec<(i64, RecordedEvent)> = batch.iter().map(|e| (**e).clone()).collect();
        assert_eq!(got, want, "the feed after {after}");
        let Some(last) = batch.last() else {
            return seen;
        };
        seen.extend(batch.iter().map(|e| e.0));
        after = last.0;
    }
}

/// Appends `n` streams of `events` each, concurrently (so the writer groups them).
async fn append_many(store: &SqliteEventStore, n: usize, events: u64) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.append(vec![write(events)]).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_reads_every_event_once_in_order_through_failures_the_bound_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.db");
    let db = Db::open(&path, Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    // A seed's rows, written without the event store.
    let seed = write(3);
    db.write(move |c| {
        seed.events
            .iter()
            .try_for_each(|e| insert_event(c, e).map(|_| ()))
    })
    .await
    .unwrap();
    append_many(&store, 10, 5).await;
    // A job that appends and then fails: rolled back, its events never published.
    let (cache, feed) = (store.cache().clone(), db.feed().clone());
    let failed = db
        .write(move |c| {
            append_and_stage(c, vec![write(4)], &cache, &feed)?;
            Err::<(), _>(StoreError::Unavailable("after the append".into()))
        })
        .await;
    assert!(failed.is_err());
    // A conflicting append (the stream exists): refused, nothing published.
    let taken = write(1);
    store.append(vec![taken.clone()]).await.unwrap();
    assert!(store.append(vec![taken]).await.is_err());
    // More than the ring holds, so a consumer from the start is far behind it.
    append_many(&store, 200, 90).await;

    let all = drain(&store, 0).await;
    let last = *all.last().unwrap();
    assert_eq!(all, (1..=last).collect::<Vec<_>>());
    assert!(
        db.feed().read_after(0, 1).is_none(),
        "far behind: the database"
    );
    assert!(
        db.feed().read_after(last - 100, 100).is_some(),
        "at the head: memory"
    );
    db.close();

    let db = Db::open(&path, Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    assert!(
        db.feed().read_after(last - 1, 1).is_none(),
        "a new process read nothing yet"
    );
    assert_eq!(drain(&store, 0).await, all);
    append_many(&store, 3, 2).await;
    assert_eq!(
        db.feed().read_after(last, BATCH).map(|b| b.len()),
        Some(6),
        "the new commits: memory"
    );
    assert_eq!(
        drain(&store, last).await,
        (last + 1..=last + 6).collect::<Vec<_>>()
    );
    db.close();
}

/// A one-event append runs without a savepoint of its own (a failed insert undoes itself):
/// refused at the insert itself, after its version check passed, it leaves nothing in the log,
/// the cache or the feed, and the appends committed with it are whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_event_append_refused_at_its_insert_leaves_nothing_and_its_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("one.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let first = write(1);
    store.append(vec![first.clone()]).await.unwrap();
    // A new stream, so its version check passes; a trigger refuses its row, as the database
    // refuses an insert it cannot make (a full disk, a corrupt page).
    let clash = write(1);
    let refused = clash.stream_id.to_string();
    db.write(move |c| {
        c.execute_batch(&format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.stream_id = '{refused}' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ))
    })
    .await
    .unwrap();
    let (before, after) = (write(1), write(1));
    let (b, c, a) = tokio::join!(
        store.append(vec![before.clone()]),
        store.append(vec![clash.clone()]),
        store.append(vec![after.clone()]),
    );
    assert!(b.is_ok() && a.is_ok());
    assert!(matches!(c, Err(StoreError::Conflict { .. })), "{c:?}");
    assert!(
        store
            .read_stream(&clash.stream_id, 0)
            .await
            .unwrap()
            .is_empty()
    );
    for w in [&first, &before, &after] {
        assert_eq!(store.read_stream(&w.stream_id, 0).await.unwrap(), w.events);
    }
    assert_eq!(drain(&store, 0).await, [1, 2, 3]);
    db.close();
}

/// An event sealed from a typed event reaches the feed's consumers and the stream's readers with
/// that event (they decode nothing), and is read back from the database without it, decoding to
/// the same event: the two paths a consumer's event comes by agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_events_reach_the_feed_and_stream_readers_with_their_event_and_the_log_without() {
    use std::borrow::Cow;

    use order_domain::events::{OrderCompleted, decode_order};
    use order_domain::{EventMeta, Money, OrderEvent, Timestamp};

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("typed.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    let stream = OrderId::generate().stream();
    let event = OrderEvent::OrderCompleted(OrderCompleted {
        total: Money::from_minor(4_200),
    });
    let meta = EventMeta {
        correlation_id: "c".into(),
        causation_id: "c".into(),
        occurred_at: Timestamp::from_millis(1),
        trace_parent: None,
    };
    let sealed = RecordedEvent::seal(stream.clone(), 0, order_domain::GENESIS_HASH, &event, &meta);
    store
        .append(vec![StreamWrite {
            stream_id: stream.clone(),
            expected_version: 0,
            events: vec![sealed.clone()],
        }])
        .await
        .unwrap();

    let lent = |r: &RecordedEvent| matches!(decode_order(r), Ok(Cow::Borrowed(e)) if *e == event);
    let fed = store.read_feed(0, BATCH).await.unwrap();
    assert!(
        fed.len() == 1 && lent(&fed[0].1),
        "the feed: from memory, typed"
    );
    let read = store.read_stream(&stream, 0).await.unwrap();
    assert!(
        read.len() == 1 && lent(&read[0]),
        "the stream: from the cache, typed"
    );

    let stored = db.read(move |c| events_after(c, 0, BATCH)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].1.decoded.is_held(),
        "the log holds only the text"
    );
    assert_eq!(stored[0].1, sealed);
    assert!(matches!(decode_order(&stored[0].1), Ok(Cow::Owned(e)) if e == event));
    db.close();
}
