//! The projection step, written once: what a read-model store writes for one delivered record.
//!
//! [`next`] and [`refold`] are the pure core; [`advance`] drives it over the [`ViewStore`] port
//! and the event log (the stream projectors), [`advance_batch`] over a synchronous reader (the
//! embedded host, inside its writer's transaction, one write per changed view).
//!
//! A view is written only when its version moves forward. A refold after a gap that ends at
//! the version the view already had applied nothing (every applied event raises the version),
//! so it is the stored view itself: writing it again would cost a write that its store's
//! version guard turns away, and would report the record as having changed something.

use std::collections::hash_map::Entry;
use std::future::Future;

use order_domain::RecordedEvent;
use order_domain::events::DecodeError;
use order_domain::ports::{EventStore, PortError, StoreError};

use crate::view::{Step, View};

/// What one record means for a stored view.
#[derive(Debug, Clone, PartialEq)]
pub enum Next<V> {
    /// Store this view: its version moved forward.
    Write(V),
    /// Nothing to store (a duplicate, an older record, another model's stream, nothing new).
    Keep,
    /// The record is past a gap: read the stream's events after `after_version` and [`refold`].
    ReadHistory { after_version: u64 },
}

/// The view after `record`, unless it lies past a gap.
///
/// # Errors
/// The record does not decode.
pub fn next<V: View>(current: Option<&V>, record: &RecordedEvent) -> Result<Next<V>, DecodeError> {
    Ok(match V::step(current, record)? {
        Step::Apply(view) => Next::Write(view),
        Step::Skip => Next::Keep,
        Step::NeedHistory { after_version } => Next::ReadHistory { after_version },
    })
}

/// The view after folding `history` (read on a gap) onto `current`: `Write` only if the fold
/// moved the version (see the module's note), never `ReadHistory`.
///
/// # Errors
/// An event of `history` does not decode.
pub fn refold<V: View>(
    current: Option<&V>,
    history: &[RecordedEvent],
) -> Result<Next<V>, DecodeError> {
    let have = current.map(View::version);
    Ok(match V::fold(current.cloned(), history)? {
        Some(view) if Some(view.version()) > have => Next::Write(view),
        _ => Next::Keep,
    })
}

/// What a version-guarded put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewWrite {
    Written,
    /// The store already held this version or a newer one: nothing changed (not an error).
    Stale,
}

/// What one record did to the read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The view moved forward.
    Written,
    /// A duplicate or older record, or another read model's stream: nothing to do.
    Unchanged,
    /// The store already held a newer view (another projector got there first).
    Stale,
}

impl From<ViewWrite> for Applied {
    fn from(w: ViewWrite) -> Self {
        match w {
            ViewWrite::Written => Self::Written,
            ViewWrite::Stale => Self::Stale,
        }
    }
}

/// A read-model store as the projection step needs it: one row per view key, written only
/// forward.
pub trait ViewStore<V: View>: Send + Sync {
    /// The stored view under `key`, strongly consistent.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<V>, PortError>> + Send;

    /// Stores `view` unless the store holds its version or a newer one: an older or equal
    /// version never overwrites a stored view, even when two writers race on the row.
    fn put(&self, view: &V) -> impl Future<Output = Result<ViewWrite, PortError>> + Send;
}

/// A borrowed store is the store: a decorator ([`crate::Remembered`]) can wrap one it does not
/// own.
impl<V: View, S: ViewStore<V>> ViewStore<V> for &S {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<V>, PortError>> + Send {
        (**self).get(key)
    }

    fn put(&self, view: &V) -> impl Future<Output = Result<ViewWrite, PortError>> + Send {
        (**self).put(view)
    }
}

/// Why a record could not be projected (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    #[error("undecodable event: {0}")]
    Decode(#[from] DecodeError),
    #[error("refetching history: {0}")]
    Store(#[from] StoreError),
    #[error("read model: {0}")]
    ReadModel(#[from] PortError),
}

/// Projects one delivered record into `views`: skip what was seen, apply the next version,
/// refold the stream from `log` past a gap.
///
/// # Errors
/// The record or its stream's history does not decode, or a store failed.
pub async fn advance<V, S, L>(
    views: &S,
    log: &L,
    record: &RecordedEvent,
) -> Result<Applied, AdvanceError>
where
    V: View,
    S: ViewStore<V>,
    L: EventStore,
{
    advance_run(views, log, &[record]).await
}

/// Projects consecutive records of one stream (the events of one append arrive together) as
/// [`advance`] would one by one, with at most one read of the view and one write: the view is
/// read once (not at all for a run from version 1), stepped through each record (refolded past
/// a gap), and stored once if it moved.
/// A run that names no view of `V` (another model's stream) or is empty does nothing.
///
/// # Errors
/// A record or its stream's history does not decode, or a store failed: nothing of the run
/// was written.
pub async fn advance_run<V, S, L>(
    views: &S,
    log: &L,
    run: &[&RecordedEvent],
) -> Result<Applied, AdvanceError>
where
    V: View,
    S: ViewStore<V>,
    L: EventStore,
{
    let Some(key) = run.first().and_then(|r| V::key(&r.stream_id)) else {
        return Ok(Applied::Unchanged);
    };
    // A run from the stream's first event folds its view from nothing, so it needs no read:
    // were the view stored already (a redelivery), `put` refuses an older or equal version.
    let mut current = if run.first().is_some_and(|r| r.version == 1) {
        None
    } else {
        views.get(&key).await?
    };
    let mut moved = false;
    for record in run {
        // `next`, with the view stepped where it stands rather than copied.
        match V::step_in_place(&mut current, record)? {
            Step::Apply(()) => moved = true,
            Step::Skip => {}
            Step::NeedHistory { after_version } => {
                let history = log.read_stream(&record.stream_id, after_version).await?;
                if let Next::Write(view) = refold(current.as_ref(), &history)? {
                    current = Some(view);
                    moved = true;
                }
            }
        }
    }
    match current {
        Some(view) if moved => Ok(views.put(&view).await?.into()),
        _ => Ok(Applied::Unchanged),
    }
}

/// Projects a batch in memory: each view loaded once (`load`, by key), stepped through its
/// records, its stream read (`history`, after a version) on a gap. Returns the views that
/// moved, each once, in the order the batch first named them, for the caller to write.
///
/// # Errors
/// The first error of `load` or `history`, or a record that does not decode.
pub fn advance_batch<'r, V, E>(
    records: impl IntoIterator<Item = &'r RecordedEvent>,
    mut load: impl FnMut(&str) -> Result<Option<V>, E>,
    mut history: impl FnMut(&RecordedEvent, u64) -> Result<Vec<RecordedEvent>, E>,
) -> Result<Vec<V>, E>
where
    V: View,
    E: From<DecodeError>,
{
    // Per key: the view as the batch leaves it, and whether the batch moved it.
    // foldhash: a batch hashes each record's key, and the keys are the server's (order ids,
    // catalogue product ids).
    let mut views: foldhash::HashMap<String, (Option<V>, bool)> = foldhash::HashMap::default();
    let mut order: Vec<String> = Vec::new();
    for record in records {
        let Some(key) = V::key(&record.stream_id) else {
            continue;
        };
        let (current, moved) = match views.entry(key) {
            Entry::Occupied(seen) => seen.into_mut(),
            Entry::Vacant(first) => {
                order.push(first.key().clone());
                // From the stream's first event the view folds from nothing, as in
                // [`advance_run`]: no read, and a stored view (a redelivery) refuses the put.
                let loaded = if record.version == 1 {
                    None
                } else {
                    load(first.key())?
                };
                first.insert((loaded, false))
            }
        };
        match V::step_in_place(current, record)? {
            Step::Apply(()) => *moved = true,
            Step::Skip => {}
            Step::NeedHistory { after_version } => {
                let history = history(record, after_version)?;
                if let Next::Write(view) = refold(current.as_ref(), &history)? {
                    *current = Some(view);
                    *moved = true;
                }
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|key| match views.remove(&key) {
            Some((Some(view), true)) => Some(view),
            _ => None,
        })
        .collect())
}
