//! The local runtime: every worker of the pipeline on one tokio runtime around one database.
//!
//! - StartOrderProcessing: OrdersQueue consumer → workflow executions.
//! - The workflow runner (durable executions of both state machines; a RefundRequested on the
//!   rule bus starts the refund's).
//! - Projection workers (order-status, inventory) and the bus-event forwarder, each
//!   reading the change feed from its checkpoint, woken by commits rather than polling.
//! - The sweeper (`order_app::sweep`): re-drives orders stuck in PLACED (a crash between append
//!   and enqueue) and closes orders whose execution died as FAILED, with their refund.
//!
//! The consumer, runner and sweeper are generic ([`crate::workers`]); the change-feed
//! workers are the SQLite ones ([`crate::projections`]: projection in the same transaction as
//! the checkpoint; [`crate::forwarder`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use order_app::dispatch::Workflow;
use order_app::gateway::SimulatedGateway;
use order_app::seed::{SeedProduct, seed_inventory};
use order_app::sweep::SweepPolicy;
use order_app::vault::CachedKeys;
use order_domain::Email;
use order_domain::ports::{PortError, StoreError};
use order_embedded::db::{Db, DbError, Durability};
use order_embedded::idempotency::SqliteIdempotency;
use order_embedded::keys::{KeysError, SqliteKeys};
use order_embedded::outbox::OutboxNotifier;
use order_embedded::queue::SqliteQueue;
use order_embedded::read_models::{ProjectionMemory, SqliteReadModels};
use order_embedded::store::SqliteEventStore;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::bus::LocalBus;
use crate::forwarder::forwarder;
use crate::projections::{PROJECTIONS, ProjectionError, catch_up, projection_worker};
use crate::recent_emails::{RecentEmails, Recording};
use crate::workers::{WithoutLiveExecutions, spawn_queue_pollers, sweeper};
use crate::workflow::{LocalWorkflow, local_workflow};

/// The customers' data keys as the local host shares them: one process owns the data
/// directory, and a forget goes through this cache, so a key may stay cached this long.
pub type LocalKeys = Arc<CachedKeys<SqliteKeys>>;

/// How long the local host keeps a customer's data key in memory.
pub const LOCAL_KEY_CACHE: Duration = Duration::from_mins(10);

/// The embedded host's notifier: the outbox, its latest emails kept for the console.
pub type LocalNotifier = Recording<OutboxNotifier>;

/// How the local pipeline runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub seed: Vec<SeedProduct>,
    /// The topics' email subscriber (NotificationEmailName).
    pub notification_email: Email,
    pub durability: Durability,
    /// Multiplies the state machine's Retry intervals (1.0 = as written; tests use less).
    pub retry_interval_scale: f64,
    /// An order PLACED this long without an execution is re-enqueued.
    pub redrive_after: Duration,
    /// An order VALIDATED or PAID this long, with no running execution, is closed as FAILED.
    pub close_after: Duration,
    pub max_concurrent_executions: usize,
}

impl Config {
    pub fn new(data_dir: PathBuf, seed: Vec<SeedProduct>) -> Self {
        Self {
            data_dir,
            seed,
            notification_email: Email::parse("ops@example.com").unwrap_or_else(|_| unreachable!()),
            durability: Durability::Normal,
            retry_interval_scale: 1.0,
            redrive_after: Duration::from_secs(30),
            close_after: SweepPolicy::DEFAULT_CLOSE_AFTER,
            max_concurrent_executions: 512,
        }
    }
}

/// A running pipeline: its adapters (for the HTTP API) and its workers.
pub struct Pipeline {
    pub db: Db,
    pub store: SqliteEventStore,
    pub queue: SqliteQueue,
    pub idempotency: SqliteIdempotency,
    pub reads: SqliteReadModels,
    pub notifier: LocalNotifier,
    /// The latest emails the notifier sent (the console's list).
    pub recent_emails: RecentEmails,
    pub keys: LocalKeys,
    pub workflow: LocalWorkflow,
    shutdown: watch::Sender<bool>,
    workers: JoinSet<()>,
    /// Held while the pipeline runs: one process per data directory (the event store's
    /// stream cache relies on being the only writer).
    _lock: std::fs::File,
}

impl Pipeline {
    /// Opens the database, seeds the inventory, brings the read models up to date, and starts
    /// every worker. The API can serve as soon as this returns.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::io(&config.data_dir, e))?;
        let lock = lock_data_dir(&config.data_dir)?;
        let db = Db::open(&config.data_dir.join("orders.db"), config.durability)?;
        // The lock makes this the database's only writer: claims still in progress died with
        // the previous process, and their retries need not wait their leases out.
        let idempotency = SqliteIdempotency::new(db.clone());
        idempotency
            .release_claims_of_a_previous_process()
            .await
            .map_err(StartError::Idempotency)?;
        let store = SqliteEventStore::new(db.clone());
        let queue = SqliteQueue::orders(db.clone());
        let recent_emails = RecentEmails::default();
        let notifier = Recording::new(
            OutboxNotifier::new(&config.data_dir.join("outbox"), &config.notification_email)
                .map_err(StartError::Outbox)?,
            recent_emails.clone(),
        );
        let keys: LocalKeys = Arc::new(CachedKeys::new(
            SqliteKeys::open(db.clone(), &config.data_dir)?,
            LOCAL_KEY_CACHE,
        ));
        let added = seed_inventory(&store, &config.seed)
            .await
            .map_err(StartError::Seed)?;
        if added > 0 {
            tracing::info!(added, "seeded inventory");
        }
        // The views the projections write, remembered for their next batch from here on.
        let views = Arc::new(ProjectionMemory::default());
        catch_up(&store, &PROJECTIONS, &views).await?;
        let (workflow, runner) = local_workflow(
            db.clone(),
            (store.clone(), notifier.clone(), keys.clone()),
            config.retry_interval_scale,
            config.max_concurrent_executions,
        )?;
        let (shutdown, rx) = watch::channel(false);
        let mut workers = JoinSet::new();
        workers.spawn(runner.run(rx.clone()));
        workers.spawn(projection_worker(store.clone(), views, rx.clone()));
        let bus = LocalBus {
            store: store.clone(),
            notifier: notifier.clone(),
            keys: keys.clone(),
            refunds: workflow.of(Workflow::RefundProcessing),
        };
        workers.spawn(forwarder(store.clone(), bus, rx.clone()));
        spawn_queue_pollers(&mut workers, &queue, &workflow, &rx);
        let reads = SqliteReadModels::new(db.clone());
        workers.spawn(sweeper(
            WithoutLiveExecutions {
                reads: reads.clone(),
                db: db.clone(),
            },
            (store.clone(), SimulatedGateway, queue.clone()),
            SweepPolicy {
                redrive_after: config.redrive_after,
                close_after: config.close_after,
                batch: SweepPolicy::DEFAULT_BATCH,
            },
            rx,
        ));
        Ok(Self {
            idempotency,
            reads,
            db,
            store,
            queue,
            notifier,
            recent_emails,
            keys,
            workflow,
            shutdown,
            workers,
            _lock: lock,
        })
    }

    /// Stops every worker (executions pause between states) and closes the database.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.workers.join_next().await.is_some() {}
        self.db.close();
    }
}

/// Takes the data directory's lock file (one process per directory), or says which lock is
/// held. Held until the returned file is dropped.
pub fn lock_data_dir(dir: &Path) -> Result<std::fs::File, StartError> {
    let path = dir.join("orders.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StartError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::Locked {
            dir: dir.to_owned(),
            lock: path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(StartError::io(&path, e)),
    }
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another pipeline runs on the directory: two would each cache what the other cannot see.
    #[error("{} is in use by another running pipeline (lock {} is held); stop it first", dir.display(), lock.display())]
    Locked { dir: PathBuf, lock: PathBuf },
    #[error("opening the database: {0}")]
    Db(#[from] DbError),
    #[error("opening the outbox: {0}")]
    Outbox(PortError),
    #[error("releasing the previous process's idempotency claims: {0}")]
    Idempotency(PortError),
    #[error("seeding the inventory: {0}")]
    Seed(StoreError),
    #[error("bringing the read models up to date: {0}")]
    Projections(#[from] ProjectionError),
    #[error("opening the key store: {0}")]
    Keys(#[from] KeysError),
    #[error("the state machine definition: {0}")]
    Definition(#[from] order_workflow::DefinitionError),
}

impl StartError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pipelines on one data directory would each cache what the other cannot see; the
    /// second is refused with a message naming the lock, and starts once the first has stopped.
    #[tokio::test]
    async fn a_second_pipeline_on_the_same_data_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path().to_owned(), vec![]);
        let first = Pipeline::start(config.clone()).await.unwrap();
        let Err(e) = Pipeline::start(config.clone()).await else {
            panic!("a second pipeline started on the same directory");
        };
        assert!(e.to_string().contains("orders.lock"), "{e}");
        first.shutdown().await;
        Pipeline::start(config).await.unwrap().shutdown().await;
    }
}
