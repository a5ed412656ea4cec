//! The forwarder on the embedded host: the order events the bus carries, from the change feed to
//! the rule bus, at least once, the checkpoint saved after delivery. The loop over a batch is
//! the one every host runs (`order_app::forward`).

use std::time::Duration;

use order_app::forward::forward_events;
use order_embedded::read_models::{checkpoint, set_checkpoint};
use order_embedded::store::SqliteEventStore;
use tokio::sync::watch;

use crate::bus::LocalBus;
use crate::feed::{FEED_BATCH, FeedPace};
use crate::pipeline::{LocalKeys, LocalNotifier};

/// Bus events → the bus (rule router) at least once, checkpointed after delivery.
pub(crate) async fn forwarder(
    store: SqliteEventStore,
    bus: LocalBus<SqliteEventStore, LocalNotifier, LocalKeys>,
    shutdown: watch::Receiver<bool>,
) {
    // The checkpoint's name from when only terminal events were forwarded: kept, so an upgraded
    // server resumes where it stopped (and sends no "order received" for orders before it).
    const NAME: &str = "terminal-forwarder";
    let db = store.db().clone();
    let mut pace = FeedPace::new(
        store.subscribe(),
        shutdown,
        Duration::from_millis(100),
        Duration::from_secs(10),
    );
    let mut position = db.read(|c| checkpoint(c, NAME)).await.unwrap_or(0);
    loop {
        pace.mark();
        // How far the batch got (its last delivered position), and why it stopped short.
        let (reached, failure) = match store.read_feed(position, FEED_BATCH).await {
            Ok(batch) if batch.is_empty() => (None, None),
            Ok(batch) => {
                let records = batch.iter().map(|e| (e.0, Ok(&e.1))).collect();
                match forward_events(&bus, &store, records).await {
                    None => (batch.last().map(|e| e.0), None),
                    Some(from) => (
                        batch.iter().map(|e| e.0).take_while(|p| *p < from).last(),
                        Some(format!("stopped at position {from}")),
                    ),
                }
            }
            Err(e) => (None, Some(e.to_string())),
        };
        if let Some(last) = reached {
            position = last;
            if let Err(e) = db
                .write_direct(move |c| set_checkpoint(c, NAME, last))
                .await
            {
                tracing::error!(error = ?e, "forwarder checkpoint not saved");
            }
        }
        if let Some(e) = failure {
            tracing::error!(error = %e, "forwarding bus events failed; retrying");
            if !pace.failed().await {
                return;
            }
            continue;
        }
        if reached.is_some() {
            pace.succeeded();
            continue;
        }
        if !pace.next_commits().await {
            return;
        }
    }
}
