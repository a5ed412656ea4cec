//! OrderSweeperLambda: the EventBridge schedule's event (every minute) → one run of the
//! sweeper (`order_app::sweep`), the use case the local runtime's sweeper loop runs too.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::sweep::{SweepError, SweepPolicy, Sweeper, sweep};
use order_domain::Timestamp;
use order_domain::ports::{EventStore, OrderQueue, PaymentGateway, StuckOrders};
use serde_json::{Value, json};

/// One run at `now` for the scheduled `event` (read only for the log: a late or repeated
/// delivery sweeps like a fresh one, and two at once are safe). Answers how many orders it
/// re-enqueued, closed, left and failed on; `Err` (the invocation fails, and the next
/// minute's run tries again) only when the open orders could not be read at all.
pub async fn handle_scheduled<R, S, G, Q>(
    ports: Sweeper<'_, R, S, G, Q>,
    policy: &SweepPolicy,
    event: &EventBridgeEvent<Value>,
    now: Timestamp,
) -> Result<Value, SweepError>
where
    R: StuckOrders,
    S: EventStore,
    G: PaymentGateway,
    Q: OrderQueue,
{
    tracing::debug!(scheduled = ?event.time, source = ?event.source, "sweeping");
    let report = sweep(ports, policy, now).await?;
    let answer = json!({
        "redriven": report.redriven.len(),
        "closed": report.closed.len(),
        "left": report.left.len(),
        "failed": report.failed.len(),
    });
    tracing::info!(%answer, "swept");
    Ok(answer)
}
