//! StartOrderProcessing's local pollers (`order_runtime::workers::spawn_queue_pollers`) on each
//! host's OrdersQueue: the SQLite queue (the embedded host) and SQS (`serve --backend aws`).
//! Not a port: the pollers are the runtime's, and what they rely on (a received message hidden
//! from the other pollers) is the queue contract's; this holds them together on both queues.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use order_domain::OrderId;
use order_domain::ports::{PolledQueue, PortError, StartOutcome, WorkflowStarter};
use order_runtime::workers::spawn_queue_pollers;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::Fixture;

/// Every case of the pollers as `#[tokio::test]`s in a module named `$backend`, on the queues
/// `$make` builds (the queue contract's builders).
#[macro_export]
macro_rules! pollers_cases {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                pollers,
                [a_start_that_hangs_does_not_hold_up_the_orders_behind_it]
            );
        }
    };
}

/// A workflow whose start of `held` does not return until another order has started, as a
/// start stuck on a slow call would; it records every order it started.
#[derive(Clone)]
struct HeldStart {
    held: OrderId,
    holding: Arc<Notify>,
    others: Arc<Notify>,
    started: Arc<Mutex<Vec<OrderId>>>,
}

impl WorkflowStarter for HeldStart {
    async fn start(&self, order_id: OrderId, _: Value) -> Result<StartOutcome, PortError> {
        if order_id == self.held {
            let other = self.others.notified();
            self.holding.notify_one();
            other.await;
        } else {
            self.others.notify_one();
        }
        self.started.lock().unwrap().push(order_id);
        Ok(StartOutcome::Started)
    }
}

/// A start that hangs holds up only its own poller: the order sent after it is received and
/// started by another, and then the held one finishes. With one poller the second order would
/// wait in the queue for the first start, which waits for the second: neither would start.
pub async fn a_start_that_hangs_does_not_hold_up_the_orders_behind_it<Q: PolledQueue>(
    queue: &Fixture<Q>,
) {
    let (held, next) = (OrderId::generate(), OrderId::generate());
    let workflow = HeldStart {
        held,
        holding: Arc::new(Notify::new()),
        others: Arc::new(Notify::new()),
        started: Arc::default(),
    };
    let (stop, rx) = watch::channel(false);
    let mut workers = JoinSet::new();
    spawn_queue_pollers(&mut workers, &**queue, &workflow, &rx);
    queue.enqueue(held).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), workflow.holding.notified())
        .await
        .expect("the first order's start began");
    queue.enqueue(next).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (visible, dead) = queue.depth().await.unwrap();
        let started = workflow.started.lock().unwrap().clone();
        if started.len() == 2 && visible == 0 {
            assert_eq!(started, vec![next, held]);
            assert_eq!(dead, 0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "started {started:?}, {visible} message(s) still visible in the queue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    while workers.join_next().await.is_some() {}
}
