//! The one rule of the projection step beyond `step`: a view is written only when its version
//! moves forward, including after a refold past a gap.

use order_domain::events::DecodeError;
use order_domain::{OrderEvent, OrderId, ProductId, RecordedEvent};
use order_read_models::{Next, OrderView, View, advance_batch, next, refold};

mod support;
use support::{placed_and_validated, seal_all};

/// OrderPlaced then OrderValidated of one new order.
fn order() -> Vec<RecordedEvent> {
    let id = OrderId::generate();
    let events = placed_and_validated(id, &ProductId::parse("P1").unwrap());
    seal_all(
        &id.stream(),
        events.iter().map(OrderEvent::encode).collect(),
    )
}

#[test]
fn a_record_past_a_gap_asks_for_the_history_after_the_views_version() {
    let log = order();
    assert_eq!(
        next::<OrderView>(None, &log[1]).unwrap(),
        Next::ReadHistory { after_version: 0 }
    );
    let straight = OrderView::fold(None, &log).unwrap().unwrap();
    assert_eq!(refold(None, &log).unwrap(), Next::Write(straight));
}

#[test]
fn a_refold_that_ends_at_the_views_own_version_writes_nothing() {
    let log = order();
    let placed = OrderView::fold(None, &log[..1]).unwrap().unwrap();
    // The history read after the gap brought nothing past the stored view.
    assert_eq!(refold(Some(&placed), &[]).unwrap(), Next::Keep);
    assert_eq!(refold(Some(&placed), &log[..1]).unwrap(), Next::Keep);
    // A stream that does not start with OrderPlaced folds to no view at all.
    assert_eq!(refold::<OrderView>(None, &log[1..]).unwrap(), Next::Keep);
}

#[test]
fn a_batch_returns_only_the_views_it_moved_each_once() {
    let log = order();
    let placed = OrderView::fold(None, &log[..1]).unwrap().unwrap();
    let stored = OrderView::fold(None, &log[..2]).unwrap().unwrap();
    // A duplicate of what the view holds: nothing to write.
    let moved = advance_batch::<OrderView, DecodeError>(
        [&log[1], &log[1]],
        |_| Ok(Some(stored.clone())),
        |_, _| Ok(Vec::new()),
    )
    .unwrap();
    assert!(moved.is_empty());
    // From the stream's first event the view folds from nothing, unread (as `advance_run`
    // does): a redelivered first event costs a put the store's version guard refuses.
    let moved = advance_batch::<OrderView, DecodeError>(
        [&log[0], &log[0]],
        |_| -> Result<Option<OrderView>, DecodeError> { panic!("read a view before version 1") },
        |_, _| Ok(Vec::new()),
    )
    .unwrap();
    assert_eq!(moved, vec![placed.clone()]);
    // A record past a gap whose history read brings nothing to fold: nothing to write.
    let moved =
        advance_batch::<OrderView, DecodeError>([&log[1]], |_| Ok(None), |_, _| Ok(Vec::new()))
            .unwrap();
    assert!(moved.is_empty());
    // Both records, twice and reversed: one write, the straight fold.
    let moved = advance_batch::<OrderView, DecodeError>(
        [&log[1], &log[0], &log[1], &log[0]],
        |_| Ok(None),
        |_, after| Ok(log[usize::try_from(after).unwrap()..].to_vec()),
    )
    .unwrap();
    assert_eq!(moved, vec![OrderView::fold(None, &log).unwrap().unwrap()]);
    assert_ne!(moved[0], placed);
}
