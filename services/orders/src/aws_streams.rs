//! The DynamoDB Streams consumers of `serve --backend aws`: pollers standing in for the event
//! source mappings, feeding the projectors and the bus-event router.
//!
//! Each consumer's positions (per shard, the last record handled) are saved in the host's
//! bookkeeping database after each batch ([`StreamPositions`]), and a restarted consumer
//! resumes just after them: a restart neither replays the retained stream nor re-routes its
//! bus events. At least once: a crash between handling a batch and saving its positions
//! hands that batch out again, and only that one.

use std::time::Duration;

use order_app::forward::{forward_events, is_forwarded};
use order_aws::projector::ChangeRecord;
use order_aws::{
    AwsClients, AwsKeys, DynamoEventStore, Projector, SnsNotifier, StartPosition, StreamPoller,
    handled_positions,
};
use order_embedded::stream_positions::StreamPositions;
use order_runtime::bus::LocalBus;
use order_runtime::recent_emails::Recording;
use tokio::sync::watch;

/// A poller of `table`'s stream for `consumer`, resuming where that consumer stopped.
pub async fn resumed_poller(
    clients: &AwsClients,
    table: &str,
    positions: &StreamPositions,
    consumer: &str,
) -> anyhow::Result<StreamPoller> {
    let saved = positions
        .load(consumer)
        .await
        .map_err(|e| anyhow::anyhow!("reading the stream positions of {consumer}: {e}"))?;
    tracing::info!(consumer, shards = saved.len(), "stream consumer resumes");
    Ok(StreamPoller::new(clients, table, StartPosition::TrimHorizon).resume_after(saved))
}

/// A named consumer and where it saves its positions.
pub struct Consumer {
    pub name: &'static str,
    pub handler: StreamConsumer,
    pub positions: StreamPositions,
}

impl Consumer {
    /// Handles `records`, saves how far each shard got, and returns the sequence numbers to
    /// hand out again.
    async fn handle(&self, records: &[ChangeRecord]) -> Vec<String> {
        let failed = self.handler.handle(records).await;
        let handled = handled_positions(records, &failed);
        if let Err(e) = self.positions.save(self.name, handled).await {
            // Not fatal: the positions stay behind, and a restart re-handles from there.
            tracing::warn!(consumer = self.name, error = %e, "saving stream positions failed");
        }
        failed
    }
}

/// Applies what a stream poller has, until it is caught up (the inventory must be projected
/// before the API can check products).
pub async fn project_until_caught_up(
    poller: &mut StreamPoller,
    consumer: &Consumer,
) -> anyhow::Result<()> {
    loop {
        let records = poller.poll().await?;
        if records.is_empty() {
            return Ok(());
        }
        let failed = consumer.handle(&records).await;
        if !failed.is_empty() {
            anyhow::bail!("{}: projecting the stream failed", consumer.name);
        }
    }
}

/// How often a consumer polls the stream: the pace of Lambda's event source mapping, which
/// polls each shard of a DynamoDB stream four times a second. A batch then holds what a quarter
/// second brought, as the event projector's invocations do on AWS, so several appends of one
/// order make one put of its view instead of one each (BENCHMARKS.md, "After issue 16, tenth
/// part"). A consumer that is behind (a batch as large as a GetRecords call gives) polls again
/// at once.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Follows the events stream with one consumer until `shutdown` changes.
pub async fn stream_worker(
    mut poller: StreamPoller,
    consumer: Consumer,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let began = tokio::time::Instant::now();
        let records = tokio::select! {
            r = poller.poll() => r,
            _ = shutdown.changed() => return,
        };
        let pause = match records {
            Ok(records) if records.is_empty() => POLL_EVERY,
            Ok(records) => {
                let failed = consumer.handle(&records).await;
                if failed.is_empty() && records.len() >= poller.batch_limit() {
                    Duration::ZERO
                } else if failed.is_empty() {
                    POLL_EVERY
                } else {
                    poller.rewind(&records, &failed);
                    Duration::from_millis(500)
                }
            }
            Err(e) => {
                tracing::warn!(consumer = consumer.name, error = %e, "stream poll failed");
                Duration::from_secs(1)
            }
        };
        let pause = pause.saturating_sub(began.elapsed());
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// What a consumer does with a batch: project it, or route its bus events.
pub enum StreamConsumer {
    Project(Projector),
    Route(LocalBus<DynamoEventStore, Recording<SnsNotifier>, AwsKeys>),
}

impl StreamConsumer {
    /// Returns the sequence numbers to hand out again (the first failure and all after it).
    async fn handle(&self, records: &[ChangeRecord]) -> Vec<String> {
        match self {
            Self::Project(p) => {
                let failed = p.apply_batch(records).await.failed;
                order_aws::projector::report_lag(records, &failed);
                failed
            }
            Self::Route(bus) => {
                // One record at a time, stopping at the first that fails: the retry starts at
                // that record, and those before it are handled and not routed again. Routing
                // the batch in one put retried it whole from its first record, every
                // confirmation of it again (each a few calls, any of which may be throttled),
                // so under steady faults a growing batch never got through and no email went
                // out (the fault test, services/orders/tests/faults).
                for (i, r) in records.iter().enumerate() {
                    let event = r.event.as_ref().map_err(ToString::to_string);
                    if forward_events(bus, &bus.store, vec![(i, event)])
                        .await
                        .is_some()
                    {
                        return records[i..]
                            .iter()
                            .map(|r| r.sequence_number.clone())
                            .collect();
                    }
                    log_routed(std::slice::from_ref(r));
                }
                Vec::new()
            }
        }
    }
}

/// One line per bus event routed, so an operator (and the restart test) can see that a
/// restart does not route an order's confirmation again.
fn log_routed(records: &[ChangeRecord]) {
    for r in records {
        let Ok(event) = &r.event else { continue };
        if !is_forwarded(&event.event_type) {
            continue;
        }
        if let Some(order_id) = event.stream_id.order_id() {
            tracing::info!(
                order_id = %order_id,
                event_type = %event.event_type,
                sequence_number = %r.sequence_number,
                "bus event routed"
            );
        }
    }
}
