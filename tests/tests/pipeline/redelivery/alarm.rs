//! A failed execution's alarm on the local runner, when the alerts topic does not answer.

use std::sync::Arc;

use order_app::vault::NoKeys;
use order_domain::Email;
use serde_json::json;

use super::{rig, run_to_the_end, types};

/// The outbox, with its critical-alerts topic down while `down` is set; counts the tries.
#[derive(Clone)]
struct AlarmsDown {
    inner: order_embedded::outbox::OutboxNotifier,
    down: Arc<std::sync::atomic::AtomicBool>,
    tries: Arc<std::sync::atomic::AtomicU32>,
}

impl order_domain::ports::Notifier for AlarmsDown {
    async fn publish(
        &self,
        topic: order_domain::ports::Topic,
        message: order_domain::ports::Notification,
    ) -> Result<order_domain::ports::Published, order_domain::ports::PortError> {
        use std::sync::atomic::Ordering;
        if topic == order_domain::ports::Topic::CriticalAlerts {
            self.tries.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(order_domain::ports::PortError("the topic is down".into()));
            }
        }
        self.inner.publish(topic, message).await
    }
}

/// A failed execution's alarm goes out before the execution is saved FAILED: with the alerts
/// topic down through the alarm's tries, the execution stays RUNNING, and the next start runs
/// it again (its tasks answering from the log: one OrderFailed) and sends the alarm once. Saved
/// first, the alarm would have been lost for good.
#[tokio::test]
async fn a_failed_executions_alarm_that_could_not_be_sent_is_sent_by_the_next_start() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let r = rig(5).await;
    let outbox = tempfile::tempdir().unwrap();
    let id = order_testkit::events::place(&r.store, &[("P", 1)], "tok_gateway_down").await;
    let alarms = AlarmsDown {
        inner: order_embedded::outbox::OutboxNotifier::new(
            outbox.path(),
            &Email::parse("ops@example.com").unwrap(),
        )
        .unwrap(),
        down: Arc::new(AtomicBool::new(true)),
        tries: Arc::new(AtomicU32::new(0)),
    };
    let (starter, first) = order_runtime::workflow::local_workflow(
        r.db.clone(),
        (r.store.clone(), alarms.clone(), NoKeys),
        0.0,
        4,
    )
    .unwrap();
    starter
        .start_named(id.to_string(), json!({ "orderId": id }))
        .await
        .unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(first.run(shutdown));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while alarms.tries.load(Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the alarm was not tried"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _ = stop.send(true);
    running.await.unwrap();
    let name = id.to_string();
    let status: String =
        r.db.read(move |c| {
            c.query_row(
                "SELECT status FROM executions WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(status, "RUNNING", "not saved FAILED without its alarm");
    assert_eq!(
        types(&r.store, id).await,
        ["OrderPlaced", "OrderValidated", "OrderFailed"]
    );
    let alerts = order_embedded::outbox::mbox_path(
        outbox.path(),
        order_domain::ports::Topic::CriticalAlerts,
    );
    assert!(order_embedded::outbox::read_mbox(&alerts).is_empty());

    alarms.down.store(false, Ordering::SeqCst);
    let (_starter, next) = order_runtime::workflow::local_workflow(
        r.db.clone(),
        (r.store.clone(), alarms, NoKeys),
        0.0,
        4,
    )
    .unwrap();
    let (status, _) = run_to_the_end(&r.db, next, id.to_string()).await;
    assert_eq!(status, "FAILED");
    assert_eq!(
        types(&r.store, id).await,
        ["OrderPlaced", "OrderValidated", "OrderFailed"]
    );
    let sent = order_embedded::outbox::read_mbox(&alerts);
    assert_eq!(sent.len(), 1, "one alarm: {sent:?}");
    assert!(sent[0].contains("OrderProcessingWorkflowFailureAlarm"));
    r.db.close();
}
