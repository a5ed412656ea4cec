//! The local host: the HTTP API (the same router the Lambda serves) over the embedded pipeline.
//! `main.rs` parses the command line; [`serve`] is what tests start in-process.

use std::net::SocketAddr;
use std::sync::Arc;

use order_api::auth::{Authenticator, Issuer};
use order_api::{Backend, Guard};
use order_app::place::{IdempotencyKey, Origin, PlaceError, PlaceOrder, Placed, place_order};
use order_app::seed::SeedProduct;
use order_embedded::idempotency::SqliteIdempotency;
use order_embedded::intake::SqliteIntake;
use order_embedded::queue::SqliteQueue;
use order_embedded::read_models::SqliteReadModels;
use order_embedded::store::SqliteEventStore;
use order_runtime::{Config, LocalKeys, Pipeline};
use tokio::net::TcpListener;

pub mod auth;
pub mod aws_host;
mod aws_streams;
pub mod console;
pub mod metrics;
pub mod monitor;
pub mod telemetry;

pub use order_app::seed::DEFAULT_SEED;

/// Counts the orders a previous process left open into this process's backlog, when `guard`
/// admits orders against it (see `order_app::backlog`); a restarted server under load then
/// does not admit a full bound on top of them. A status view that cannot be read is logged, not
/// fatal: the count then starts at zero, as on a fresh start.
pub async fn count_open_orders<R: order_app::ReadModels>(guard: &Guard, reads: &R) {
    if guard.admission.is_none() {
        return;
    }
    match order_app::backlog::open_in(reads).await {
        Ok(open) => order_app::backlog::PROCESS.add(open),
        Err(e) => {
            tracing::warn!(error = %e, "could not count the open orders: the backlog starts at 0");
        }
    }
}

/// Parses a seed file's JSON.
pub fn parse_seed(text: &str) -> anyhow::Result<Vec<SeedProduct>> {
    Ok(serde_json::from_str(text)?)
}

/// The embedded adapters as the API's ports.
pub struct LocalBackend {
    /// The event store and OrdersQueue, which the intake also writes together.
    intake: SqliteIntake,
    idempotency: SqliteIdempotency,
    reads: SqliteReadModels,
    keys: LocalKeys,
}

impl Backend for LocalBackend {
    type Store = SqliteEventStore;
    type Queue = SqliteQueue;
    type Idempotency = SqliteIdempotency;
    type Reads = SqliteReadModels;
    type Keys = LocalKeys;

    fn store(&self) -> &SqliteEventStore {
        &self.intake.store
    }
    fn queue(&self) -> &SqliteQueue {
        &self.intake.queue
    }
    fn idempotency(&self) -> &SqliteIdempotency {
        &self.idempotency
    }
    fn reads(&self) -> &SqliteReadModels {
        &self.reads
    }
    fn keys(&self) -> &LocalKeys {
        &self.keys
    }

    /// The append and the enqueue in one commit ([`SqliteIntake`]).
    async fn place(
        &self,
        request: PlaceOrder,
        idempotency_key: Option<IdempotencyKey<'_>>,
        origin: Origin<'_>,
    ) -> Result<Placed, PlaceError> {
        place_order(
            &self.intake,
            &self.idempotency,
            &self.reads,
            &self.keys,
            request,
            idempotency_key,
            origin,
        )
        .await
    }
}

/// A running local server.
pub struct Server {
    pub addr: SocketAddr,
    pub pipeline: Arc<tokio::sync::Mutex<Option<Pipeline>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// The monitor's samples and alarms.
    pub monitor: Arc<monitor::Monitor>,
    stop_monitor: tokio::sync::watch::Sender<bool>,
    monitor_task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting, finishes in-flight requests, then stops the pipeline's workers.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        let _ = self.stop_monitor.send(true);
        let _ = self.monitor_task.await;
        if let Some(p) = self.pipeline.lock().await.take() {
            p.shutdown().await;
        }
    }
}

/// Starts the pipeline and the HTTP API on `addr` (port 0 picks a free one), accepting the
/// tokens of the data directory's own issuer (created if absent; see [`auth::local_issuer`]).
pub async fn serve(config: Config, addr: SocketAddr) -> anyhow::Result<Server> {
    let issuer = Issuer::load_or_create(&config.data_dir)?;
    let auth = Arc::new(Authenticator::Jwt(issuer.verifier()?));
    serve_with_auth(config, addr, auth).await
}

/// [`serve`], with the callers established by `auth` (no rate limit or shedding).
pub async fn serve_with_auth(
    config: Config,
    addr: SocketAddr,
    auth: Arc<Authenticator>,
) -> anyhow::Result<Server> {
    serve_guarded(config, addr, Guard::auth(auth)).await
}

/// [`serve`], with the order routes guarded by `guard` (sign-in, rate limit, shedding).
pub async fn serve_guarded(
    config: Config,
    addr: SocketAddr,
    guard: Guard,
) -> anyhow::Result<Server> {
    serve_monitored(config, addr, guard, monitor::MonitorOptions::default()).await
}

/// [`serve_guarded`], with the monitor's period and alarm time scale of `monitoring`.
pub async fn serve_monitored(
    config: Config,
    addr: SocketAddr,
    guard: Guard,
    monitoring: monitor::MonitorOptions,
) -> anyhow::Result<Server> {
    // The recorder before the pipeline, so that what its start records (the runner's number
    // of executions at once) is kept.
    let _ = metrics::handle();
    let pipeline = Pipeline::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let backend = Arc::new(LocalBackend {
        intake: SqliteIntake {
            store: pipeline.store.clone(),
            queue: pipeline.queue.clone(),
        },
        idempotency: pipeline.idempotency.clone(),
        reads: pipeline.reads.clone(),
        keys: pipeline.keys.clone(),
    });
    count_open_orders(&guard, &pipeline.reads).await;
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop_monitor, monitor_stopped) = tokio::sync::watch::channel(false);
    let (monitor, monitor_task) = monitor::spawn(
        monitoring,
        pipeline.queue.clone(),
        pipeline.notifier.clone(),
        monitor_stopped,
    );
    // `GET /metrics` beside the API, unguarded like `/health` (see [`metrics`]); the console's
    // page and its operator-only routes (see [`console`]); the monitor's admin routes.
    let console = console::Console {
        reads: pipeline.reads.clone(),
        queue: pipeline.queue.clone(),
        emails: pipeline.recent_emails.clone(),
    };
    let auth = guard.auth.clone();
    let console = console::router(console, auth.clone());
    let app = order_api::guarded_router(backend, guard)
        .merge(metrics::router(pipeline.queue.clone()))
        .merge(console)
        .merge(monitor::router(monitor.clone(), auth));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "http server stopped");
        }
    });
    Ok(Server {
        addr,
        pipeline: Arc::new(tokio::sync::Mutex::new(Some(pipeline))),
        stop,
        task,
        monitor,
        stop_monitor,
        monitor_task,
    })
}
