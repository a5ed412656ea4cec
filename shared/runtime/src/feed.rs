//! How a change-feed worker paces itself: woken by commits (or a one-second safety net for
//! events another process committed to the same file), it lets a few milliseconds of commits
//! gather before reading; after a failed pass it backs off, doubling up to a cap.

use std::time::Duration;

use tokio::sync::watch;

/// Most events one read of the change feed takes.
pub(crate) const FEED_BATCH: usize = 512;

/// How long a change-feed worker lets events gather after it is woken. Without it, every commit
/// wakes each worker for a read and a write; with it, they take what a few milliseconds of
/// commits bring in one go (at 500 orders/s this halves the CPU per order). It is the embedded
/// stand-in for a stream's batching window, and bounds how far the read models trail the log.
pub(crate) const FEED_COALESCE: Duration = Duration::from_millis(10);

/// The waits of one change-feed worker.
pub(crate) struct FeedPace {
    head: watch::Receiver<i64>,
    shutdown: watch::Receiver<bool>,
    first: Duration,
    cap: Duration,
    backoff: Duration,
}

impl FeedPace {
    /// `head` changes on every commit; a failed pass waits `first`, doubling up to `cap`.
    pub(crate) fn new(
        head: watch::Receiver<i64>,
        shutdown: watch::Receiver<bool>,
        first: Duration,
        cap: Duration,
    ) -> Self {
        Self {
            head,
            shutdown,
            first,
            cap,
            backoff: first,
        }
    }

    /// Call before reading the feed: commits from now on wake [`Self::next_commits`].
    pub(crate) fn mark(&mut self) {
        self.head.mark_unchanged();
    }

    /// A pass succeeded: the next failure waits the first backoff again.
    pub(crate) fn succeeded(&mut self) {
        self.backoff = self.first;
    }

    /// A pass failed: waits the backoff and doubles it. `false` when the worker must stop.
    pub(crate) async fn failed(&mut self) -> bool {
        tokio::select! {
            () = tokio::time::sleep(self.backoff) => {}
            _ = self.shutdown.changed() => return false,
        }
        self.backoff = (self.backoff * 2).min(self.cap);
        true
    }

    /// The feed is drained: waits for new commits, then lets more gather. `false` when the
    /// worker must stop.
    pub(crate) async fn next_commits(&mut self) -> bool {
        tokio::select! {
            _ = self.head.changed() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = self.shutdown.changed() => return false,
        }
        tokio::time::sleep(FEED_COALESCE).await;
        true
    }
}
