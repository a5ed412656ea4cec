//! The server's own monitor: every period it samples the business metrics (the Prometheus
//! recorder of [`crate::metrics`]) and the queue's depth, keeps the last 15 minutes for the
//! console's charts (`GET /admin/series`), and evaluates the local alarms
//! (`order_app::alarms`, CloudWatch's rules) over them (`GET /admin/alarms`). A state change
//! into or out of ALARM sends one email to CriticalAlertsTopic through the host's notifier.
//!
//! The samples and the alarms' states live in memory: after a restart the alarms start as
//! INSUFFICIENT_DATA, as a new CloudWatch alarm does, and the charts start empty.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use order_app::alarms::{self, Alarm, Sample, Transition};
use order_domain::Timestamp;
use order_domain::ports::{Notifier, PolledQueue};
use tokio::sync::watch;

mod routes;
pub mod scrape;

pub use routes::router;

/// How long the series reaches back.
pub const RETENTION: Duration = Duration::from_mins(15);

/// How the monitor runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorOptions {
    /// Time between samples (5 s by default).
    pub period: Duration,
    /// Multiplies the alarms' periods (1.0 = as the template says; tests use 0.01).
    pub alarm_time_scale: f64,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(5),
            alarm_time_scale: 1.0,
        }
    }
}

/// The samples and the alarms, shared by the sampling task and the routes.
pub struct Monitor {
    period: Duration,
    state: Mutex<State>,
}

struct State {
    samples: VecDeque<Sample>,
    alarms: Vec<Alarm>,
}

impl Monitor {
    fn new(options: MonitorOptions) -> Self {
        let now = Timestamp::now();
        let alarms = alarms::definitions()
            .into_iter()
            .map(|d| Alarm::new(d.scaled(options.alarm_time_scale), now))
            .collect();
        Self {
            period: options.period.max(Duration::from_millis(10)),
            state: Mutex::new(State {
                samples: VecDeque::new(),
                alarms,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.state().samples.iter().cloned().collect()
    }

    /// The alarms and their states.
    pub fn alarms(&self) -> Vec<Alarm> {
        self.state().alarms.clone()
    }

    /// Adds `sample` (dropping what is older than [`RETENTION`]) and evaluates every alarm
    /// over the samples; returns the state changes.
    fn record(&self, sample: Sample) -> Vec<Transition> {
        let now = sample.at;
        let mut state = self.state();
        let oldest = now
            .as_millis()
            .saturating_sub(u64::try_from(RETENTION.as_millis()).unwrap_or(u64::MAX));
        state.samples.push_back(sample);
        while state
            .samples
            .front()
            .is_some_and(|s| s.at.as_millis() <= oldest)
        {
            state.samples.pop_front();
        }
        let State { samples, alarms } = &mut *state;
        let samples = samples.make_contiguous();
        alarms
            .iter_mut()
            .filter_map(|a| {
                let points = alarms::datapoints(&a.definition, samples, now);
                a.evaluate(&points, now)
            })
            .collect()
    }
}

/// Starts the monitor's task over `queue` (its depth and dead-letter depth) and `notifier`
/// (the alarms' emails); it stops when `shutdown` changes.
pub fn spawn<Q: PolledQueue, N: Notifier>(
    options: MonitorOptions,
    queue: Q,
    notifier: N,
    shutdown: watch::Receiver<bool>,
) -> (Arc<Monitor>, tokio::task::JoinHandle<()>) {
    let monitor = Arc::new(Monitor::new(options));
    let task = tokio::spawn(run(monitor.clone(), queue, notifier, shutdown));
    (monitor, task)
}

async fn run<Q: PolledQueue, N: Notifier>(
    monitor: Arc<Monitor>,
    queue: Q,
    notifier: N,
    mut shutdown: watch::Receiver<bool>,
) {
    let handle = crate::metrics::handle();
    let mut before = scrape::read(handle.as_ref());
    let mut tick = tokio::time::interval(monitor.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = scrape::read(handle.as_ref());
        let depth = match queue.depth().await {
            Ok(depth) => Some(depth),
            Err(e) => {
                tracing::warn!(error = %e, "monitor: reading the queue's depth failed");
                None
            }
        };
        let d = now.since(&before);
        let sample = Sample {
            at: Timestamp::now(),
            placed: d.placed,
            completed: d.completed,
            failed: d.failed,
            latency: d.latency,
            queue_visible: depth.map(|(visible, _)| visible),
            dead_letters: depth.map(|(_, dead)| dead),
            projection_lag: now.projection_lag,
        };
        before = now;
        for t in monitor.record(sample) {
            announce(&notifier, &t).await;
        }
    }
}

/// Logs a state change and sends its email when it enters or leaves ALARM.
async fn announce<N: Notifier>(notifier: &N, t: &Transition) {
    if !alarms::notifies(t) {
        tracing::info!(
            alarm = t.name,
            from = t.from.as_str(),
            to = t.to.as_str(),
            "alarm state changed"
        );
        return;
    }
    tracing::warn!(
        alarm = t.name,
        from = t.from.as_str(),
        to = t.to.as_str(),
        reason = %t.reason,
        "alarm state changed"
    );
    if let Err(e) = alarms::notify(notifier, t).await {
        tracing::error!(alarm = t.name, error = %e, "could not send the alarm's email");
    }
}
