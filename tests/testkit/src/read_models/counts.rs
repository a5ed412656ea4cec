//! The counting half of the read-model contract (the console's counts by status): every
//! projected order counted once under its current status, nothing else counted.

use order_domain::order::OrderStatus;
use order_domain::ports::EventStore;
use order_read_models::{InventoryView, OrderView, advance};

use super::{ReadModelStore, Subject, order_stream, product_stream};

/// Counts follow the views: an empty store counts nothing; orders count under the status their
/// view has now (an order moved on leaves its old status); products and repeated deliveries
/// count nothing more.
pub async fn orders_are_counted_once_under_their_current_status<
    E: EventStore,
    R: ReadModelStore,
>(
    s: &Subject<E, R>,
) {
    let empty = s.views.count_by_status().await.unwrap();
    assert_eq!(empty.total(), 0, "{empty:?}");

    // Two orders projected to PAID (one delivered twice), one only to PLACED, and a product.
    let mut placed_only = None;
    for (i, upto) in [3, 3, 1].into_iter().enumerate() {
        let (id, events) = order_stream(&s.log).await;
        for record in &events[..upto] {
            advance::<OrderView, _, _>(&s.views, &s.log, record)
                .await
                .unwrap();
        }
        if i == 0 {
            advance::<OrderView, _, _>(&s.views, &s.log, &events[2])
                .await
                .unwrap();
        }
        if upto == 1 {
            placed_only = Some((id, events));
        }
    }
    let (_, stock) = product_stream(&s.log).await;
    for record in &stock {
        advance::<InventoryView, _, _>(&s.views, &s.log, record)
            .await
            .unwrap();
    }
    let counts = s.views.count_by_status().await.unwrap();
    assert_eq!(counts.get(OrderStatus::Paid), 2, "{counts:?}");
    assert_eq!(counts.get(OrderStatus::Placed), 1, "{counts:?}");
    assert_eq!(counts.total(), 3, "{counts:?}");

    // The PLACED order moves on: it leaves PLACED and counts as VALIDATED.
    let (_, events) = placed_only.expect("a placed order");
    advance::<OrderView, _, _>(&s.views, &s.log, &events[1])
        .await
        .unwrap();
    let counts = s.views.count_by_status().await.unwrap();
    assert_eq!(counts.get(OrderStatus::Placed), 0, "{counts:?}");
    assert_eq!(counts.get(OrderStatus::Validated), 1, "{counts:?}");
    assert_eq!(counts.total(), 3, "{counts:?}");
    let listed: Vec<_> = counts.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        listed,
        [(OrderStatus::Validated, 1), (OrderStatus::Paid, 2)],
        "{counts:?}"
    );
}
