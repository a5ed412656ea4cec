//! The stuck-order finder's contract ([`StuckOrders`]): what every read-model store MUST
//! answer the sweeper, run against each adapter. The views are put as the projection step
//! would put them, with their instants set by hand, so "unchanged since" is exact.

use order_domain::events::PaymentCaptured;
use order_domain::order::OrderStatus;
use order_domain::ports::{EventStore, OpenOrder, StuckOrders};
use order_domain::{Money, OrderEvent, OrderId, Timestamp};
use order_read_models::{OrderView, View, ViewStore};

use crate::Fixture;
use crate::events::{meta, order_placed, order_validated, product, write_after};
use crate::read_models::Stores;

/// Every case of the stuck-order finder's contract as `#[tokio::test]`s in a module named
/// `$backend`, on the [`Stores`] `$make` builds.
#[macro_export]
macro_rules! stuck_orders_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                stuck_orders,
                [
                    only_open_orders_unchanged_since_before_the_cutoff_are_found,
                    an_order_that_moves_on_or_ends_leaves_the_answer,
                    the_answer_is_oldest_first_and_at_most_the_limit,
                    a_cancelling_order_is_open_and_the_after_sale_statuses_are_ended,
                ]
            );
        }
    };
}

type Subject<E, R> = Fixture<Stores<E, R>>;

/// What the sweeper reads: the order-status views it finds stuck orders among.
pub trait StuckOrderStore: ViewStore<OrderView> + StuckOrders {}
impl<R: ViewStore<OrderView> + StuckOrders> StuckOrderStore for R {}

/// An order's views at each status: PLACED, VALIDATED, PAID (its stream appended to `log`).
async fn views<E: EventStore>(log: &E) -> (OrderId, [OrderView; 3]) {
    let id = OrderId::generate();
    let p = product("SKU-STUCK");
    let paid = OrderEvent::PaymentCaptured(PaymentCaptured {
        payment_id: "ch_stuck".into(),
        amount: Money::from_minor(1999),
    });
    let events = [
        order_placed(id, &p).encode(),
        order_validated(&p).encode(),
        paid.encode(),
    ];
    log.append(vec![write_after(&id.stream(), None, events, &meta(id))])
        .await
        .unwrap();
    let history = log.read_stream(&id.stream(), 0).await.unwrap();
    let at = |n: usize| {
        OrderView::fold(None, &history[..n])
            .unwrap()
            .expect("a view")
    };
    (id, [at(1), at(2), at(3)])
}

/// `view` as if placed at `placed` ms and last changed at `changed` ms.
fn dated(view: &OrderView, placed: u64, changed: u64) -> OrderView {
    let mut v = view.clone();
    v.placed_at = Timestamp::from_millis(placed);
    v.updated_at = Timestamp::from_millis(changed);
    v
}

/// An order projected at `status` (placed at 1 s), last changed at `changed` ms.
async fn projected<E: EventStore, R: StuckOrderStore>(
    s: &Subject<E, R>,
    status: usize,
    changed: u64,
) -> OrderId {
    let (id, views) = views(&s.log).await;
    for v in &views[..=status] {
        s.views.put(&dated(v, 1_000, changed)).await.unwrap();
    }
    id
}

const OPEN: [OrderStatus; 3] = [
    OrderStatus::Placed,
    OrderStatus::Validated,
    OrderStatus::Paid,
];

async fn found<R: StuckOrders>(reads: &R, before: u64, limit: usize) -> Vec<OpenOrder> {
    found_in(reads, &OPEN, before, limit).await
}

async fn found_in<R: StuckOrders>(
    reads: &R,
    statuses: &[OrderStatus],
    before: u64,
    limit: usize,
) -> Vec<OpenOrder> {
    reads
        .open_unchanged_since(statuses, Timestamp::from_millis(before), limit)
        .await
        .unwrap()
}

/// PLACED, VALIDATED and PAID orders unchanged since before the cutoff are found, with their
/// status and when they last changed, each only when its status is asked for; an order that
/// changed at or after the cutoff, or that ended, is not.
pub async fn only_open_orders_unchanged_since_before_the_cutoff_are_found<
    E: EventStore,
    R: StuckOrderStore,
>(
    s: &Subject<E, R>,
) {
    let placed = projected(s, 0, 5_000).await;
    let validated = projected(s, 1, 5_001).await;
    let paid = projected(s, 2, 5_002).await;
    let fresh = projected(s, 0, 9_000).await;
    let (ended, views) = views(&s.log).await;
    let mut failed = dated(&views[2], 1_000, 5_000);
    failed.status = OrderStatus::Failed;
    s.views.put(&failed).await.unwrap();

    let mut answer = found(&s.views, 9_000, 100).await;
    answer.sort_by_key(|o| o.since);
    let expected = [
        (placed, OrderStatus::Placed, 5_000),
        (validated, OrderStatus::Validated, 5_001),
        (paid, OrderStatus::Paid, 5_002),
    ];
    assert_eq!(
        answer,
        expected.map(|(order_id, status, since)| OpenOrder {
            order_id,
            status,
            since: Timestamp::from_millis(since),
        })
    );
    assert!(
        answer
            .iter()
            .all(|o| o.order_id != fresh && o.order_id != ended)
    );
    assert!(
        found(&s.views, 5_000, 100).await.is_empty(),
        "the cutoff is strict"
    );
}

/// A view that moves on after the cutoff leaves the answer (its execution is alive), and so
/// does one that ends.
pub async fn an_order_that_moves_on_or_ends_leaves_the_answer<E: EventStore, R: StuckOrderStore>(
    s: &Subject<E, R>,
) {
    let (id, views) = views(&s.log).await;
    s.views.put(&dated(&views[0], 1_000, 1_000)).await.unwrap();
    let ids = |a: Vec<OpenOrder>| a.into_iter().map(|o| o.order_id).collect::<Vec<_>>();
    assert_eq!(ids(found(&s.views, 2_000, 10).await), vec![id]);

    s.views.put(&dated(&views[1], 1_000, 3_000)).await.unwrap();
    assert!(found(&s.views, 2_000, 10).await.is_empty());
    assert_eq!(
        found(&s.views, 4_000, 10).await[0].status,
        OrderStatus::Validated
    );

    let mut ended = dated(&views[2], 1_000, 3_500);
    ended.status = OrderStatus::Completed;
    s.views.put(&ended).await.unwrap();
    assert!(found(&s.views, 10_000, 10).await.is_empty());
}

/// The oldest come first, and no more than the limit: a backlog is worked off oldest first,
/// a batch a run.
pub async fn the_answer_is_oldest_first_and_at_most_the_limit<E: EventStore, R: StuckOrderStore>(
    s: &Subject<E, R>,
) {
    let mut ids = Vec::new();
    for changed in [1_004, 1_001, 1_003, 1_000, 1_002] {
        ids.push((changed, projected(s, 0, changed).await));
    }
    ids.sort_unstable();
    let answer = found(&s.views, 2_000, 3).await;
    assert_eq!(
        answer.iter().map(|o| o.order_id).collect::<Vec<_>>(),
        ids[..3].iter().map(|(_, id)| *id).collect::<Vec<_>>()
    );
}

/// CANCELLING is open (an order whose cancellation was asked for waits for the workflow's
/// next step, or the sweeper, to cancel it): it is found when asked for, with its status. The
/// statuses after an order's end (CANCELLED, SHIPPED, PARTIALLY_REFUNDED, REFUNDED) never are,
/// even when asked for, and an order that goes from CANCELLING to CANCELLED leaves the answer.
pub async fn a_cancelling_order_is_open_and_the_after_sale_statuses_are_ended<
    E: EventStore,
    R: StuckOrderStore,
>(
    s: &Subject<E, R>,
) {
    let all = [
        OrderStatus::Placed,
        OrderStatus::Validated,
        OrderStatus::Paid,
        OrderStatus::Completed,
        OrderStatus::Failed,
        OrderStatus::Cancelling,
        OrderStatus::Cancelled,
        OrderStatus::Shipped,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
    ];
    let at = |view: &OrderView, status, version| {
        let mut v = dated(view, 1_000, 4_000);
        v.status = status;
        v.version = version;
        v
    };
    let (cancelling, open) = views(&s.log).await;
    s.views
        .put(&at(&open[2], OrderStatus::Cancelling, 4))
        .await
        .unwrap();
    for status in [
        OrderStatus::Cancelled,
        OrderStatus::Shipped,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
    ] {
        let (_, ended) = views(&s.log).await;
        s.views.put(&at(&ended[2], status, 6)).await.unwrap();
    }
    let answer = found_in(&s.views, &all, 9_000, 100).await;
    assert_eq!(
        answer,
        vec![OpenOrder {
            order_id: cancelling,
            status: OrderStatus::Cancelling,
            since: Timestamp::from_millis(4_000),
        }]
    );
    assert!(
        found(&s.views, 9_000, 100).await.is_empty(),
        "not asked for"
    );

    s.views
        .put(&at(&open[2], OrderStatus::Cancelled, 5))
        .await
        .unwrap();
    assert!(found_in(&s.views, &all, 9_000, 100).await.is_empty());
}
