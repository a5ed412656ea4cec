//! Recently written streams, kept in memory so the workflow's tasks load an order without a
//! database read.
//!
//! Every task of an order loads its stream, and the stream's events were all written moments
//! earlier by this process's writer. Reading them back meant a hop to a blocking thread, a WAL
//! read transaction (which, after any commit, starts from an empty page cache) and decoding a
//! dozen columns per event: the largest cost of a workflow state in the profile.
//!
//! # Why it is never wrong
//! - It is filled only by the writer thread, from the events of appends it is about to commit,
//!   never from reads (a read's snapshot may be older than a concurrent commit).
//! - An entry holds a stream's whole history only when it has seen every version from 1; it is
//!   extended only by an append whose expected version is exactly its last one. Otherwise it
//!   keeps just the head, and only the highest head ever seen (versions only grow).
//! - A commit that fails after its jobs updated the cache clears the whole cache.
//! - Only this process writes the database: `order_runtime::Pipeline` holds an exclusive lock
//!   on its data directory.
//!
//! The writer reads it too: an append's version check and a decision's heads come from it
//! when it knows the stream. Inside the writer's transaction it holds exactly what the database
//! does for every stream it knows: every append passes through it, a job that fails after
//! recording its events clears it, and so does a failed commit.
//!
//! A miss costs what it cost before: a database read. Memory is bounded by two generations of
//! at most [`GENERATION`] streams each, and long streams (products) keep only their head.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::sync::{Arc, Mutex};

use order_domain::RecordedEvent;

use crate::db::FeedEvent;

/// Streams per generation. Two generations hold the last 8,192–16,384 streams written: several
/// seconds of orders at full speed, enough for a backlog of that many orders waiting on the
/// queue (with 2,048 a closed-loop burst evicted orders before their first task ran). At most
/// a few KB per order stream: tens of MB.
const GENERATION: usize = 8192;
/// Longer histories keep only their head (product streams grow with every reservation).
const MAX_HISTORY: usize = 64;

/// An entry holds the very events the change feed publishes (shared, never copied): recording
/// an append costs the writer a few reference counts, not a copy of every event.
enum Entry {
    /// Every event of the stream, versions 1..=n.
    History(Vec<FeedEvent>),
    /// Only the last event.
    Head(FeedEvent),
}

impl Entry {
    fn head_version(&self) -> u64 {
        match self {
            Self::History(events) => events.last().map_or(0, |e| e.1.version),
            Self::Head(e) => e.1.version,
        }
    }

    /// What the entry becomes after an append of `events` (not empty, `last` the last of them)
    /// at `expected` (see the module's rules); `current` is `None` for a stream not seen before.
    fn after(current: Option<Self>, expected: u64, events: &[FeedEvent], last: &FeedEvent) -> Self {
        match current {
            None if expected == 0 && events.len() <= MAX_HISTORY => Self::History(events.to_vec()),
            Some(Self::History(mut all))
                if all.last().map_or(0, |e| e.1.version) == expected
                    && all.len() + events.len() <= MAX_HISTORY =>
            {
                all.extend_from_slice(events);
                Self::History(all)
            }
            Some(e) if e.head_version() >= last.1.version => e,
            _ => Self::Head(Arc::clone(last)),
        }
    }
}

/// Keyed by stream id with foldhash (the writer looks a stream up for every append, and the
/// tasks for every read): SipHash was most of a lookup's time.
#[derive(Default)]
struct Generations {
    young: HashMap<String, Entry, RandomState>,
    old: HashMap<String, Entry, RandomState>,
}

impl Generations {
    fn get(&self, stream: &str) -> Option<&Entry> {
        self.young.get(stream).or_else(|| self.old.get(stream))
    }

    fn record(&mut self, stream: &str, expected: u64, events: &[FeedEvent]) {
        let Some(last) = events.last() else {
            // A guard: it appended nothing.
            return;
        };
        if let Some(slot) = self.young.get_mut(stream) {
            // Updated in place: no key to allocate, no history to copy.
            let current = std::mem::replace(slot, Entry::History(Vec::new()));
            *slot = Entry::after(Some(current), expected, events, last);
            return;
        }
        let next = Entry::after(self.old.remove(stream), expected, events, last);
        if self.young.len() >= GENERATION {
            let evicted = std::mem::replace(&mut self.old, std::mem::take(&mut self.young));
            drop_elsewhere(evicted);
        }
        self.young.insert(stream.to_owned(), next);
    }
}

/// Frees an evicted generation (thousands of streams' events) on a thread of its own, so the
/// writer, which evicts, does not stop for it. Were no thread to be had, the refused closure
/// frees it here.
fn drop_elsewhere(evicted: HashMap<String, Entry, RandomState>) {
    let _detached = std::thread::Builder::new()
        .name("stream-cache-evict".into())
        .spawn(move || drop(evicted));
}

/// The cache; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct StreamCache {
    inner: Arc<Mutex<Generations>>,
}

impl StreamCache {
    /// The stream's events after `after`, if the whole history is here.
    /// The events are copied after the lock is let go: under it, only reference counts move
    /// (the writer takes the same lock to record every append).
    pub fn history_after(&self, stream: &str, after: u64) -> Option<Vec<RecordedEvent>> {
        let shared: Vec<FeedEvent> = {
            let g = self.inner.lock().ok()?;
            match g.get(stream)? {
                Entry::History(events) => events
                    .iter()
                    .filter(|e| e.1.version > after)
                    .cloned()
                    .collect(),
                Entry::Head(_) => return None,
            }
        };
        Some(shared.iter().map(|e| e.1.clone()).collect())
    }

    /// The stream's last event, if known. `Some(None)` is never answered: an unknown stream is
    /// a miss, not an empty stream.
    pub fn head(&self, stream: &str) -> Option<RecordedEvent> {
        let head: FeedEvent = {
            let g = self.inner.lock().ok()?;
            match g.get(stream)? {
                Entry::History(events) => Arc::clone(events.last()?),
                Entry::Head(e) => Arc::clone(e),
            }
        };
        Some(head.1.clone())
    }

    /// The stream's head version, if known: what the writer checks an append's expected
    /// version against without reading the database (see [`Self::head`]).
    pub fn head_version(&self, stream: &str) -> Option<u64> {
        let g = self.inner.lock().ok()?;
        Some(g.get(stream)?.head_version())
    }

    /// Records an append to `stream` at `expected` version that the writer is about to commit
    /// (called on the writer thread, inside the job that made it), with the events as staged
    /// for the change feed.
    pub fn appended(&self, stream: &str, expected: u64, events: &[FeedEvent]) {
        if let Ok(mut g) = self.inner.lock() {
            g.record(stream, expected, events);
        }
    }

    /// Forgets everything (a commit failed after its jobs had updated the cache).
    pub fn clear(&self) {
        if let Ok(mut g) = self.inner.lock() {
            *g = Generations::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use order_domain::{OrderId, StreamId, StreamWrite};

    use super::*;

    fn stream() -> StreamId {
        OrderId::generate().stream()
    }

    fn write(id: &StreamId, expected: u64, n: u64) -> StreamWrite {
        crate::test_writes::noted(id, expected, n)
    }

    /// Records an append as the writer does: its events as the feed stages them.
    fn record(c: &StreamCache, w: StreamWrite) {
        let events: Vec<FeedEvent> = w
            .events
            .into_iter()
            .map(|e| Arc::new((i64::try_from(e.version).unwrap(), e)))
            .collect();
        c.appended(w.stream_id.as_str(), w.expected_version, &events);
    }

    fn versions(events: &[RecordedEvent]) -> Vec<u64> {
        events.iter().map(|e| e.version).collect()
    }

    #[test]
    fn a_stream_written_from_its_start_is_served_whole_and_after_a_version() {
        let (c, s) = (StreamCache::default(), stream());
        record(&c, write(&s, 0, 1));
        record(&c, write(&s, 1, 2));
        assert_eq!(
            versions(&c.history_after(s.as_str(), 0).unwrap()),
            [1, 2, 3]
        );
        assert_eq!(versions(&c.history_after(s.as_str(), 2).unwrap()), [3]);
        assert_eq!(c.head(s.as_str()).unwrap().version, 3);
    }

    #[test]
    fn a_stream_first_seen_mid_way_has_only_its_head() {
        let (c, s) = (StreamCache::default(), stream());
        record(&c, write(&s, 7, 1));
        assert!(c.history_after(s.as_str(), 0).is_none());
        assert_eq!(c.head(s.as_str()).unwrap().version, 8);
        assert!(c.head(stream().as_str()).is_none());
    }

    /// A guard (a write of no event) appends nothing and leaves the entry as it was.
    #[test]
    fn a_guard_leaves_the_stream_as_it_was() {
        let (c, s) = (StreamCache::default(), stream());
        record(&c, write(&s, 0, 2));
        record(&c, write(&s, 2, 0));
        assert_eq!(versions(&c.history_after(s.as_str(), 0).unwrap()), [1, 2]);
        let unseen = stream();
        record(&c, write(&unseen, 3, 0));
        assert!(c.head(unseen.as_str()).is_none());
    }

    /// Two appends' updates can arrive out of order; the older must not win.
    #[test]
    fn a_late_update_never_moves_a_head_backwards() {
        let (c, s) = (StreamCache::default(), stream());
        record(&c, write(&s, 0, 1));
        record(&c, write(&s, 2, 1)); // a gap: the history gives way to the head
        record(&c, write(&s, 1, 1)); // the late one
        assert!(c.history_after(s.as_str(), 0).is_none());
        assert_eq!(c.head(s.as_str()).unwrap().version, 3);
    }

    #[test]
    fn a_long_stream_keeps_only_its_head() {
        let (c, s) = (StreamCache::default(), stream());
        let max = u64::try_from(MAX_HISTORY).unwrap();
        for v in 0..=max {
            record(&c, write(&s, v, 1));
        }
        assert!(c.history_after(s.as_str(), 0).is_none());
        assert_eq!(c.head(s.as_str()).unwrap().version, max + 1);
    }

    #[test]
    fn memory_is_bounded_by_two_generations() {
        let c = StreamCache::default();
        let streams: Vec<StreamId> = (0..3 * GENERATION).map(|_| stream()).collect();
        for s in &streams {
            record(&c, write(s, 0, 1));
        }
        let g = c.inner.lock().unwrap();
        assert!(g.young.len() + g.old.len() <= 2 * GENERATION);
        drop(g);
        assert!(c.head(streams[3 * GENERATION - 1].as_str()).is_some());
        assert!(c.head(streams[0].as_str()).is_none());
    }

    #[test]
    fn clearing_forgets_everything() {
        let (c, s) = (StreamCache::default(), stream());
        record(&c, write(&s, 0, 1));
        c.clear();
        assert!(c.head(s.as_str()).is_none());
    }
}
