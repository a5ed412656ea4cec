//! The terminal-event forwarder on the embedded host: terminal events from the change feed to
//! the rule bus, at least once, the checkpoint saved after delivery.

use std::time::Duration;

use order_app::notify::terminal_bus_events;
use order_domain::ports::EventBus;
use order_embedded::outbox::OutboxNotifier;
use order_embedded::read_models::{checkpoint, set_checkpoint};
use order_embedded::store::SqliteEventStore;
use tokio::sync::watch;

use crate::bus::LocalBus;
use crate::projections::{FEED_BATCH, FEED_COALESCE};

/// Terminal events → the bus (rule router) at least once, checkpointed after delivery.
pub(crate) async fn forwarder(
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
