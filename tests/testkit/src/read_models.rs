//! The read-model store contract: what every store of projected views MUST do, run against
//! each adapter, with the one projection step (`order_read_models::advance`) driving it.
//!
//! A subject is a [`Stores`]: the event log the views are folded from (read on a gap) and the
//! read models, which are both the step's [`ViewStore`] (per view) and the app's
//! [`ReadModels`]. Every case runs on both views, order status and inventory; the listing
//! cases (GET /orders, a customer's orders a page at a time) are in [`listing`].

use order_app::ReadModels;
use order_domain::events::{PaymentCaptured, StockReserved};
use order_domain::ports::EventStore;
use order_domain::{
    Money, OrderEvent, OrderId, ProductEvent, ProductId, Quantity, RecordedEvent, StreamId,
};
use order_read_models::{Applied, InventoryView, OrderView, View, ViewStore, ViewWrite, advance};

use crate::Fixture;

mod after_sale;
mod counts;
mod listing;
mod remembered;
pub use after_sale::{
    a_refunds_restock_shows_in_the_inventory,
    after_sale_views_are_stored_and_listed_with_their_status,
};
pub use counts::orders_are_counted_once_under_their_current_status;
pub use listing::{
    a_customer_without_orders_gets_an_empty_last_page,
    a_customers_orders_page_newest_first_without_gaps_repeats_or_strangers,
    pages_are_the_same_whatever_the_delivery_order,
};
pub use remembered::a_remembering_projector_beside_a_rival_ends_in_the_straight_fold;

use crate::events::{meta, order_placed, order_validated, product, product_added, write_after};

/// Every case of the read-model store contract as `#[tokio::test]`s in a module named
/// `$backend`, on the [`Stores`] `$make` builds.
#[macro_export]
macro_rules! read_models_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                read_models,
                [
                    an_older_or_equal_version_never_overwrites_a_newer_view,
                    a_record_past_a_gap_refolds_to_the_straight_fold,
                    duplicated_and_reordered_records_end_in_the_straight_fold,
                    a_record_that_applies_nothing_writes_nothing,
                    a_lagging_view_is_caught_up_from_the_log,
                    the_apps_queries_read_what_was_projected,
                    a_customers_orders_page_newest_first_without_gaps_repeats_or_strangers,
                    a_customer_without_orders_gets_an_empty_last_page,
                    pages_are_the_same_whatever_the_delivery_order,
                    after_sale_views_are_stored_and_listed_with_their_status,
                    a_refunds_restock_shows_in_the_inventory,
                    orders_are_counted_once_under_their_current_status,
                    a_remembering_projector_beside_a_rival_ends_in_the_straight_fold,
                ]
            );
        }
    };
}

/// The event log and the read models kept from it.
pub struct Stores<E, R> {
    pub log: E,
    pub views: R,
}

/// What a read-model store is to the pipeline: the projection step's store of both views, and
/// what the app's queries read.
pub trait ReadModelStore: ViewStore<OrderView> + ViewStore<InventoryView> + ReadModels {}
impl<R: ViewStore<OrderView> + ViewStore<InventoryView> + ReadModels> ReadModelStore for R {}

type Subject<E, R> = Fixture<Stores<E, R>>;

/// Appends `events` as a new `stream`; returns them as recorded.
async fn append<E: EventStore>(
    log: &E,
    stream: &StreamId,
    events: Vec<(&'static str, u32, String)>,
) -> Vec<RecordedEvent> {
    let write = write_after(stream, None, events, &meta(OrderId::generate()));
    log.append(vec![write]).await.unwrap();
    log.read_stream(stream, 0).await.unwrap()
}

/// A new order's stream: placed, validated, paid (versions 1 to 3).
async fn order_stream<E: EventStore>(log: &E) -> (OrderId, Vec<RecordedEvent>) {
    let id = OrderId::generate();
    let p = product("SKU-RM");
    let paid = OrderEvent::PaymentCaptured(PaymentCaptured {
        payment_id: "ch_1".into(),
        amount: Money::from_minor(1999),
    });
    let events = vec![
        order_placed(id, &p).encode(),
        order_validated(&p).encode(),
        paid.encode(),
    ];
    (id, append(log, &id.stream(), events).await)
}

/// A new product's stream: added with 10 in stock, then two reservations (versions 1 to 3).
async fn product_stream<E: EventStore>(log: &E) -> (ProductId, Vec<RecordedEvent>) {
    let id = product(&format!("SKU-{}", OrderId::generate()));
    let reserved = |stock_after| {
        ProductEvent::StockReserved(StockReserved {
            order_id: OrderId::generate(),
            quantity: Quantity::new(1).unwrap(),
            stock_after,
            price: Money::from_minor(1999),
        })
        .encode()
    };
    let events = vec![product_added(10).encode(), reserved(9), reserved(8)];
    (id.clone(), append(log, &id.stream(), events).await)
}

fn straight<V: View>(history: &[RecordedEvent]) -> V {
    V::fold(None, history).unwrap().expect("a view")
}

async fn order_view<R: ReadModelStore>(views: &R, id: OrderId) -> Option<OrderView> {
    ViewStore::<OrderView>::get(views, &id.to_string())
        .await
        .unwrap()
}

async fn stock_view<R: ReadModelStore>(views: &R, id: &ProductId) -> Option<InventoryView> {
    ViewStore::<InventoryView>::get(views, id.as_str())
        .await
        .unwrap()
}

/// Streams deliver at least once and two projectors may race on a row: a put of the stored
/// version or an older one is `Stale` and changes nothing.
pub async fn an_older_or_equal_version_never_overwrites_a_newer_view<
    E: EventStore,
    R: ReadModelStore,
>(
    s: &Subject<E, R>,
) {
    let (order, events) = order_stream(&s.log).await;
    let (ahead, behind): (OrderView, OrderView) = (straight(&events[..2]), straight(&events[..1]));
    assert_eq!(s.views.put(&ahead).await.unwrap(), ViewWrite::Written);
    assert_eq!(s.views.put(&behind).await.unwrap(), ViewWrite::Stale);
    assert_eq!(s.views.put(&ahead).await.unwrap(), ViewWrite::Stale);
    assert_eq!(order_view(&s.views, order).await, Some(ahead));

    let (id, events) = product_stream(&s.log).await;
    let (ahead, behind): (InventoryView, InventoryView) =
        (straight(&events[..2]), straight(&events[..1]));
    assert_eq!(s.views.put(&ahead).await.unwrap(), ViewWrite::Written);
    assert_eq!(s.views.put(&behind).await.unwrap(), ViewWrite::Stale);
    assert_eq!(s.views.put(&ahead).await.unwrap(), ViewWrite::Stale);
    assert_eq!(stock_view(&s.views, &id).await, Some(ahead));
}

/// A record whose predecessors were lost or are still in flight makes the step fold the
/// stream from the log: the view is the one a straight fold of the stream gives.
pub async fn a_record_past_a_gap_refolds_to_the_straight_fold<E: EventStore, R: ReadModelStore>(
    s: &Subject<E, R>,
) {
    let (order, events) = order_stream(&s.log).await;
    let applied = advance::<OrderView, _, _>(&s.views, &s.log, &events[2]).await;
    assert_eq!(applied.unwrap(), Applied::Written);
    assert_eq!(order_view(&s.views, order).await, Some(straight(&events)));

    // A reservation seen before the product's first event: the name comes from the log, and
    // the refold reads the stream as it stands, past the delivered record.
    let (id, events) = product_stream(&s.log).await;
    let applied = advance::<InventoryView, _, _>(&s.views, &s.log, &events[1]).await;
    assert_eq!(applied.unwrap(), Applied::Written);
    let view = stock_view(&s.views, &id).await.unwrap();
    assert_eq!(view, straight(&events));
    assert_eq!((view.name.as_str(), view.available), ("Widget", 8));
}

/// At-least-once, out-of-order delivery: whatever the permutation (with repeats), the stored
/// view ends as the straight fold, and a record seen again changes nothing.
pub async fn duplicated_and_reordered_records_end_in_the_straight_fold<
    E: EventStore,
    R: ReadModelStore,
>(
    s: &Subject<E, R>,
) {
    const DELIVERIES: [&[usize]; 4] = [&[2, 1, 0], &[1, 0, 0, 2, 1], &[0, 2, 1, 2], &[1, 2, 0, 0]];
    for delivery in DELIVERIES {
        let (order, events) = order_stream(&s.log).await;
        let (id, stock) = product_stream(&s.log).await;
        for &i in delivery {
            advance::<OrderView, _, _>(&s.views, &s.log, &events[i])
                .await
                .unwrap();
            advance::<InventoryView, _, _>(&s.views, &s.log, &stock[i])
                .await
                .unwrap();
        }
        let view = order_view(&s.views, order).await;
        assert_eq!(view, Some(straight(&events)), "orders, {delivery:?}");
        let view = stock_view(&s.views, &id).await;
        assert_eq!(view, Some(straight(&stock)), "inventory, {delivery:?}");
        for i in 0..3 {
            // A stream's first record folds its view from nothing, without reading the stored
            // one, so seen again it is the store that refuses it (Stale); a later record is
            // skipped against the view read (Unchanged). Either way nothing changes.
            let want = if i == 0 {
                Applied::Stale
            } else {
                Applied::Unchanged
            };
            let again = advance::<OrderView, _, _>(&s.views, &s.log, &events[i]).await;
            assert_eq!(again.unwrap(), want);
            let again = advance::<InventoryView, _, _>(&s.views, &s.log, &stock[i]).await;
            assert_eq!(again.unwrap(), want);
        }
        assert_eq!(order_view(&s.views, order).await, Some(straight(&events)));
        assert_eq!(stock_view(&s.views, &id).await, Some(straight(&stock)));
    }
}

/// A record of another view's stream, or one whose refold past a gap applies nothing (an order
/// stream that does not start with OrderPlaced), writes no view.
pub async fn a_record_that_applies_nothing_writes_nothing<E: EventStore, R: ReadModelStore>(
    s: &Subject<E, R>,
) {
    let (order, events) = order_stream(&s.log).await;
    let (id, stock) = product_stream(&s.log).await;
    let other = advance::<InventoryView, _, _>(&s.views, &s.log, &events[0]).await;
    assert_eq!(other.unwrap(), Applied::Unchanged);
    let other = advance::<OrderView, _, _>(&s.views, &s.log, &stock[0]).await;
    assert_eq!(other.unwrap(), Applied::Unchanged);
    assert_eq!(order_view(&s.views, order).await, None);
    assert_eq!(stock_view(&s.views, &id).await, None);

    let headless = OrderId::generate();
    let p = product("SKU-RM");
    let events = vec![order_validated(&p).encode(), order_validated(&p).encode()];
    let events = append(&s.log, &headless.stream(), events).await;
    let refolded = advance::<OrderView, _, _>(&s.views, &s.log, &events[1]).await;
    assert_eq!(refolded.unwrap(), Applied::Unchanged);
    assert_eq!(order_view(&s.views, headless).await, None);
}

/// A view behind its stream: GET /orders/{id} answers the first event's view while the
/// projection has no row (never a 404 for an order in the log, and never a status the row,
/// once written, could be behind: a poller's statuses only move forward), and the next record
/// the projection sees catches the row up to the straight fold.
pub async fn a_lagging_view_is_caught_up_from_the_log<E: EventStore, R: ReadModelStore>(
    s: &Subject<E, R>,
) {
    let (order, events) = order_stream(&s.log).await;
    assert!(events.len() > 2, "a stream past its first event");
    let answered = order_app::query::get_order(&s.log, &s.views, order).await;
    assert_eq!(answered.unwrap(), Some(straight(&events[..1])));

    // The row appears behind the log: the answer moves on from the first event's view.
    s.views
        .put(&straight::<OrderView>(&events[..2]))
        .await
        .unwrap();
    let answered = order_app::query::get_order(&s.log, &s.views, order)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answered, straight(&events[..2]));
    assert!(
        answered.version > 1,
        "the row is past the first event's view"
    );

    // A row a record behind a gap: the next record the projection sees refolds from the log.
    let (order, events) = order_stream(&s.log).await;
    s.views
        .put(&straight::<OrderView>(&events[..1]))
        .await
        .unwrap();
    let applied = advance::<OrderView, _, _>(&s.views, &s.log, &events[2]).await;
    assert_eq!(applied.unwrap(), Applied::Written);
    assert_eq!(order_view(&s.views, order).await, Some(straight(&events)));

    let (id, stock) = product_stream(&s.log).await;
    s.views
        .put(&straight::<InventoryView>(&stock[..1]))
        .await
        .unwrap();
    let applied = advance::<InventoryView, _, _>(&s.views, &s.log, &stock[2]).await;
    assert_eq!(applied.unwrap(), Applied::Written);
    assert_eq!(stock_view(&s.views, &id).await, Some(straight(&stock)));
}

/// The app's queries read the stored views; unknown ids are `None` and unknown products do
/// not exist.
pub async fn the_apps_queries_read_what_was_projected<E: EventStore, R: ReadModelStore>(
    s: &Subject<E, R>,
) {
    let (order, events) = order_stream(&s.log).await;
    let (id, stock) = product_stream(&s.log).await;
    assert_eq!(s.views.get_order(order).await.unwrap(), None);
    assert!(!s.views.product_exists(&id).await.unwrap());
    for record in events.iter().chain(&stock) {
        advance::<OrderView, _, _>(&s.views, &s.log, record)
            .await
            .unwrap();
        advance::<InventoryView, _, _>(&s.views, &s.log, record)
            .await
            .unwrap();
    }
    assert_eq!(
        s.views.get_order(order).await.unwrap(),
        Some(straight(&events))
    );
    assert_eq!(
        s.views.get_inventory(&id).await.unwrap(),
        Some(straight(&stock))
    );
    assert!(s.views.product_exists(&id).await.unwrap());
    let unknown = product("SKU-NONE");
    assert_eq!(s.views.get_inventory(&unknown).await.unwrap(), None);
    assert!(!s.views.product_exists(&unknown).await.unwrap());
}
