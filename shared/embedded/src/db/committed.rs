//! The events of the last commits, kept in memory so the change feed's consumers (projections,
//! forwarder) read what this process's writer just committed without a database read.
//!
//! Reading them back cost a hop to a blocking thread, a WAL read transaction and decoding a
//! dozen columns per event, for events the writer had in memory moments earlier.
//!
//! # Why it is never wrong
//! - Jobs only *stage* the events they appended, with their positions; the writer drops a
//!   job's staged events when the job fails (its savepoint is rolled back), and all of them when
//!   the commit fails. Only after a commit succeeds are they *published*: a consumer never sees
//!   an event that could still roll back.
//! - The ring claims to hold every event in `(base, base + len]`. Positions are unique
//!   integers, and a published event extends the ring only when its position is exactly the
//!   next one; any other position (a job's events rolled back, a write that staged nothing) makes
//!   the ring start again from that event.
//! - Inside every commit the writer reads the log's highest position; when it is not the ring's
//!   last, some write inserted events without staging them (raw SQL, another connection), and
//!   the ring restarts empty from that position.
//! - At open the ring starts empty at the log's highest position: what came before (a previous
//!   run, seed, migrations, `replay --rebuild` run offline) is read from SQLite.
//! - Events are never updated or deleted in place while the pipeline runs, and only this process
//!   writes the database (`order_runtime::Pipeline` holds an exclusive lock on its data
//!   directory).
//!
//! A read the ring cannot answer entirely (a consumer behind `base`, after a restart, past the
//! bound) costs what it cost before: a database read.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use order_domain::RecordedEvent;

/// One event of the change feed: its global position and the event, shared by every consumer.
pub type FeedEvent = Arc<(i64, RecordedEvent)>;

/// Events the ring keeps: at 500 orders/s and ~10 events per order, a few seconds of commits,
/// far more than a consumer that keeps up trails by (its batches are at most 512). A few KB
/// each: tens of MB at most.
const CAPACITY: usize = 16_384;

#[derive(Default)]
struct Ring {
    /// The position before the first event held; `None` until the writer has read the log's
    /// head (the ring proves nothing yet).
    base: Option<i64>,
    events: VecDeque<FeedEvent>,
}

impl Ring {
    fn top(&self) -> Option<i64> {
        self.base
            .map(|b| b + i64::try_from(self.events.len()).unwrap_or(i64::MAX))
    }

    fn restart(&mut self, base: i64) {
        self.base = Some(base);
        self.events.clear();
    }

    fn push(&mut self, event: FeedEvent) {
        if self.top() != Some(event.0 - 1) {
            self.restart(event.0 - 1);
        }
        if self.events.len() >= CAPACITY {
            self.events.pop_front();
            self.base = self.base.map(|b| b + 1);
        }
        self.events.push_back(event);
    }
}

/// The committed-events ring and the events staged by the commit in progress; cheap to clone.
#[derive(Clone, Default)]
pub struct CommittedFeed {
    ring: Arc<Mutex<Ring>>,
    /// Written only on the writer thread, by the jobs of the transaction in progress.
    staged: Arc<Mutex<Vec<FeedEvent>>>,
}

impl CommittedFeed {
    /// A ring holding nothing, complete from `head` (the log's highest position, 0 if empty).
    pub(crate) fn starting_at(head: i64) -> Self {
        let feed = Self::default();
        feed.ring_lock().restart(head);
        feed
    }

    fn ring_lock(&self) -> MutexGuard<'_, Ring> {
        self.ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn staged_lock(&self) -> MutexGuard<'_, Vec<FeedEvent>> {
        self.staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stages the events an append just inserted (in the writer's job, each with its position
    /// as `insert_event` returned it). Published only if the job and its commit succeed.
    pub fn stage(&self, events: impl IntoIterator<Item = FeedEvent>) {
        self.staged_lock().extend(events);
    }

    /// How many events are staged (taken before a job runs, to undo it with [`Self::unstage`]).
    pub(crate) fn staged_len(&self) -> usize {
        self.staged_lock().len()
    }

    /// Drops what was staged since `mark` (the job failed: its savepoint was rolled back).
    pub(crate) fn unstage(&self, mark: usize) {
        self.staged_lock().truncate(mark);
    }

    /// The commit failed: nothing staged happened.
    pub(crate) fn commit_failed(&self) {
        self.staged_lock().clear();
    }

    /// The commit succeeded but the log's head could not be read: the ring proves nothing until
    /// the next published event.
    pub(crate) fn head_unknown(&self) {
        self.staged_lock().clear();
        let mut ring = self.ring_lock();
        ring.base = None;
        ring.events.clear();
    }

    /// The commit succeeded, and the log's highest position inside it was `head`: publishes
    /// the staged events.
    pub(crate) fn committed(&self, head: i64) {
        let staged = std::mem::take(&mut *self.staged_lock());
        let mut ring = self.ring_lock();
        for e in staged {
            ring.push(e);
        }
        if ring.top() != Some(head) {
            // Events were inserted that nobody staged: the ring proves nothing before `head`.
            ring.restart(head);
        }
    }

    /// The events after `after`, at most `limit`, if the ring holds every one of them; `None`
    /// when it cannot prove that (the caller reads the database).
    pub fn read_after(&self, after: i64, limit: usize) -> Option<Vec<FeedEvent>> {
        let ring = self.ring_lock();
        let (base, top) = (ring.base?, ring.top()?);
        if after < base || after > top {
            return None;
        }
        let skip = usize::try_from(after - base).ok()?;
        Some(ring.events.range(skip..).take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests;
