//! The sweeper's decisions (`order_app::sweep`) on each host's stores: what it re-enqueues,
//! what it closes and with what, what it leaves, and that running it again, twice at once, or
//! against an execution that moves the order changes nothing more. Orders are driven by the
//! app's task functions and projected by hand, so a test sets how stale a view is.

use order_app::after::cancel;
use order_app::gateway::SimulatedGateway;
use order_app::seed::seed_inventory;
use order_app::stream::load;
use order_app::sweep::{SweepPolicy, SweepReport, Sweeper, sweep};
use order_app::tasks::{fail_at_version, process_payment, update_inventory, validate_order};
use order_app::vault::NoKeys;
use order_domain::ports::{EventStore, PolledQueue, StuckOrders};
use order_domain::{OrderId, Timestamp};
use order_read_models::{OrderView, View, ViewStore};

use crate::Fixture;
use crate::events::{place, seed_product};
use crate::tasks::input;

/// Every case of the sweeper's decisions as `#[tokio::test]`s in a module named `$backend`,
/// on the [`SweepStores`] `$make` builds.
#[macro_export]
macro_rules! sweep_cases {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                sweep,
                [
                    a_placed_order_past_the_redrive_limit_is_enqueued_again,
                    a_placed_order_past_the_close_limit_fails_instead_of_another_redrive,
                    a_paid_order_past_the_close_limit_is_refunded_and_failed_once,
                    a_validated_order_past_the_close_limit_fails_without_a_refund,
                    an_order_whose_stream_moved_since_its_view_is_left,
                    two_sweepers_at_once_close_an_order_once,
                    an_execution_that_appends_first_wins_over_the_sweeper,
                    an_order_whose_cancellation_was_asked_is_swept_to_cancelled,
                ]
            );
        }
    };
}

/// The stores the sweeper reads and writes on one host: the log, the order-status views
/// (where it finds candidates) and OrdersQueue.
pub struct SweepStores<E, R, Q> {
    pub log: E,
    pub views: R,
    pub queue: Q,
}

type Subject<E, R, Q> = Fixture<SweepStores<E, R, Q>>;

/// The order-status views, as the sweeper reads them and the projection step writes them.
pub trait SweptViews: ViewStore<OrderView> + StuckOrders {}
impl<R: ViewStore<OrderView> + StuckOrders> SweptViews for R {}

const PRODUCT: &str = "SWEPT";

/// Later than both default limits: every open order is due.
fn later() -> Timestamp {
    let past = SweepPolicy::DEFAULT_CLOSE_AFTER.as_millis() + 60_000;
    Timestamp::from_millis(Timestamp::now().as_millis() + u64::try_from(past).unwrap())
}

/// Past the redrive limit, not yet the close limit.
fn between() -> Timestamp {
    let past = SweepPolicy::DEFAULT_REDRIVE_AFTER.as_millis() + 60_000;
    assert!(past < SweepPolicy::DEFAULT_CLOSE_AFTER.as_millis());
    Timestamp::from_millis(Timestamp::now().as_millis() + u64::try_from(past).unwrap())
}

async fn run<E: EventStore, R: SweptViews, Q: PolledQueue>(
    s: &Subject<E, R, Q>,
    now: Timestamp,
) -> SweepReport {
    let ports = Sweeper {
        reads: &s.views,
        store: &s.log,
        gateway: &SimulatedGateway,
        queue: &s.queue,
    };
    sweep(ports, &SweepPolicy::default(), now).await.unwrap()
}

/// Projects the order's stream as it is now (the projection step's put).
async fn project<E: EventStore, R: SweptViews>(s: &Subject<E, R, impl Sync>, id: OrderId) {
    let history = s.log.read_stream(&id.stream(), 0).await.unwrap();
    let view = OrderView::fold(None, &history).unwrap().expect("a view");
    s.views.put(&view).await.unwrap();
}

/// A placed order of one product in stock, validated (`pay`: and paid), and projected.
async fn order<E: EventStore, R: SweptViews>(
    s: &Subject<E, R, impl Sync>,
    steps: usize,
) -> OrderId {
    seed_inventory(&s.log, &[seed_product(PRODUCT, 1500, 100)])
        .await
        .unwrap();
    let id = place(&s.log, &[(PRODUCT, 1)], "tok_visa").await;
    if steps > 0 {
        validate_order(&s.log, input(id, None)).await.unwrap();
    }
    if steps > 1 {
        process_payment(&s.log, &SimulatedGateway, &NoKeys, input(id, None))
            .await
            .unwrap();
    }
    project(s, id).await;
    id
}

async fn event_types<E: EventStore>(log: &E, id: OrderId) -> Vec<String> {
    let history = log.read_stream(&id.stream(), 0).await.unwrap();
    history.into_iter().map(|e| e.event_type.into()).collect()
}

const PAID: [&str; 3] = ["OrderPlaced", "OrderValidated", "PaymentCaptured"];

/// A PLACED order (its enqueue lost) is put on the queue once it is older than the redrive
/// limit, and not before.
pub async fn a_placed_order_past_the_redrive_limit_is_enqueued_again<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let id = order(s, 0).await;
    assert_eq!(run(s, Timestamp::now()).await, SweepReport::default());
    assert!(s.queue.receive(10).await.unwrap().is_empty());

    let report = run(s, between()).await;
    assert_eq!(report.redriven, vec![id]);
    let messages = s.queue.receive(10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert!(Q::body(&messages[0]).contains(&id.to_string()));
    assert_eq!(event_types(&s.log, id).await, ["OrderPlaced"]);
}

/// A PLACED order that redrives did not move by the close limit (its start keeps failing, or
/// its one execution ended FAILED before ValidateOrder could append, under a name that cannot
/// be started again) is failed with nothing to give back, not enqueued once more: no order is
/// left open for ever.
pub async fn a_placed_order_past_the_close_limit_fails_instead_of_another_redrive<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let id = order(s, 0).await;
    let report = run(s, later()).await;
    assert_eq!((report.redriven, report.closed), (vec![], vec![id]));
    assert!(s.queue.receive(10).await.unwrap().is_empty());
    assert_eq!(
        event_types(&s.log, id).await,
        ["OrderPlaced", "OrderFailed"]
    );
    let history = s.log.read_stream(&id.stream(), 0).await.unwrap();
    assert!(history[1].payload.contains("PROCESSING_ERROR"));
}

/// A PAID order whose execution died is refunded and failed (PROCESSING_ERROR) once past the
/// close limit; the next run, its view still stale, appends nothing more, and once the view
/// catches up the order is no candidate at all.
pub async fn a_paid_order_past_the_close_limit_is_refunded_and_failed_once<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let id = order(s, 2).await;
    assert!(run(s, Timestamp::now()).await.closed.is_empty());

    assert_eq!(run(s, later()).await.closed, vec![id]);
    let ended = [
        &PAID[..],
        &["OrderFailing", "PaymentRefunded", "OrderFailed"],
    ]
    .concat();
    assert_eq!(event_types(&s.log, id).await, ended);
    let history = s.log.read_stream(&id.stream(), 0).await.unwrap();
    assert!(history[5].payload.contains("PROCESSING_ERROR"));

    let again = run(s, later()).await;
    assert_eq!((again.closed, again.left), (vec![], vec![id]));
    assert_eq!(event_types(&s.log, id).await, ended);
    project(s, id).await;
    assert_eq!(run(s, later()).await, SweepReport::default());
    assert!(s.queue.receive(10).await.unwrap().is_empty());
}

/// A VALIDATED order past the close limit fails with nothing to give back.
pub async fn a_validated_order_past_the_close_limit_fails_without_a_refund<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let id = order(s, 1).await;
    assert_eq!(run(s, later()).await.closed, vec![id]);
    assert_eq!(
        event_types(&s.log, id).await,
        ["OrderPlaced", "OrderValidated", "OrderFailed"]
    );
}

/// The view says VALIDATED (or PLACED) long ago, but the stream moved on a moment ago (the
/// projection lags a live execution): the stream is the truth, the order is left, neither
/// closed nor re-enqueued.
pub async fn an_order_whose_stream_moved_since_its_view_is_left<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let id = order(s, 1).await;
    let mut stale = s.views.get(&id.to_string()).await.unwrap().unwrap();
    stale.placed_at = Timestamp::from_millis(1_000);
    stale.updated_at = Timestamp::from_millis(1_000);
    stale.version += 10; // so the put lands over the projected row
    s.views.put(&stale).await.unwrap();
    process_payment(&s.log, &SimulatedGateway, &NoKeys, input(id, None))
        .await
        .unwrap();

    // And a view that says PLACED long ago, of an order validated a moment ago.
    let validated = order(s, 0).await;
    let mut stale = s.views.get(&validated.to_string()).await.unwrap().unwrap();
    stale.placed_at = Timestamp::from_millis(1_000);
    stale.updated_at = Timestamp::from_millis(1_000);
    stale.version += 10;
    s.views.put(&stale).await.unwrap();
    validate_order(&s.log, input(validated, None))
        .await
        .unwrap();

    let close_after = u64::try_from(SweepPolicy::DEFAULT_CLOSE_AFTER.as_millis()).unwrap();
    let now = Timestamp::from_millis(Timestamp::now().as_millis() + close_after / 2);
    let report = run(s, now).await;
    assert_eq!(
        (report.redriven, report.closed, report.left),
        // Both past the close limit in the view: left by the close, oldest first.
        (vec![], vec![], vec![id, validated])
    );
    assert_eq!(event_types(&s.log, id).await, PAID);
    assert!(s.queue.receive(10).await.unwrap().is_empty());
}

/// Two sweepers at once (two schedules overlapping, a redelivered invocation) close the
/// order once: one OrderFailed, one refund.
pub async fn two_sweepers_at_once_close_an_order_once<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let id = order(s, 2).await;
    let now = later();
    let (a, b) = tokio::join!(run(s, now), run(s, now));
    let mut closed = a.closed;
    closed.extend(b.closed);
    assert_eq!(closed, vec![id]);
    assert_eq!(
        event_types(&s.log, id).await,
        [
            &PAID[..],
            &["OrderFailing", "PaymentRefunded", "OrderFailed"]
        ]
        .concat()
    );
}

/// An execution that appends between the sweeper's read and its append wins: the sweeper's
/// append conflicts and adds nothing, the order completes.
pub async fn an_execution_that_appends_first_wins_over_the_sweeper<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let id = order(s, 1).await;
    let (read, history) = load(&s.log, id).await.unwrap();
    process_payment(&s.log, &SimulatedGateway, &NoKeys, input(id, None))
        .await
        .unwrap();
    update_inventory(&s.log, input(id, None)).await.unwrap();
    let lost = fail_at_version(&s.log, &SimulatedGateway, id, (&read, &history), "stuck")
        .await
        .unwrap();
    assert!(lost.is_none());
    let types = event_types(&s.log, id).await;
    assert_eq!(types.last().map(String::as_str), Some("OrderCompleted"));
    assert!(!types.iter().any(|t| t == "OrderFailed"));
}

/// An order whose customer asked to cancel and whose execution died is swept like any other:
/// re-enqueued while PLACED (its execution then cancels it), and past the close limit
/// cancelled, not failed (refunded first if it was paid), PLACED or not: redrives that never
/// started an execution must not keep it CANCELLING for ever.
pub async fn an_order_whose_cancellation_was_asked_is_swept_to_cancelled<
    E: EventStore,
    R: SweptViews,
    Q: PolledQueue,
>(
    s: &Subject<E, R, Q>,
) {
    let placed = order(s, 0).await;
    let paid = order(s, 2).await;
    for id in [placed, paid] {
        cancel(&s.log, id, |_| true, "").await.unwrap();
        project(s, id).await;
    }
    let report = run(s, between()).await;
    assert_eq!((report.redriven, report.closed), (vec![placed], vec![]));
    assert_eq!(s.queue.receive(10).await.unwrap().len(), 1);
    let report = run(s, later()).await;
    assert_eq!(
        (report.redriven, report.closed),
        (vec![], vec![placed, paid])
    );
    assert_eq!(
        event_types(&s.log, paid).await,
        [
            &PAID[..],
            &["CancellationRequested", "PaymentRefunded", "OrderCancelled"]
        ]
        .concat()
    );
    assert_eq!(
        event_types(&s.log, placed).await,
        ["OrderPlaced", "CancellationRequested", "OrderCancelled"]
    );
}
