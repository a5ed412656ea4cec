//! The projector's memory of its views ([`Remembered`]) on each store: beside a rival projector
//! that moves the same rows, and with redeliveries, the rows still end in the straight fold.

use order_domain::ports::EventStore;
use order_read_models::{Applied, InventoryView, OrderView, Remembered, advance, advance_run};

use super::{
    ReadModelStore, Subject, order_stream, order_view, product_stream, stock_view, straight,
};

/// A remembering projector and a rival on the same rows (a second Lambda instance after a
/// shard split, a redrive): the remembered view falls behind the row, its write is refused
/// (`Stale`), the next run reads the row, and the rows end as the straight folds.
pub async fn a_remembering_projector_beside_a_rival_ends_in_the_straight_fold<
    E: EventStore,
    R: ReadModelStore,
>(
    s: &Subject<E, R>,
) {
    let (order, events) = order_stream(&s.log).await;
    let orders: Remembered<&R, OrderView> = Remembered::new(&s.views);
    let rival = &s.views;
    let step = |views, i: usize| advance::<OrderView, _, _>(views, &s.log, &events[i]);
    assert_eq!(step(&orders, 0).await.unwrap(), Applied::Written);
    assert_eq!(orders.remembered(), 1);
    // The rival applies version 2; the remembering projector, handed it again, still holds
    // version 1: its write is refused and it forgets the row.
    assert_eq!(
        advance::<OrderView, _, _>(rival, &s.log, &events[1])
            .await
            .unwrap(),
        Applied::Written
    );
    assert_eq!(step(&orders, 1).await.unwrap(), Applied::Stale);
    assert_eq!(orders.remembered(), 0);
    // Version 3 starts from the row (version 2), and is remembered again.
    assert_eq!(step(&orders, 2).await.unwrap(), Applied::Written);
    assert_eq!(orders.remembered(), 1);
    assert_eq!(order_view(&s.views, order).await, Some(straight(&events)));

    // Inventory: the rival runs ahead by two. The remembering projector, still at version 1,
    // steps the same run from its memory and its write is refused (Stale); handed the last
    // record again, it reads the row and skips what is already in.
    let (id, stock) = product_stream(&s.log).await;
    let products: Remembered<&R, InventoryView> = Remembered::new(&s.views);
    let first = [&stock[0]];
    assert_eq!(
        advance_run::<InventoryView, _, _>(&products, &s.log, &first)
            .await
            .unwrap(),
        Applied::Written
    );
    let rest = [&stock[1], &stock[2]];
    assert_eq!(
        advance_run::<InventoryView, _, _>(rival, &s.log, &rest)
            .await
            .unwrap(),
        Applied::Written
    );
    let again = advance_run::<InventoryView, _, _>(&products, &s.log, &rest)
        .await
        .unwrap();
    assert_eq!(again, Applied::Stale);
    let last = [&stock[2]];
    let seen = advance_run::<InventoryView, _, _>(&products, &s.log, &last)
        .await
        .unwrap();
    assert_eq!(seen, Applied::Unchanged);
    assert_eq!(stock_view(&s.views, &id).await, Some(straight(&stock)));
}
