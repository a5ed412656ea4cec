//! `orders serve --backend aws`: the local runtime against real AWS resources (or an
//! emulator through `AWS_ENDPOINT_URL`). The HTTP API, the StartOrderProcessing consumer (SQS),
//! the workflow runner (both state machines) and the sweeper are the same workers the embedded
//! pipeline runs, and the monitor (samples, local alarms emailing through SNS) is `orders
//! serve`'s; DynamoDB Streams pollers stand in for the event source mappings and feed the same
//! projector the Lambdas run, and the order events it forwards go through the local rule router
//! to their targets: the handlers, which email through SNS, and a requested refund's execution.
//!
//! The runner's executions and the stream consumers' positions are the local runtime's own
//! bookkeeping (as Step Functions and the event source mappings keep theirs), so they live in
//! `<data-dir>/aws-runner.db`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use order_app::dispatch::Workflow;
use order_app::gateway::SimulatedGateway;
use order_app::seed::{SeedProduct, seed_inventory};
use order_app::sweep::SweepPolicy;
use order_app::vault::CachedKeys;
use order_aws::{
    AwsBackend, AwsClients, AwsKeys, AwsResources, DynamoDedup, DynamoEventStore,
    DynamoIdempotency, DynamoKeys, DynamoReadModels, InventoryTable, KEY_CACHE_TTL,
    OrderStatusTable, Projector, SnsNotifier, SqsPolled, Target, TopicArns,
};
use order_embedded::db::{Db, Durability};
use order_embedded::stream_positions::StreamPositions;
use order_runtime::Concurrency;
use order_runtime::bus::LocalBus;
use order_runtime::recent_emails::{RecentEmails, Recording};
use order_runtime::workers::{WithoutLiveExecutions, spawn_queue_pollers, sweeper};
use order_runtime::workflow::local_workflow;
use tokio::net::TcpListener;

use crate::aws_streams::{
    Consumer, StreamConsumer, project_until_caught_up, resumed_poller, stream_worker,
};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The stream consumers' names, as their positions are saved.
const INVENTORY: &str = "inventory";
const ORDER_STATUS: &str = "order-status";
const ROUTER: &str = "router";

/// How `serve --backend aws` runs.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Create missing tables, streams, queues and topics (named with `prefix`) first.
    pub provision: bool,
    pub prefix: String,
    pub data_dir: std::path::PathBuf,
    pub seed: Vec<SeedProduct>,
    pub retry_interval_scale: f64,
    pub redrive_after: Duration,
    /// How the API establishes its callers.
    pub guard: order_api::Guard,
    /// The monitor's sampling period and alarm time scale.
    pub monitor: crate::monitor::MonitorOptions,
}

/// A running `serve --backend aws`.
pub struct AwsServer {
    pub addr: SocketAddr,
    pub resources: AwsResources,
    shutdown: watch::Sender<bool>,
    workers: JoinSet<()>,
    db: Db,
}

impl AwsServer {
    /// Stops the HTTP server and every worker, then closes the local database.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.workers.join_next().await.is_some() {}
        self.db.close();
    }
}

/// The AWS adapters the local workers and the API use, from the resources' names.
struct Adapters {
    store: DynamoEventStore,
    reads: DynamoReadModels,
    notifier: SnsNotifier,
    queue: SqsPolled,
    keys: AwsKeys,
    idempotency: DynamoIdempotency,
}

fn adapters(clients: &AwsClients, resources: &AwsResources) -> Adapters {
    let store = DynamoEventStore::new(clients.dynamodb().clone(), &resources.events_table);
    let reads = DynamoReadModels::new(
        clients.dynamodb(),
        &resources.order_status_table,
        &resources.inventory_table,
    );
    let notifier = SnsNotifier::new(
        clients.sns().clone(),
        TopicArns {
            order_alerts: Some(resources.order_alerts_topic_arn.clone()),
            order_errors: Some(resources.order_errors_topic_arn.clone()),
            critical_alerts: Some(resources.critical_alerts_topic_arn.clone()),
        },
        DynamoDedup::new(
            clients.dynamodb().clone(),
            &resources.notification_dedup_table,
        ),
    );
    let queue = SqsPolled::new(
        clients.sqs().clone(),
        &resources.orders_queue_url,
        resources.dead_letter_queue_url.clone(),
    );
    let keys: AwsKeys = std::sync::Arc::new(CachedKeys::beside_others(
        DynamoKeys::new(
            clients.dynamodb().clone(),
            clients.kms().clone(),
            &resources.customer_keys_table,
            &resources.kms_key_id,
        ),
        KEY_CACHE_TTL,
    ));
    let idempotency =
        DynamoIdempotency::new(clients.dynamodb().clone(), &resources.idempotency_table);
    Adapters {
        store,
        reads,
        notifier,
        queue,
        keys,
        idempotency,
    }
}

/// The resources `options` name: provisioned, or from the contract's environment. The
/// environment does not name OrdersQueue's DLQ (no Lambda reads it), so it is found from the
/// queue's redrive policy, as `orders dlq` finds it: the console lists its dead letters and
/// `/metrics` counts them.
async fn resources(clients: &AwsClients, options: &AwsOptions) -> anyhow::Result<AwsResources> {
    if options.provision {
        return order_aws::provision::provision(clients, &options.prefix)
            .await
            .context("provisioning AWS resources");
    }
    let mut resources =
        AwsResources::from_env().context("reading the resource names (or pass --provision)")?;
    if resources.dead_letter_queue_url.is_none() {
        // Not fatal: the pipeline runs without it; only the console and the gauge miss the DLQ.
        match order_aws::dead_letters::dead_letter_queue_of(
            clients.sqs(),
            &resources.orders_queue_url,
        )
        .await
        {
            Ok(url) => resources.dead_letter_queue_url = url,
            Err(e) => tracing::warn!(
                error = %e,
                "could not read OrdersQueue's redrive policy: its dead letters are not shown"
            ),
        }
    }
    Ok(resources)
}

/// The local runner's own database (workflow executions, stream positions) in `data_dir`.
fn runner_db(data_dir: &std::path::Path) -> anyhow::Result<Db> {
    std::fs::create_dir_all(data_dir)?;
    Db::open(&data_dir.join("aws-runner.db"), Durability::Normal)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Starts everything; the API listens on `addr`.
pub async fn serve_aws(options: AwsOptions, addr: SocketAddr) -> anyhow::Result<AwsServer> {
    // The recorder before the runner, whose limit is a gauge from its start.
    let _ = crate::metrics::handle();
    let clients = AwsClients::load().await?;
    let resources = resources(&clients, &options).await?;
    let Adapters {
        store,
        reads,
        notifier,
        queue,
        keys,
        idempotency,
    } = adapters(&clients, &resources);
    // The console's latest emails: what SNS accepted, kept in memory.
    let emails = RecentEmails::default();
    let notifier = Recording::new(notifier, emails.clone());
    let added = seed_inventory(&store, &options.seed)
        .await
        .context("seeding the inventory")?;
    tracing::info!(added, "seeded inventory");
    let db = runner_db(&options.data_dir)?;
    let positions = StreamPositions::new(db.clone());
    let (order_status, inventory) = projectors(&clients, &resources, &store);
    let consumer = |name, handler| Consumer {
        name,
        handler,
        positions: positions.clone(),
    };
    let poller = |name| resumed_poller(&clients, &resources.events_table, &positions, name);
    let mut inventory_poller = poller(INVENTORY).await?;
    let inventory = consumer(INVENTORY, StreamConsumer::Project(inventory));
    project_until_caught_up(&mut inventory_poller, &inventory).await?;

    let (workflow, runner) = local_workflow(
        db.clone(),
        (store.clone(), notifier.clone(), keys.clone()),
        options.retry_interval_scale,
        // Executions beyond what the backend serves only queue there, ahead of the API's
        // calls: their number follows the tasks' latency (`order_runtime::limit`).
        Concurrency::REMOTE,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (shutdown, rx) = watch::channel(false);
    let mut workers = JoinSet::new();
    workers.spawn(runner.run(rx.clone()));
    let refunds = workflow.of(Workflow::RefundProcessing);
    spawn_queue_pollers(&mut workers, &queue, &workflow, &rx);
    workers.spawn(sweeper(
        WithoutLiveExecutions {
            reads: reads.clone(),
            db: db.clone(),
        },
        (store.clone(), SimulatedGateway, queue.clone()),
        SweepPolicy {
            redrive_after: options.redrive_after,
            ..SweepPolicy::default()
        },
        rx.clone(),
    ));
    workers.spawn(stream_worker(inventory_poller, inventory, rx.clone()));
    workers.spawn(stream_worker(
        poller(ORDER_STATUS).await?,
        consumer(ORDER_STATUS, StreamConsumer::Project(order_status)),
        rx.clone(),
    ));
    let router = LocalBus {
        store: store.clone(),
        notifier: notifier.clone(),
        keys: keys.clone(),
        refunds,
    };
    workers.spawn(stream_worker(
        poller(ROUTER).await?,
        consumer(ROUTER, StreamConsumer::Route(router)),
        rx.clone(),
    ));

    // `GET /metrics` beside the API, its queue gauges from OrdersQueue and its DLQ; the
    // console, its dead letters OrdersQueue's DLQ; the monitor's admin routes, its alarms
    // emailing through SNS.
    let (monitor, monitor_task) =
        crate::monitor::spawn(options.monitor, queue.clone(), notifier.clone(), rx.clone());
    workers.spawn(async move {
        let _ = monitor_task.await;
    });
    let console = crate::console::Console {
        reads: reads.clone(),
        queue: queue.clone(),
        emails,
    };
    let extra = crate::metrics::router(queue.clone())
        .merge(crate::console::router(console, options.guard.auth.clone()))
        .merge(crate::monitor::router(monitor, options.guard.auth.clone()));
    let backend = AwsBackend {
        store,
        queue: queue.queue().clone(),
        idempotency,
        reads,
        keys,
    };
    let addr = spawn_api(&mut workers, (backend, extra), options.guard, addr, rx).await?;
    Ok(AwsServer {
        addr,
        resources,
        shutdown,
        workers,
        db,
    })
}

/// Serves the shared HTTP API over `backend`, and the host's own routes (`/metrics`, the
/// console), until `stop` changes.
async fn spawn_api(
    workers: &mut JoinSet<()>,
    (backend, metrics): (AwsBackend, axum::Router),
    guard: order_api::Guard,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<SocketAddr> {
    crate::count_open_orders(&guard, &backend.reads).await;
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = order_api::guarded_router(Arc::new(backend), guard).merge(metrics);
    workers.spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "http server stopped");
        }
    });
    Ok(addr)
}

/// The two projectors the Lambdas run, here fed by local stream pollers.
fn projectors(
    clients: &AwsClients,
    resources: &AwsResources,
    store: &DynamoEventStore,
) -> (Projector, Projector) {
    let dynamodb = || clients.dynamodb().clone();
    (
        Projector::new(
            store.clone(),
            Target::OrderStatus(OrderStatusTable::new(
                dynamodb(),
                &resources.order_status_table,
            )),
        ),
        Projector::new(
            store.clone(),
            Target::Inventory(InventoryTable::new(dynamodb(), &resources.inventory_table)),
        ),
    )
}
