//! The listing half of the read-model contract (GET /orders): a customer's orders, newest
//! first, a page at a time through `ReadModels::list_orders`, on views the projection step
//! wrote.
//!
//! Each case reads the listing right after projecting. On DynamoDB the listing reads a global
//! secondary index, which is eventually consistent; moto applies index writes at once, so the
//! cases hold there as written, while against real DynamoDB a listing may trail the puts by
//! a moment (documented on `OrderStatusTable::by_customer`).

use order_domain::ports::EventStore;
use order_domain::{CustomerId, EventMeta, OrderEvent, OrderId, RecordedEvent, Timestamp};
use order_read_models::listing::newest_first;
use order_read_models::{OrderCursor, OrderPage, OrderView, View, advance};

use super::{ReadModelStore, Subject};
use crate::events::{order_placed, order_validated, product, write_after};

/// The instant the cases' orders are placed around (2026-01-01).
const START_MS: u64 = 1_767_225_600_000;

fn new_customer() -> CustomerId {
    CustomerId::parse(&format!("cust-{}", OrderId::generate())).unwrap()
}

/// Appends an order of `customer` placed at `placed_ms` and validated 5 ms later; returns its
/// two records.
async fn placed_order<E: EventStore>(
    log: &E,
    customer: &CustomerId,
    placed_ms: u64,
) -> Vec<RecordedEvent> {
    let id = OrderId::generate();
    let p = product("SKU-LIST");
    let mut placed = order_placed(id, &p);
    if let OrderEvent::OrderPlaced(event) = &mut placed {
        event.customer_id = customer.clone();
    }
    let at = |ms| EventMeta {
        correlation_id: id.into(),
        causation_id: "test".into(),
        occurred_at: Timestamp::from_millis(ms),
        trace_parent: None,
    };
    let first = write_after(&id.stream(), None, [placed.encode()], &at(placed_ms));
    log.append(vec![first]).await.unwrap();
    let head = log.read_stream(&id.stream(), 0).await.unwrap();
    let second = write_after(
        &id.stream(),
        head.last(),
        [order_validated(&p).encode()],
        &at(placed_ms + 5),
    );
    log.append(vec![second]).await.unwrap();
    log.read_stream(&id.stream(), 0).await.unwrap()
}

/// Projects `records` one by one, in the order given.
async fn project<E: EventStore, R: ReadModelStore>(s: &Subject<E, R>, records: &[RecordedEvent]) {
    for record in records {
        advance::<OrderView, _, _>(&s.views, &s.log, record)
            .await
            .unwrap();
    }
}

/// The straight fold of each stream, in listing order: what every page must add up to.
fn expected(streams: &[Vec<RecordedEvent>]) -> Vec<OrderView> {
    let mut views: Vec<OrderView> = streams
        .iter()
        .map(|s| OrderView::fold(None, s).unwrap().expect("an order"))
        .collect();
    views.sort_by(newest_first);
    views
}

/// Follows `next` from the first page to the last, each cursor round-tripped through its
/// opaque text as a client would; every page but the last is full and has a `next`.
async fn all_pages<R: ReadModelStore>(
    views: &R,
    customer: &CustomerId,
    limit: usize,
) -> Vec<OrderPage> {
    let mut pages: Vec<OrderPage> = Vec::new();
    let mut after: Option<OrderCursor> = None;
    loop {
        let page = views
            .list_orders(customer, limit, after.as_ref())
            .await
            .unwrap();
        assert!(page.orders.len() <= limit, "a page over its limit");
        after = match page.next {
            Some(next) => {
                assert_eq!(page.orders.len(), limit, "a page with a next is full");
                assert_eq!(page.orders.last().map(OrderCursor::of), Some(next));
                let text = next.encode();
                let back = OrderCursor::decode(&text).unwrap();
                assert_eq!(back, next, "the cursor survives its text form");
                Some(back)
            }
            None => None,
        };
        let last = after.is_none();
        pages.push(page);
        assert!(pages.len() <= 100, "the listing does not end");
        if last {
            return pages;
        }
    }
}

fn flatten(pages: Vec<OrderPage>) -> Vec<OrderView> {
    pages.into_iter().flat_map(|p| p.orders).collect()
}

/// 50 orders of one customer among another customer's: pages of 7 hold each of hers exactly
/// once, newest first (orders of the same millisecond by id), none of his, and the last page
/// says it is the last. 100 a page is one page; a page that ends exactly at her last order
/// still ends the listing.
pub async fn a_customers_orders_page_newest_first_without_gaps_repeats_or_strangers<
    E: EventStore,
    R: ReadModelStore,
>(
    s: &Subject<E, R>,
) {
    let (her, him) = (new_customer(), new_customer());
    let mut hers = Vec::new();
    let mut his = Vec::new();
    for i in 0..50 {
        // Three orders a millisecond: ties must be broken by the id, across page boundaries.
        let records = placed_order(&s.log, &her, START_MS + i / 3).await;
        project(s, &records).await;
        hers.push(records);
        if i % 3 == 0 {
            let records = placed_order(&s.log, &him, START_MS + i / 3).await;
            project(s, &records).await;
            his.push(records);
        }
    }
    let want = expected(&hers);

    let pages = all_pages(&s.views, &her, 7).await;
    assert_eq!(pages.len(), 8, "50 orders, 7 a page");
    assert_eq!(pages.last().map(|p| p.orders.len()), Some(1));
    let listed = flatten(pages);
    assert!(listed.iter().all(|o| o.customer_id == her.as_str()));
    assert_eq!(
        listed, want,
        "every order once, newest first, latest status"
    );

    let one = s.views.list_orders(&her, 100, None).await.unwrap();
    assert_eq!((one.orders, one.next), (want.clone(), None));
    let exact = all_pages(&s.views, &her, 25).await;
    assert_eq!(exact.len(), 2, "a full last page has no next");
    assert_eq!(flatten(exact), want);
    assert_eq!(flatten(all_pages(&s.views, &him, 7).await), expected(&his));
}

/// A customer who never ordered gets one empty page with no next, also after a cursor from
/// someone else's listing.
pub async fn a_customer_without_orders_gets_an_empty_last_page<E: EventStore, R: ReadModelStore>(
    s: &Subject<E, R>,
) {
    let (someone, nobody) = (new_customer(), new_customer());
    let records = placed_order(&s.log, &someone, START_MS).await;
    project(s, &records).await;
    let empty = s.views.list_orders(&nobody, 20, None).await.unwrap();
    assert_eq!(empty, OrderPage::default());
    let foreign = OrderCursor::of(&expected(&[records])[0]);
    let empty = s.views.list_orders(&nobody, 20, Some(&foreign)).await;
    assert_eq!(empty.unwrap(), OrderPage::default());
}

/// The listing is a function of the log: records delivered out of order and twice (as a
/// stream redelivers after a crash) give the same pages as the straight fold of each stream,
/// which is what a rebuild of the view writes. Each order shows its latest status.
pub async fn pages_are_the_same_whatever_the_delivery_order<E: EventStore, R: ReadModelStore>(
    s: &Subject<E, R>,
) {
    let customer = new_customer();
    let mut streams = Vec::new();
    for i in 0..12 {
        streams.push(placed_order(&s.log, &customer, START_MS + 10 * (i % 4)).await);
    }
    // Newest streams first, each stream's last record before its first, every record twice.
    let mut scrambled: Vec<RecordedEvent> = streams
        .iter()
        .rev()
        .flat_map(|records| records.iter().rev().cloned())
        .collect();
    scrambled.extend(scrambled.clone());
    project(s, &scrambled).await;

    let want = expected(&streams);
    assert!(want.iter().all(|v| v.version == 2), "validated, not placed");
    for limit in [1, 5, 12, 100] {
        let pages = all_pages(&s.views, &customer, limit).await;
        assert_eq!(flatten(pages), want, "limit {limit}");
    }
}
