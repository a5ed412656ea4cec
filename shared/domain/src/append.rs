//! What every event store checks before it writes an append, written once so that both stores
//! refuse the same appends with the same error.
//!
//! - **Sequence.** Each event of a [`StreamWrite`] belongs to that write's stream and continues
//!   its versions: `expected_version + 1`, `+ 2`, ... A store's guard against a concurrent
//!   writer (the unique `(stream, version)` key) only protects `expected_version` if the
//!   versions follow it; any other write would leave a gap or a fork in the stream.
//! - **Size.** An append is one atomic write, never split (a split is not atomic), so it must
//!   fit the narrowest store's atomic write: DynamoDB's `TransactWriteItems`, 100 items.
//!   [`append_items`] counts the items of an append as that call counts them, and every store
//!   refuses an append above [`MAX_APPEND_ITEMS`] with [`StoreError::TooLarge`], whether or not
//!   its own atomic write could hold more.

use crate::envelope::StreamWrite;
use crate::ports::StoreError;

/// Most items one atomic append may hold, counted by [`append_items`] (DynamoDB's
/// `TransactWriteItems` allows 100). The same limit on every store, so an append that works on
/// the embedded host never fails on AWS for its size.
pub const MAX_APPEND_ITEMS: usize = 100;

impl StreamWrite {
    /// The items this write takes in an atomic append: one per event, or one guard (a
    /// condition check that the stream has not moved) when it has no event.
    pub fn items(&self) -> usize {
        self.events.len().max(1)
    }
}

/// The items of an append, as DynamoDB's `TransactWriteItems` counts them: one per event, plus
/// one guard per event-less write. An append without any event is 0: there is nothing to keep
/// atomic, so a store writes and checks nothing for it.
pub fn append_items(writes: &[StreamWrite]) -> usize {
    if writes.iter().all(|w| w.events.is_empty()) {
        return 0;
    }
    writes.iter().map(StreamWrite::items).sum()
}

/// Checks an append before a store writes any of it, and counts its items.
///
/// Returns [`append_items`]; `0` means the store has nothing to do and answers `Ok` at once.
///
/// # Errors
/// - [`StoreError::TooLarge`] above [`MAX_APPEND_ITEMS`] items;
/// - [`StoreError::Corrupt`] when an event does not belong to its write's stream or does not
///   continue its versions (a bug in the caller: the write would corrupt the log).
pub fn check_append(writes: &[StreamWrite]) -> Result<usize, StoreError> {
    let items = append_items(writes);
    if items > MAX_APPEND_ITEMS {
        return Err(StoreError::TooLarge { items });
    }
    for w in writes {
        for (i, e) in w.events.iter().enumerate() {
            let want = w.expected_version + i as u64 + 1;
            if e.stream_id != w.stream_id || e.version != want {
                return Err(StoreError::Corrupt(format!(
                    "refused to append {}@{} to {} at expected version {}: events must continue \
                     their stream's versions",
                    e.stream_id, e.version, w.stream_id, w.expected_version
                )));
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EventMeta, GENESIS_HASH, RecordedEvent};
    use crate::time::Timestamp;
    use crate::values::{OrderId, StreamId};

    fn write(stream: &StreamId, expected: u64, n: usize) -> StreamWrite {
        let meta = EventMeta {
            correlation_id: "c".into(),
            causation_id: "r".into(),
            occurred_at: Timestamp::from_millis(1),
            trace_parent: None,
        };
        let mut events: Vec<RecordedEvent> = Vec::new();
        for i in 0..n {
            let prev = events
                .last()
                .map_or(GENESIS_HASH.to_owned(), |e| e.hash.to_string());
            events.push(RecordedEvent::seal(
                stream.clone(),
                expected + i as u64,
                &prev,
                ("TestEvent", 1, "{}".into()),
                &meta,
            ));
        }
        StreamWrite {
            stream_id: stream.clone(),
            expected_version: expected,
            events,
        }
    }

    fn stream() -> StreamId {
        OrderId::generate().stream()
    }

    #[test]
    fn events_that_continue_their_stream_pass_and_count_one_item_each() {
        let writes = [write(&stream(), 0, 3), write(&stream(), 7, 2)];
        assert_eq!(check_append(&writes), Ok(5));
    }

    #[test]
    fn an_event_less_write_counts_one_guard_but_only_beside_events() {
        let guard = write(&stream(), 4, 0);
        assert_eq!(check_append(std::slice::from_ref(&guard)), Ok(0));
        assert_eq!(check_append(&[write(&stream(), 0, 1), guard]), Ok(2));
    }

    #[test]
    fn exactly_the_limit_passes_and_one_more_item_is_too_large() {
        let s = stream();
        assert_eq!(check_append(&[write(&s, 0, 100)]), Ok(100));
        assert_eq!(
            check_append(&[
                write(&s, 0, 99),
                write(&stream(), 3, 0),
                write(&stream(), 0, 1)
            ]),
            Err(StoreError::TooLarge { items: 101 })
        );
    }

    #[test]
    fn a_version_gap_an_old_version_or_a_foreign_event_is_refused_as_corrupt() {
        let s = stream();
        let mut gap = write(&s, 2, 2);
        gap.events[1].version = 5;
        let mut old = write(&s, 2, 1);
        old.expected_version = 3;
        let mut foreign = write(&s, 0, 1);
        foreign.events[0].stream_id = stream();
        for w in [gap, old, foreign] {
            assert!(
                matches!(check_append(&[w]), Err(StoreError::Corrupt(_))),
                "out of sequence"
            );
        }
    }
}
