//! The sweeper: no order is left behind. Both hosts run this one use case on a schedule (the
//! local runtime's sweeper loop, the order-sweeper Lambda every minute).
//!
//! - An order PLACED for longer than [`SweepPolicy::redrive_after`] is put on OrdersQueue
//!   again: the enqueue after its append may have failed (the client got a 503, the order
//!   stayed). Its stream is read first, so a view that lags re-enqueues nothing; a slow start
//!   costs one more message, and its execution's tasks are idempotent (they append once).
//! - An order whose cancellation was asked for is swept like one without: re-enqueued while its
//!   stage is PLACED, closed past `close_after`, and the close then cancels it (the decision
//!   reads the request from its history). A completed order whose cancellation refund is
//!   pending is the refund workflow's, not the sweeper's: it is left alone.
//! - An order PLACED, VALIDATED or PAID for longer than [`SweepPolicy::close_after`] lost its
//!   execution (an Express execution lives five minutes at most, retries included), or never
//!   got one that could move it: redrives did not help (a start that keeps failing, or, where
//!   execution names are unique, as on the local runner and a Standard workflow, an execution
//!   that ended FAILED while the order was still PLACED, whose name a redrive cannot start
//!   again). It is closed, not redriven once more (unless the host knows its own consumer is
//!   still to start it, [`StuckOrders::closable`]: the local runner after a long stop),
//!   as FAILED the way the workflow's OrderFailed step would close it (the same
//!   compensation, `tasks::compensate`, and the same decision), with reason `PROCESSING_ERROR`
//!   unless its history names a business reason (a recorded decline, a shortage). Its
//!   OrderFailed then reaches the failure email like any other.
//!
//! Candidates come from the read model ([`StuckOrders`], eventually consistent); a close is
//! decided on the order's stream, read strongly consistent, and acted on only if the stream's
//! head is older than the limit too. Its append expects the version it decided on
//! (`tasks::fail_at_version`), so a racing execution and the sweeper cannot both end the order:
//! whoever appends second conflicts, and the sweeper then leaves the order to the winner. Two
//! sweepers at once, or one run twice, close an order once (the second finds it ended or
//! conflicts) and refund it once (the gateway's refund is idempotent on the order id).
//!
//! The one window left: a refund is a call to the gateway before the append, so a sweeper that
//! refunds and then loses the append to an execution that completes the order has refunded a
//! completed order. No execution started before the order went still can be alive past
//! `close_after` (3× the Express limit by default); it takes a new one, started by a late
//! message (a dead letter redriven by hand) in the moment between the refund and the append.
//! The sweeper logs that as an error when it happens.

use std::time::Duration;

use order_domain::order::{OrderState, OrderStatus, Progress};
use order_domain::ports::{
    EventStore, OpenOrder, OrderQueue, PaymentGateway, PortError, StuckOrders,
};
use order_domain::{OrderId, Timestamp};

use crate::stream::load;
use crate::tasks::{TaskError, fail_at_version};

/// When the sweeper acts, and how much it looks at per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPolicy {
    /// An order PLACED this long is re-enqueued.
    pub redrive_after: Duration,
    /// An order PLACED, VALIDATED or PAID this long is closed as FAILED.
    pub close_after: Duration,
    /// The most orders one run looks at (oldest first); the rest wait for the next run.
    pub batch: usize,
}

impl SweepPolicy {
    /// An order normally leaves PLACED within seconds of its POST; two minutes without
    /// leaving it means its message was never sent, or its start keeps failing. (A message
    /// whose start failed comes back by itself after OrdersQueue's visibility timeout of
    /// three minutes; a redrive before that is one more message, not one more order.)
    pub const DEFAULT_REDRIVE_AFTER: Duration = Duration::from_mins(2);
    /// Three times the Express workflow's worst case (five minutes, retries included): no
    /// execution of the order can still be running.
    pub const DEFAULT_CLOSE_AFTER: Duration = Duration::from_mins(15);
    /// Enough for a minute's schedule to drain a backlog within a Lambda's time limit.
    pub const DEFAULT_BATCH: usize = 500;
}

impl Default for SweepPolicy {
    fn default() -> Self {
        Self {
            redrive_after: Self::DEFAULT_REDRIVE_AFTER,
            close_after: Self::DEFAULT_CLOSE_AFTER,
            batch: Self::DEFAULT_BATCH,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// PLACED orders put on the queue again.
    pub redriven: Vec<OrderId>,
    /// Orders this run ended as FAILED.
    pub closed: Vec<OrderId>,
    /// Candidates left as they are: ended or moved since the view saw them (the stream is the
    /// truth), or closed by another writer first.
    pub left: Vec<OrderId>,
    /// Orders whose redrive or close failed (the next run tries again), with why.
    pub failed: Vec<(OrderId, String)>,
}

/// Why a run did nothing.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("finding open orders: {0}")]
    Find(#[from] PortError),
}

/// The ports the sweeper acts through.
#[derive(Debug)]
pub struct Sweeper<'a, R, S, G, Q> {
    pub reads: &'a R,
    pub store: &'a S,
    pub gateway: &'a G,
    pub queue: &'a Q,
}

// Not derived: a derive would ask `Copy` of the ports themselves, not of the references.
impl<R, S, G, Q> Clone for Sweeper<'_, R, S, G, Q> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R, S, G, Q> Copy for Sweeper<'_, R, S, G, Q> {}

/// One run at `now`: re-enqueues the orders PLACED and unchanged for `redrive_after`, and
/// closes those open and unchanged for `close_after`, PLACED ones included (two questions to
/// the read model, so a backlog of one kind never hides the other). An order old enough to be
/// closed is closed, not redriven. A failure on one order is reported and does not stop the
/// others.
#[tracing::instrument(skip_all, fields(now = %now))]
pub async fn sweep<R, S, G, Q>(
    ports: Sweeper<'_, R, S, G, Q>,
    policy: &SweepPolicy,
    now: Timestamp,
) -> Result<SweepReport, SweepError>
where
    R: StuckOrders,
    S: EventStore,
    G: PaymentGateway,
    Q: OrderQueue,
{
    let redrive_before = before(now, policy.redrive_after);
    let close_before = before(now, policy.close_after);
    let reads = ports.reads;
    let placed = reads
        .open_unchanged_since(
            &[OrderStatus::Placed, OrderStatus::Cancelling],
            redrive_before,
            policy.batch,
        )
        .await?;
    let stuck = reads
        .open_unchanged_since(
            &[
                OrderStatus::Placed,
                OrderStatus::Validated,
                OrderStatus::Paid,
                OrderStatus::Cancelling,
            ],
            close_before,
            policy.batch,
        )
        .await?;
    let stuck = reads.closable(stuck).await?;
    let mut report = SweepReport::default();
    for OpenOrder { order_id, .. } in placed {
        // Past the close limit too: redrives had their chance; it is closed below.
        if stuck.iter().any(|o| o.order_id == order_id) {
            continue;
        }
        match redrive(&ports, order_id, redrive_before).await {
            Ok(true) => report.redriven.push(order_id),
            Ok(false) => report.left.push(order_id),
            Err(e) => report.failed.push((order_id, e)),
        }
    }
    for OpenOrder { order_id, .. } in stuck {
        match close(&ports, order_id, close_before).await {
            Ok(true) => report.closed.push(order_id),
            Ok(false) => report.left.push(order_id),
            Err(e) => report.failed.push((order_id, e.to_string())),
        }
    }
    crate::metrics::swept(crate::metrics::REDRIVEN, report.redriven.len());
    crate::metrics::swept(crate::metrics::CLOSED, report.closed.len());
    for (order_id, error) in &report.failed {
        tracing::error!(%order_id, %error, "sweeping an order failed; the next run tries again");
    }
    Ok(report)
}

fn before(now: Timestamp, age: Duration) -> Timestamp {
    let age = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
    Timestamp::from_millis(now.as_millis().saturating_sub(age))
}

/// Re-enqueues the order if its stream says it is still PLACED with a head older than
/// `cutoff` (a lagging view is no reason to start a second execution); true when it did.
async fn redrive<R, S, G, Q>(
    ports: &Sweeper<'_, R, S, G, Q>,
    id: OrderId,
    cutoff: Timestamp,
) -> Result<bool, String>
where
    S: EventStore,
    Q: OrderQueue,
{
    let (order, history) = load(ports.store, id).await.map_err(|e| e.to_string())?;
    let placed =
        matches!(&order.state, OrderState::Open(p) if matches!(p.stage(), Progress::Placed(_)));
    let head = history.last().map(|e| e.occurred_at);
    if !placed || head.is_none_or(|at| at >= cutoff) {
        return Ok(false);
    }
    tracing::warn!(order_id = %id, since = ?head, "re-enqueuing an order stuck in PLACED");
    ports.queue.enqueue(id).await.map_err(|e| e.to_string())?;
    Ok(true)
}

/// Closes the order as FAILED if its stream says it is still open and its head is older than
/// `cutoff`; true when this call ended it.
async fn close<R, S, G, Q>(
    ports: &Sweeper<'_, R, S, G, Q>,
    id: OrderId,
    cutoff: Timestamp,
) -> Result<bool, TaskError>
where
    S: EventStore,
    G: PaymentGateway,
{
    let (order, history) = load(ports.store, id).await?;
    let OrderState::Open(progress) = &order.state else {
        return Ok(false);
    };
    let head = history.last().map(|e| e.occurred_at);
    if head.is_none_or(|at| at >= cutoff) {
        return Ok(false);
    }
    let status = progress.status();
    let error = format!(
        "OrderSweeper: no progress since {} ({}), past the workflow's time limit",
        head.map_or_else(String::new, Timestamp::to_rfc3339),
        status.as_str()
    );
    let refund_due = order.state.refund_due().is_some();
    match fail_at_version(ports.store, ports.gateway, id, (&order, &history), &error).await? {
        Some(OrderState::Failed(_) | OrderState::Cancelled(_)) => {
            tracing::warn!(order_id = %id, status = status.as_str(), refunded = refund_due, "closed a stuck order (FAILED, or CANCELLED if its customer asked)");
            Ok(true)
        }
        // Already ended; or the append was lost: to another sweeper (which closed it the same
        // way), or to an execution. A paid order's failure is recorded before its refund, so
        // an execution that completed it first left nothing refunded.
        Some(_) | None => Ok(false),
    }
}
