//! How many workflow executions the local runner runs at once: a fixed number, or a number that
//! follows how long the tasks take (an adaptive limit, in the manner of TCP Vegas and Netflix's
//! concurrency-limits).
//!
//! The embedded host runs a fixed number: its tasks' writes wait for one writer, which commits
//! every job waiting together, so more executions at once cost less each. `serve --backend aws`
//! runs an adaptive number. Its tasks call a remote backend, and a backend that is saturated
//! (an emulator on one interpreter, a throttled table whose retries show as latency) only queues
//! what it is sent: every request in flight waits behind every other, the API's among them.
//! There, executions beyond what the backend serves add latency and no throughput: on moto,
//! capping them at 1–4 instead of 256 halved the POST's p50 for about as many orders a
//! second (BENCHMARKS.md, thirty-sixth part). A fixed small cap would cap the host's throughput on a
//! backend that is not saturated, such as DynamoDB itself; the adaptive limit grows there.
//!
//! The rule: each task's latency is set against the least that task took lately at the
//! limit's floor (its baseline). While the tasks' smoothed latency ratio stays low and the executions use the
//! whole limit, the limit grows by one a task (doubling a round); once it is above
//! [`HIGH`], the limit is cut to [`CUT`] of itself, at most once a round, so the tasks already
//! in flight under the old limit are not counted twice. It stays between its bounds. An
//! execution counts against it for [`HOLD`] at most, so one whose call hangs does not hold up
//! the executions behind it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many executions the runner runs at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// Always up to this many.
    Fixed(usize),
    /// From `min` to `max`, as the tasks' latency allows; it starts at `min`.
    Adaptive { min: usize, max: usize },
}

impl Concurrency {
    /// A host whose tasks call a remote backend (`serve --backend aws`).
    pub const REMOTE: Self = Self::Adaptive { min: 2, max: 256 };
}

impl From<usize> for Concurrency {
    fn from(n: usize) -> Self {
        Self::Fixed(n)
    }
}

/// Smoothed latency ratio above which the limit is cut: tasks taking twice their baseline.
pub const HIGH: f64 = 2.0;
/// Below this, the limit may grow.
pub const LOW: f64 = 1.5;
/// What a cut leaves of the limit.
pub const CUT: f64 = 0.7;
/// Weight of a new ratio in the smoothed one.
const ALPHA: f64 = 0.2;
/// Added to a latency and its baseline before they are compared, so that the jitter of tasks
/// that take well under a millisecond is not read as queueing.
const SLACK_S: f64 = 0.002;
/// How long an execution counts against the adaptive limit: one that holds its slot longer
/// (a call that hangs until its task's 30 s timeout) gives it up, so the executions behind it
/// are not held up. Tasks on a saturated emulator take a few hundred milliseconds at most.
pub const HOLD: Duration = Duration::from_secs(1);
/// Samples of one task, taken at the limit's floor, per baseline window: the baseline is the
/// least of the last two windows, so it can rise again within two.
const WINDOW: u32 = 256;

/// The least latency of one task over its last two windows.
///
/// A window counts only the samples taken while the limit was at its floor: latency there is
/// the least this host can make it, so if that rose (the backend got slower, or busy with
/// other clients' work) the baseline rises with it. Samples taken above the floor lower the
/// baseline but never end a window: a baseline that rose with the load this host itself adds
/// would let the limit climb with it, each step making the next look normal.
#[derive(Debug)]
struct Baseline {
    task: Box<str>,
    current: f64,
    previous: f64,
    seen: u32,
}

impl Baseline {
    fn observe(&mut self, took: f64, at_floor: bool) -> f64 {
        if at_floor && self.seen == WINDOW {
            self.previous = self.current;
            self.current = took;
            self.seen = 0;
        } else {
            self.current = self.current.min(took);
        }
        if at_floor {
            self.seen += 1;
        }
        self.current.min(self.previous)
    }
}

/// The adaptive limit's state: pure arithmetic over samples, no clock.
#[derive(Debug)]
pub(crate) struct Control {
    min: f64,
    max: f64,
    limit: f64,
    ratio: Option<f64>,
    since_cut: u32,
    baselines: Vec<Baseline>,
}

impl Control {
    pub(crate) fn new(min: usize, max: usize) -> Self {
        // Limits are a few hundred at most: exact in an f64.
        let count = |n: usize| f64::from(u32::try_from(n).unwrap_or(u32::MAX));
        let min = count(min.max(1));
        Self {
            min,
            max: count(max).max(min),
            limit: min,
            ratio: None,
            since_cut: 0,
            baselines: Vec::new(),
        }
    }

    /// The limit as a number of executions.
    pub(crate) fn limit(&self) -> usize {
        // In [1, max]: the cast cannot lose anything that matters.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = self.limit.floor() as usize;
        n
    }

    /// The smoothed latency ratio so far.
    pub(crate) fn ratio(&self) -> Option<f64> {
        self.ratio
    }

    /// One task took `took`, while `in_use` executions (its own included) held a slot.
    pub(crate) fn observe(&mut self, task: &str, took: Duration, in_use: usize) {
        let took = took.as_secs_f64();
        let at_floor = self.limit <= self.min;
        let base = if let Some(b) = self.baselines.iter_mut().find(|b| &*b.task == task) {
            b.observe(took, at_floor)
        } else {
            self.baselines.push(Baseline {
                task: task.into(),
                current: took,
                previous: f64::INFINITY,
                seen: u32::from(at_floor),
            });
            took
        };
        let sample = (took + SLACK_S) / (base + SLACK_S);
        let ratio = match self.ratio {
            Some(r) => r + ALPHA * (sample - r),
            None => sample,
        };
        self.ratio = Some(ratio);
        self.since_cut = self.since_cut.saturating_add(1);
        if ratio > HIGH {
            if f64::from(self.since_cut) >= self.limit {
                self.limit = (self.limit * CUT).max(self.min);
                self.since_cut = 0;
            }
        } else if ratio < LOW && in_use >= self.limit() {
            self.limit = (self.limit + 1.0).min(self.max);
        }
    }
}

/// The runner's execution slots: a semaphore whose permits follow the limit.
pub(crate) struct Slots {
    semaphore: Arc<Semaphore>,
    adaptive: Option<Mutex<Adaptive>>,
}

struct Adaptive {
    control: Control,
    /// Permits the semaphore was given in all.
    granted: usize,
    /// Permits to forget when they come back (the limit fell below what was in use).
    debt: usize,
    in_use: usize,
}

/// An execution's slot, given back when dropped.
pub(crate) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<Slots>,
}

impl Slots {
    pub(crate) fn new(concurrency: Concurrency) -> Arc<Self> {
        let (permits, adaptive) = match concurrency {
            Concurrency::Fixed(n) => (n, None),
            Concurrency::Adaptive { min, max } => {
                let control = Control::new(min, max);
                let granted = control.limit();
                let adaptive = Adaptive {
                    control,
                    granted,
                    debt: 0,
                    in_use: 0,
                };
                (granted, Some(Mutex::new(adaptive)))
            }
        };
        order_app::metrics::execution_limit(permits);
        Arc::new(Self {
            semaphore: Arc::new(Semaphore::new(permits)),
            adaptive,
        })
    }

    /// Waits for a slot; `None` once the semaphore is closed.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Option<Slot> {
        let permit = Arc::clone(&self.semaphore).acquire_owned().await.ok()?;
        if let Some(adaptive) = &self.adaptive
            && let Ok(mut a) = adaptive.lock()
        {
            a.in_use += 1;
        }
        Some(Slot {
            permit: Some(permit),
            slots: Arc::clone(self),
        })
    }

    /// Whether the limit follows the tasks' latency (only then is timing them of use).
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// One task of an execution holding a slot took `took`.
    pub(crate) fn observe(&self, task: &str, took: Duration) {
        let Some(adaptive) = &self.adaptive else {
            return;
        };
        let Ok(mut a) = adaptive.lock() else {
            return;
        };
        let in_use = a.in_use;
        a.control.observe(task, took, in_use);
        let limit = a.control.limit();
        match limit.cmp(&a.granted) {
            std::cmp::Ordering::Greater => {
                let more = limit - a.granted;
                // Owed permits are cancelled first: they were never forgotten.
                let cancelled = more.min(a.debt);
                a.debt -= cancelled;
                self.semaphore.add_permits(more - cancelled);
            }
            std::cmp::Ordering::Less => {
                let fewer = a.granted - limit;
                let forgotten = self.semaphore.forget_permits(fewer);
                a.debt += fewer - forgotten;
            }
            std::cmp::Ordering::Equal => return,
        }
        tracing::debug!(
            from = a.granted,
            to = limit,
            ratio = a.control.ratio().unwrap_or(1.0),
            "execution limit changed"
        );
        a.granted = limit;
        order_app::metrics::execution_limit(limit);
    }

    /// Where the adaptive limit stands (`None` when the number is fixed).
    #[cfg(test)]
    pub(crate) fn limit(&self) -> Option<usize> {
        let adaptive = self.adaptive.as_ref()?;
        adaptive.lock().ok().map(|a| a.granted)
    }
}

/// Runs `work` holding `slot`, which is given back when `work` ends or, on an adaptive limit,
/// after [`HOLD`], whichever comes first. `work` comes boxed: held inline, an execution's
/// future was stored here three times over (the argument, the pinned local and the awaited
/// one), and the runner's spawned future was 18,000 bytes, copied whole at every spawn.
pub(crate) async fn holding<F: Future + ?Sized>(slot: Slot, mut work: Pin<Box<F>>) -> F::Output {
    if !slot.slots.is_adaptive() {
        let out = work.await;
        drop(slot);
        return out;
    }
    tokio::select! {
        out = &mut work => out,
        () = tokio::time::sleep(HOLD) => {
            drop(slot);
            work.await
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let Some(adaptive) = &self.slots.adaptive else {
            return;
        };
        if let Ok(mut a) = adaptive.lock() {
            a.in_use = a.in_use.saturating_sub(1);
            if a.debt > 0 {
                a.debt -= 1;
                permit.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests;
