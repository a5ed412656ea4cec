//! The local runtime: every worker of the pipeline on one tokio runtime around one database.
//!
//! - StartOrderProcessing: OrdersQueue consumer → workflow executions.
//! - The workflow runner (durable executions).
//! - Projection workers (order-status, inventory) and the terminal-event forwarder, each
//!   reading the change feed from its checkpoint, woken by commits rather than polling.
//! - The sweeper: re-drives orders stuck in PLACED (a crash between append and enqueue).
//! - Alarms: queue depth > 10 and a non-empty DLQ → CriticalAlertsTopic.
//!
//! The consumer, runner, sweeper and alarms are generic ([`crate::workers`]); the change-feed
//! workers here are the SQLite ones (projection in the same transaction as the checkpoint).

use std::path::PathBuf;
use std::time::Duration;

use order_app::notify::terminal_bus_events;
use order_app::seed::{SeedProduct, seed_inventory};
use order_domain::Email;
use order_domain::ports::EventBus;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::bus::LocalBus;
use crate::db::{Db, Durability};
use crate::idempotency::SqliteIdempotency;
use crate::outbox::OutboxNotifier;
use crate::queue::SqliteQueue;
use crate::read_models::{Projection, SqliteReadModels, checkpoint, set_checkpoint};
use crate::store::SqliteEventStore;
use crate::workers::{alarms, queue_consumer, sweeper};
use crate::workflow::{LocalWorkflow, local_workflow};

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
            max_concurrent_executions: 512,
        }
    }
}

const FEED_BATCH: usize = 512;

/// How long a change-feed worker lets events gather after it is woken. Without it, every commit
/// wakes three workers for a read and a write each; with it, they take what a few milliseconds of
/// commits bring in one go (at 500 orders/s this halves the CPU per order). It is the embedded
/// stand-in for a stream's batching window, and bounds how far the read models trail the log.
const FEED_COALESCE: Duration = Duration::from_millis(10);

/// A running pipeline: its adapters (for the HTTP API) and its workers.
pub struct Pipeline {
    pub db: Db,
    pub store: SqliteEventStore,
    pub queue: SqliteQueue,
    pub idempotency: SqliteIdempotency,
    pub reads: SqliteReadModels,
    pub notifier: OutboxNotifier,
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
    pub async fn start(config: Config) -> anyhow_like::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let lock = lock_data_dir(&config.data_dir)?;
        let db = Db::open(&config.data_dir.join("orders.db"), config.durability)?;
        let store = SqliteEventStore::new(db.clone());
        let queue = SqliteQueue::orders(db.clone());
        let notifier =
            OutboxNotifier::new(&config.data_dir.join("outbox"), &config.notification_email)?;
        let added = seed_inventory(&store, &config.seed).await?;
        if added > 0 {
            tracing::info!(added, "seeded inventory");
        }
        catch_up(&store, &PROJECTIONS).await?;
        let (workflow, runner) = local_workflow(
            db.clone(),
            store.clone(),
            notifier.clone(),
            config.retry_interval_scale,
            config.max_concurrent_executions,
        )?;
        let (shutdown, rx) = watch::channel(false);
        let mut workers = JoinSet::new();
        workers.spawn(runner.run(rx.clone()));
        workers.spawn(projection_worker(store.clone(), rx.clone()));
        let bus = LocalBus {
            store: store.clone(),
            notifier: notifier.clone(),
        };
        workers.spawn(forwarder(store.clone(), bus, rx.clone()));
        workers.spawn(queue_consumer(queue.clone(), workflow.clone(), rx.clone()));
        let reads = SqliteReadModels::new(db.clone());
        workers.spawn(sweeper(
            reads.clone(),
            db.clone(),
            queue.clone(),
            config.redrive_after,
            rx.clone(),
        ));
        workers.spawn(alarms(db.clone(), queue.clone(), notifier.clone(), rx));
        Ok(Self {
            idempotency: SqliteIdempotency::new(db.clone()),
            reads,
            db,
            store,
            queue,
            notifier,
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

/// Takes the data directory's lock file, or says which lock is held.
fn lock_data_dir(dir: &std::path::Path) -> anyhow_like::Result<std::fs::File> {
    let path = dir.join("orders.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is in use by another running pipeline (lock {} is held); stop it first",
            dir.display(),
            path.display()
        )
        .into()),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Minimal boxed error for start-up, so the library needs no `anyhow`.
pub mod anyhow_like {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    pub type Result<T> = std::result::Result<T, Error>;
}

/// The read models the change feed keeps.
const PROJECTIONS: [Projection; 2] = [Projection::OrderStatus, Projection::Inventory];

/// Applies everything the feed has past the projections' checkpoints: one read of each batch,
/// and one writer job applying it to every projection (each with its own checkpoint; from the
/// lowest one, a projection steps over what it has already seen).
async fn catch_up(
    store: &SqliteEventStore,
    projections: &[Projection],
) -> anyhow_like::Result<i64> {
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
        let batch = store.read_after(position, FEED_BATCH).await?;
        let Some((last, _)) = batch.last() else {
            return Ok(position);
        };
        position = *last;
        let ps = projections.to_vec();
        // Each projection in its own savepoint: one that cannot apply the batch (a corrupt
        // event) is undone and retried alone, while the other still moves on.
        db.write_statement(move |c| {
            let sql = |e: rusqlite::Error| e.to_string();
            let mut failed = Vec::new();
            for p in &ps {
                c.execute_batch("SAVEPOINT projection").map_err(sql)?;
                match p.apply_batch(c, &batch) {
                    Ok(()) => c.execute_batch("RELEASE projection").map_err(sql)?,
                    Err(e) => {
                        c.execute_batch("ROLLBACK TO projection; RELEASE projection")
                            .map_err(sql)?;
                        failed.push(format!("{}: {e}", p.name()));
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(failed.join("; "))
            }
        })
        .await
        .map_err(|e| format!("projections: {e:?}"))?;
    }
}

/// Keeps the read models: woken by commits, it gathers [`FEED_COALESCE`] of them and applies
/// them to both projections at once (one feed read and one writer job per batch).
async fn projection_worker(store: SqliteEventStore, mut shutdown: watch::Receiver<bool>) {
    let mut head = store.subscribe();
    let mut backoff = Duration::from_millis(50);
    loop {
        head.mark_unchanged();
        match catch_up(&store, &PROJECTIONS).await {
            Ok(_) => backoff = Duration::from_millis(50),
            Err(e) => {
                tracing::error!(error = %e, "projections failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        }
        tokio::select! {
            _ = head.changed() => {}
            // A safety net: events committed by another process on the same file.
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        tokio::time::sleep(FEED_COALESCE).await;
    }
}

/// Terminal events → the bus (rule router) at least once, checkpointed after delivery.
async fn forwarder(
    store: SqliteEventStore,
    bus: LocalBus<SqliteEventStore, OutboxNotifier>,
    mut shutdown: watch::Receiver<bool>,
) {
    const NAME: &str = "terminal-forwarder";
    let db = store.db().clone();
    let mut head = store.subscribe();
    let mut position = db.read(|c| checkpoint(c, NAME)).await.unwrap_or(0);
    let mut backoff = Duration::from_millis(100);
    loop {
        head.mark_unchanged();
        let batch = store.read_after(position, FEED_BATCH).await;
        let delivered = match batch {
            Ok(batch) if batch.is_empty() => None,
            Ok(batch) => {
                let last = batch.last().map_or(position, |(p, _)| *p);
                let records: Vec<_> = batch.into_iter().map(|(_, e)| e).collect();
                match bus.put(terminal_bus_events(&records)).await {
                    Ok(()) => Some(Ok(last)),
                    Err(e) => Some(Err(e.to_string())),
                }
            }
            Err(e) => Some(Err(e.to_string())),
        };
        match delivered {
            Some(Ok(last)) => {
                position = last;
                backoff = Duration::from_millis(100);
                if let Err(e) = db.write(move |c| set_checkpoint(c, NAME, last)).await {
                    tracing::error!(error = ?e, "forwarder checkpoint not saved");
                }
                continue;
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, "forwarding terminal events failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            None => {}
        }
        tokio::select! {
            _ = head.changed() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        tokio::time::sleep(FEED_COALESCE).await;
    }
}

#[cfg(test)]
mod tests {
    use order_read_models::{INVENTORY, ORDER_STATUS};

    use super::*;

    /// A corrupt product event stops the inventory projection, not the order-status one: the
    /// batch is undone for the one projection that cannot apply it, and retried from its
    /// checkpoint, while the other moves on.
    #[tokio::test]
    async fn a_corrupt_event_holds_back_only_the_projection_that_cannot_apply_it() {
        use order_domain::ports::EventStore;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("p.db"), Durability::Normal).unwrap();
        let store = SqliteEventStore::new(db.clone());
        db.write(|c| {
            c.execute(
                "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, \
                 occurred_at, correlation_id, causation_id, payload, prev_hash, hash) \
                 VALUES ('product#P1', 1, '01JX0000000000000000000000', 'ProductAdded', 1, 0, \
                 'c', 'c', '{not json', '0', '0')",
                [],
            )
        })
        .await
        .unwrap();
        let order = order_domain::OrderId::generate();
        let placed =
            order_domain::order::Order::default().place(order_domain::events::OrderPlaced {
                order_id: order,
                customer_id: order_domain::CustomerId::parse("c").unwrap(),
                email: Email::parse("a@example.com").unwrap(),
                items: vec![order_domain::events::OrderLine {
                    product_id: order_domain::ProductId::parse("P1").unwrap(),
                    quantity: order_domain::Quantity::new(1).unwrap(),
                }],
                payment_token: order_domain::PaymentToken::parse("tok_visa").unwrap(),
            });
        let meta = order_domain::EventMeta {
            correlation_id: "c".into(),
            causation_id: "c".into(),
            occurred_at: order_domain::Timestamp::from_millis(1),
        };
        let write = order_app::stream::seal(
            &order.stream(),
            0,
            order_domain::GENESIS_HASH,
            placed.events.iter().map(order_domain::OrderEvent::encode),
            &meta,
        );
        store.append(vec![write]).await.unwrap();

        assert!(catch_up(&store, &PROJECTIONS).await.is_err());
        let (status, inventory) = db
            .read(|c| Ok((checkpoint(c, ORDER_STATUS)?, checkpoint(c, INVENTORY)?)))
            .await
            .unwrap();
        assert_eq!((status, inventory), (2, 0));
        let id = order.to_string();
        let view = db
            .read(move |c| crate::read_models::get_order_view(c, &id))
            .await
            .unwrap();
        assert!(view.is_some(), "the order-status projection moved on");
        db.close();
    }

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
