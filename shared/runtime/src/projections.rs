//! The read models on the embedded host: a change-feed worker that folds each batch of the feed
//! for both projections on a reader connection and writes what they moved in one writer job,
//! each projection with its own checkpoint in the same transaction as its rows.

use std::sync::Arc;
use std::time::Duration;

use order_domain::ports::StoreError;
use order_embedded::db::DbError;
use order_embedded::read_models::{Projection, ProjectionMemory, checkpoint};
use order_embedded::store::SqliteEventStore;
use tokio::sync::watch;

use crate::feed::{FEED_BATCH, FeedPace};

/// The read models the change feed keeps.
pub(crate) const PROJECTIONS: [Projection; 2] = [Projection::OrderStatus, Projection::Inventory];

/// Applies everything the feed has past the projections' checkpoints: one read of each batch,
/// one fold of it per projection on a reader, and one writer job writing what they moved (each
/// with its own checkpoint; from the lowest one, a projection steps over what it has already
/// seen). The folds start from the views `memory` holds, and the views written are remembered
/// once their job has committed.
pub(crate) async fn catch_up(
    store: &SqliteEventStore,
    projections: &[Projection],
    memory: &Arc<ProjectionMemory>,
) -> Result<i64, ProjectionError> {
    let db = store.db().clone();
    let names: Vec<&'static str> = projections.iter().map(|p| p.name()).collect();
    let mut position = db
        .read(move |c| {
            names
                .iter()
                .map(|n| checkpoint(c, n))
                .try_fold(i64::MAX, |low, p| p.map(|p| low.min(p)))
        })
        .await?;
    if position == i64::MAX {
        position = 0;
    }
    loop {
        let batch = store.read_feed(position, FEED_BATCH).await?;
        let Some(last) = batch.last() else {
            return Ok(position);
        };
        position = last.0;
        // Each traced record's `project` span covers the job that applies its batch.
        let spans = order_app::trace::project_spans(batch.iter().map(|e| &e.1));
        let oldest = batch.iter().map(|e| e.1.occurred_at).min();
        let ps = projections.to_vec();
        let remembered = Arc::clone(memory);
        // Each projection folds the batch on a reader connection, off the one writer thread
        // (decoding, folding, reading views back and encoding them were half of the
        // projections' time there), and the writer runs only the upserts and checkpoints. One
        // that cannot fold the batch (a corrupt event) is left at its checkpoint and retried
        // alone, while the other still moves on. A write that fails fails the job after a
        // change, and the writer rolls its commit back.
        let folds = db
            .read(move |c| {
                Ok(ps
                    .iter()
                    .map(|p| {
                        p.fold_batch(c, &batch, &remembered)
                            .map_err(|e| format!("{}: {e}", p.name()))
                    })
                    .collect::<Vec<_>>())
            })
            .await
            .map_err(|e| ProjectionError::Apply(format!("folding the batch: {e}")))?;
        let (mut folded, mut failed) = (Vec::new(), Vec::new());
        for fold in folds {
            match fold {
                Ok(f) => folded.push(f),
                Err(e) => failed.push(e),
            }
        }
        if !folded.is_empty() {
            let written = db
                .write_direct(move |c| {
                    folded
                        .into_iter()
                        .map(|f| {
                            let name = f.projection().name();
                            f.write(c).map_err(|e| format!("{name}: {e}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .await
                .map_err(|e| ProjectionError::Apply(format!("{e:?}")))?;
            // Committed: what landed is what the rows hold now.
            for w in written {
                w.remember(memory);
            }
        }
        // What the other projections wrote has committed: the failures are answered after it.
        if !failed.is_empty() {
            return Err(ProjectionError::Apply(failed.join("; ")));
        }
        drop(spans);
        order_app::metrics::projected(oldest, order_domain::Timestamp::now());
    }
}

/// Keeps the read models: woken by commits, it gathers [`FEED_COALESCE`](crate::feed::FEED_COALESCE) of them and applies
/// them to both projections at once (one feed read and one writer job per batch).
pub(crate) async fn projection_worker(
    store: SqliteEventStore,
    memory: Arc<ProjectionMemory>,
    shutdown: watch::Receiver<bool>,
) {
    let mut pace = FeedPace::new(
        store.subscribe(),
        shutdown,
        Duration::from_millis(50),
        Duration::from_secs(5),
    );
    loop {
        pace.mark();
        match catch_up(&store, &PROJECTIONS, &memory).await {
            Ok(_) => pace.succeeded(),
            Err(e) => {
                tracing::error!(error = %e, "projections failed; retrying");
                if !pace.failed().await {
                    return;
                }
                continue;
            }
        }
        if !pace.next_commits().await {
            return;
        }
    }
}

/// Why the projections could not catch up.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("reading the checkpoints: {0}")]
    Checkpoint(#[from] DbError),
    #[error("reading the change feed: {0}")]
    Feed(#[from] StoreError),
    #[error("projections: {0}")]
    Apply(String),
}

#[cfg(test)]
mod tests;
