//! The local runtime's workers that do not depend on the backend: the StartOrderProcessing
//! consumer, the sweeper and the alarms. The embedded pipeline and `orders serve --backend
//! aws` both run these, each with its own adapters.

use std::time::Duration;

use order_app::start::{StartError, start_order_processing};
use order_app::sweep::{SweepPolicy, Sweeper, sweep};
use order_domain::Timestamp;
use order_domain::order::OrderStatus;
use order_domain::ports::{
    EventStore, Notification, Notifier, OpenOrder, OrderQueue, PaymentGateway, PolledQueue,
    PortError, StuckOrders, Topic, WorkflowStarter,
};
use order_embedded::db::{Db, now_ms};
use rusqlite::{OptionalExtension, params};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Visible messages above which OrdersQueueDepthAlarm fires.
pub const QUEUE_DEPTH_ALARM_THRESHOLD: u64 = 10;

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

/// The open orders of `reads` less those the local workflow runner still drives: its
/// executions are durable and resume after a restart, so the runner finishes them itself. A
/// PLACED order with any execution is left too: starting it again would start nothing (its
/// execution's name is taken), so re-enqueueing it is only noise.
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
                    let driven = match execution.as_deref() {
                        None => false,
                        Some("RUNNING") => true,
                        Some(_) => order.status == OrderStatus::Placed,
                    };
                    if !driven {
                        kept.push(order);
                    }
                }
                Ok::<_, rusqlite::Error>(kept)
            })
            .await
            .map_err(|e| PortError(format!("the runner's executions: {e}")))
    }
}

/// CloudWatch alarms' local stand-ins. An alarm notifies when it enters ALARM, once.
pub async fn alarms<Q: PolledQueue, N: Notifier>(
    db: Db,
    queue: Q,
    notifier: N,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if let Ok((visible, dlq)) = queue.depth().await {
            let checks = [
                (
                    "OrdersQueueDepthAlarm",
                    visible > QUEUE_DEPTH_ALARM_THRESHOLD,
                    format!(
                        "OrdersQueue has {visible} visible messages (threshold {QUEUE_DEPTH_ALARM_THRESHOLD})."
                    ),
                ),
                (
                    "OrdersDeadLetterQueueAlarm",
                    dlq > 0,
                    format!("OrdersDeadLetterQueue holds {dlq} messages."),
                ),
            ];
            for (name, breaching, text) in checks {
                set_alarm(&db, &notifier, name, breaching, text).await;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Records an alarm's state; on entering ALARM, publishes to CriticalAlertsTopic. Returns
/// whether it notified.
pub async fn set_alarm<N: Notifier>(
    db: &Db,
    notifier: &N,
    name: &'static str,
    breaching: bool,
    text: String,
) -> bool {
    let new_state = if breaching { "ALARM" } else { "OK" };
    let changed = db
        .write(move |c| {
            let old: Option<String> = c
                .query_row("SELECT state FROM alarms WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            if old.as_deref().unwrap_or("OK") == new_state {
                return Ok(false);
            }
            c.execute(
                "INSERT INTO alarms (name, state, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET state = ?2, updated_at = ?3",
                params![name, new_state, now_ms()],
            )?;
            Ok::<_, rusqlite::Error>(true)
        })
        .await;
    if !(matches!(changed, Ok(true)) && breaching) {
        return false;
    }
    tracing::warn!(alarm = name, "{text}");
    let n = Notification {
        dedup_id: format!("{name}-{}", ulid::Ulid::generate()),
        subject: format!("ALARM: {name}"),
        body: format!("{text}\n"),
        recipients: vec![],
        trace_parent: None,
    };
    if let Err(e) = notifier.publish(Topic::CriticalAlerts, n).await {
        tracing::error!(error = %e, "could not send alarm");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use order_embedded::db::Durability;
    use order_embedded::outbox::OutboxNotifier;
    use order_embedded::queue::SqliteQueue;

    /// The queue-depth alarm notifies when it enters ALARM, not on every check while it stays
    /// there, and again after it has recovered and breaches anew.
    #[tokio::test]
    async fn an_alarm_notifies_on_entering_alarm_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("a.db"), Durability::Normal).unwrap();
        let ops = order_domain::Email::parse("ops@example.com").unwrap();
        let n = OutboxNotifier::new(&dir.path().join("outbox"), &ops).unwrap();
        let name = "OrdersQueueDepthAlarm";
        assert!(set_alarm(&db, &n, name, true, "deep".into()).await);
        assert!(!set_alarm(&db, &n, name, true, "still deep".into()).await);
        assert!(!set_alarm(&db, &n, name, false, "ok".into()).await);
        assert!(set_alarm(&db, &n, name, true, "deep again".into()).await);
        assert_eq!(n.messages(Topic::CriticalAlerts).len(), 2);
        db.close();
    }

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
    /// execution, and a PLACED order with any execution (starting it again starts nothing).
    /// A VALIDATED order whose execution ended without ending it is the sweeper's to close.
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
        assert_eq!(kept, vec![never_started, validated_done]);
        db.close();
    }

    /// With nobody consuming, eleven orders in the queue breach the depth threshold.
    #[tokio::test]
    async fn eleven_waiting_messages_breach_the_queue_depth_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db"), Durability::Normal).unwrap();
        let q = SqliteQueue::orders(db.clone());
        for _ in 0..=QUEUE_DEPTH_ALARM_THRESHOLD {
            q.enqueue(order_domain::OrderId::generate()).await.unwrap();
        }
        let (visible, dlq) = PolledQueue::depth(&q).await.unwrap();
        assert!(visible > QUEUE_DEPTH_ALARM_THRESHOLD);
        assert_eq!(dlq, 0);
        db.close();
    }
}
