//! The local runtime's workers that do not depend on the backend: the StartOrderProcessing
//! consumer and the sweeper. The embedded pipeline and `orders serve --backend aws` both run
//! these, each with its own adapters. (The local alarms are the `orders` server's monitor's:
//! they evaluate the business metrics, which only a host with a recorder has.)

use std::time::Duration;

use order_app::start::{StartError, start_order_processing};
use order_app::sweep::{SweepPolicy, Sweeper, sweep};
use order_domain::Timestamp;
use order_domain::order::OrderStatus;
use order_domain::ports::{
    EventStore, OpenOrder, OrderQueue, PaymentGateway, PolledQueue, PortError, StuckOrders,
    WorkflowStarter,
};
use order_embedded::db::Db;
use rusqlite::OptionalExtension;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How many batches StartOrderProcessing's local hosts work on at once, as Lambda's SQS event
/// source does when messages are waiting ("five batches at a time with five concurrent
/// invocations", scaling up from there). One poller alone receives, starts and deletes each
/// batch in turn, three writer round trips in a row while the queue grows behind it: in the
/// closed loop the queue held 3,400 orders while 32 executions ran. Four or eight pollers took
/// completions from 4,391 to 5,114–5,124 orders/s (medians of six alternating rounds), and
/// under a 60 s overload five completed 1.23× the orders one did, with nothing shed
/// (BENCHMARKS.md, "After issue 16, fourteenth part"). A start that hangs holds up only its
/// own poller.
pub const QUEUE_POLLERS: usize = 5;

/// Spawns [`QUEUE_POLLERS`] [`queue_consumer`]s of `queue` into `workers`. The queue hides a
/// received message from the other pollers (its visibility timeout), so each message is
/// started by one of them at a time; a redelivery starts nothing new (the execution's name is
/// the order id).
pub fn spawn_queue_pollers<Q, W>(
    workers: &mut JoinSet<()>,
    queue: &Q,
    workflow: &W,
    shutdown: &watch::Receiver<bool>,
) where
    Q: PolledQueue,
    W: WorkflowStarter + Clone,
{
    for _ in 0..QUEUE_POLLERS {
        workers.spawn(queue_consumer(
            queue.clone(),
            workflow.clone(),
            shutdown.clone(),
        ));
    }
}

/// StartOrderProcessing's local host: receive, start the execution, delete; a failure leaves
/// the message to come back after a backoff (and, after five receives, to go to the DLQ).
pub async fn queue_consumer<Q, W>(queue: Q, workflow: W, mut shutdown: watch::Receiver<bool>)
where
    Q: PolledQueue,
    W: WorkflowStarter + Clone,
{
    loop {
        let messages = tokio::select! {
            m = queue.receive(32) => m,
            _ = shutdown.changed() => return,
        };
        let messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "queue receive failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
        };
        let mut set = JoinSet::new();
        for m in messages {
            let (q, w) = (queue.clone(), workflow.clone());
            set.spawn(async move { handle_message(&q, &w, &m).await.then_some(m) });
        }
        let mut handled = Vec::new();
        while let Some(done) = set.join_next().await {
            handled.extend(done.ok().flatten());
        }
        if handled.is_empty() {
            continue;
        }
        let batch: Vec<&Q::Message> = handled.iter().collect();
        if let Err(e) = queue.delete_batch(&batch).await {
            tracing::warn!(count = batch.len(), error = %e, "delete failed; the messages will be redelivered");
        }
    }
}

/// Starts the message's execution; true when the message is done with and can be deleted.
async fn handle_message<Q: PolledQueue, W: WorkflowStarter>(
    queue: &Q,
    workflow: &W,
    m: &Q::Message,
) -> bool {
    let id = Q::message_id(m);
    match start_order_processing(workflow, Q::body(m)).await {
        Ok(_) => true,
        Err(StartError::Poison(e)) => {
            // Left in the queue: after its receives run out it lands in the DLQ, whose alarm
            // tells a person to look.
            tracing::error!(message_id = %id, error = %e, "malformed message");
            let _ = queue.retry_after(m, 30_000).await;
            false
        }
        Err(StartError::Workflow(e)) => {
            tracing::warn!(message_id = %id, error = %e, "start failed; will retry");
            let delay = 100 * (1_i64 << Q::receive_count(m).min(10));
            let _ = queue.retry_after(m, delay).await;
            false
        }
    }
}

/// The sweeper's loop: `order_app::sweep` every `policy.redrive_after / 3` (between 100 ms
/// and 10 s), over this host's open orders less those its workflow runner still drives
/// ([`WithoutLiveExecutions`]).
pub async fn sweeper<R, S, G, Q>(
    reads: WithoutLiveExecutions<R>,
    (store, gateway, queue): (S, G, Q),
    policy: SweepPolicy,
    mut shutdown: watch::Receiver<bool>,
) where
    R: StuckOrders,
    S: EventStore,
    G: PaymentGateway,
    Q: OrderQueue,
{
    let every =
        (policy.redrive_after / 3).clamp(Duration::from_millis(100), Duration::from_secs(10));
    let ports = Sweeper {
        reads: &reads,
        store: &store,
        gateway: &gateway,
        queue: &queue,
    };
    loop {
        if let Err(e) = sweep(ports, &policy, Timestamp::now()).await {
            tracing::error!(error = %e, "sweep failed");
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The open orders of `reads` less those the local workflow runner still drives (a RUNNING
/// execution): its executions are durable and run again after a restart, so the runner
/// finishes them itself. An order whose execution ended without ending it is the sweeper's,
/// PLACED ones included: an execution that failed before ValidateOrder could append (the log
/// unavailable through every retry) leaves the order PLACED under a name a redrive cannot
/// start again, so only the sweeper's close, past its limit, ends it. (Until then its redrives
/// start nothing: a few messages on a path that needed the log to fail.)
///
/// A PLACED order with no execution at all is never closed here ([`StuckOrders::closable`]):
/// its message is on OrdersQueue for this host's consumer to start (a server stopped for
/// longer than the close limit finds its queued orders that old when it starts again), or, if
/// its enqueue was lost, the redrive puts it back. Closed, it would fail for the host's
/// downtime.
#[derive(Clone)]
pub struct WithoutLiveExecutions<R> {
    pub reads: R,
    /// The database of the runner's `executions`.
    pub db: Db,
}

impl<R: StuckOrders> StuckOrders for WithoutLiveExecutions<R> {
    async fn open_unchanged_since(
        &self,
        statuses: &[OrderStatus],
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OpenOrder>, PortError> {
        let open = self
            .reads
            .open_unchanged_since(statuses, before, limit)
            .await?;
        self.db
            .read(move |c| {
                let mut s = c.prepare_cached("SELECT status FROM executions WHERE name = ?1")?;
                let mut kept = Vec::with_capacity(open.len());
                for order in open {
                    let execution: Option<String> = s
                        .query_row([order.order_id.to_string()], |r| r.get(0))
                        .optional()?;
                    if execution.as_deref() != Some("RUNNING") {
                        kept.push(order);
                    }
                }
                Ok::<_, rusqlite::Error>(kept)
            })
            .await
            .map_err(|e| PortError(format!("the runner's executions: {e}")))
    }

    async fn closable(&self, orders: Vec<OpenOrder>) -> Result<Vec<OpenOrder>, PortError> {
        let orders = self.reads.closable(orders).await?;
        self.db
            .read(move |c| {
                let mut s = c.prepare_cached("SELECT 1 FROM executions WHERE name = ?1")?;
                let mut kept = Vec::with_capacity(orders.len());
                for order in orders {
                    let started = order.status != OrderStatus::Placed
                        || s.exists([order.order_id.to_string()])?;
                    if started {
                        kept.push(order);
                    }
                }
                Ok::<_, rusqlite::Error>(kept)
            })
            .await
            .map_err(|e| PortError(format!("the runner's executions: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use order_embedded::db::Durability;
    use rusqlite::params;

    /// A fixed answer, as a read model would give it.
    #[derive(Clone)]
    struct Fixed(Vec<OpenOrder>);

    impl StuckOrders for Fixed {
        async fn open_unchanged_since(
            &self,
            _: &[OrderStatus],
            _: Timestamp,
            _: usize,
        ) -> Result<Vec<OpenOrder>, PortError> {
            Ok(self.0.clone())
        }
    }

    /// The sweeper leaves what the local runner still drives: any order with a RUNNING
    /// execution. An order whose execution ended without ending it is the sweeper's to close,
    /// a PLACED one too (its name cannot be started again, so nothing else would end it); a
    /// PLACED one never started is only ever redriven.
    #[tokio::test]
    async fn the_sweeper_leaves_the_orders_the_local_runner_still_drives() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("x.db"), Durability::Normal).unwrap();
        let open = |status| OpenOrder {
            order_id: order_domain::OrderId::generate(),
            status,
            since: Timestamp::from_millis(1),
        };
        let [
            never_started,
            placed_done,
            validated_running,
            validated_done,
        ] = [
            open(OrderStatus::Placed),
            open(OrderStatus::Placed),
            open(OrderStatus::Validated),
            open(OrderStatus::Validated),
        ];
        for (order, status) in [
            (placed_done, "FAILED"),
            (validated_running, "RUNNING"),
            (validated_done, "SUCCEEDED"),
        ] {
            let name = order.order_id.to_string();
            db.write(move |c| {
                c.execute(
                    "INSERT INTO executions (name, status, data, input, started_at, updated_at) \
                     VALUES (?1, ?2, '{}', '{}', 0, 0)",
                    params![name, status],
                )
            })
            .await
            .unwrap();
        }
        let reads = WithoutLiveExecutions {
            reads: Fixed(vec![
                never_started,
                placed_done,
                validated_running,
                validated_done,
            ]),
            db: db.clone(),
        };
        let kept = reads
            .open_unchanged_since(&[], Timestamp::now(), 10)
            .await
            .unwrap();
        assert_eq!(kept, vec![never_started, placed_done, validated_done]);
        // Past the close limit, a PLACED order never started is its queued message's (the
        // consumer starts it, or the redrive puts it back): only the one whose execution
        // ended is closed.
        let closable = reads.closable(kept).await.unwrap();
        assert_eq!(closable, vec![placed_done, validated_done]);
        db.close();
    }
}
