//! The [`EventStore`] contract: what every event store MUST do, run against each adapter.
//!
//! Both stores check an append with the domain's `check_append` before writing, so they refuse
//! the same appends with the same error: out-of-sequence events as `Corrupt`, more than
//! `MAX_APPEND_ITEMS` items (one per event, one per event-less guard write) as `TooLarge`.
//!
//! One difference is not tested here, because no caller can reach it: an `expected_version`
//! *ahead* of the stream (a head nobody read) is a `Conflict` on SQLite, which compares the
//! head, while DynamoDB only checks that nothing exists after `expected_version` (comparing
//! the head too would take a transaction, two write units, for every single-event append).
//! Streams never shrink and every caller reads the head first.

use order_domain::envelope::verify_chain;
use order_domain::ports::{EventStore, StoreError};
use order_domain::{EventMeta, OrderId, RecordedEvent, StreamId, TraceParent};

use crate::Fixture;
use crate::events::{filler, guard, meta, product, product_added, write_after};

mod decide;
pub use decide::*;

/// Every case of the event-store contract as `#[tokio::test]`s in a module named `$backend`,
/// on the stores `$make` (a full path, e.g. `crate::backends::sqlite_event_store`) builds.
#[macro_export]
macro_rules! event_store_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                event_store,
                [
                    an_absent_stream_reads_as_empty,
                    appended_events_read_back_in_version_order_with_an_unbroken_chain,
                    the_trace_context_round_trips_and_an_event_without_one_reads_back_none,
                    reading_after_a_version_returns_only_the_later_events,
                    an_event_is_known_by_its_stream_and_version_not_by_its_event_id,
                    second_append_at_the_same_version_is_a_conflict,
                    two_racing_appends_at_the_same_version_let_exactly_one_through,
                    a_conflict_on_one_stream_of_a_multi_stream_append_writes_nothing_on_any,
                    an_out_of_sequence_write_is_refused_as_corrupt_and_writes_nothing,
                    an_append_of_exactly_100_items_is_written_whole,
                    an_append_of_101_items_is_too_large_and_writes_nothing,
                    an_event_less_write_guards_its_stream_without_appending_to_it,
                    an_append_without_any_event_writes_and_checks_nothing,
                    read_heads_answers_each_streams_last_event_in_the_order_asked,
                    decide_and_append_under_racing_writers_loses_no_update,
                    a_conflict_on_a_stream_the_decision_did_not_read_is_answered_at_once,
                ]
            );
        }
    };
}

async fn len<S: EventStore>(store: &S, stream: &StreamId) -> usize {
    store.read_stream(stream, 0).await.unwrap().len()
}

async fn head<S: EventStore>(store: &S, stream: &StreamId) -> Option<RecordedEvent> {
    store
        .read_heads(std::slice::from_ref(stream))
        .await
        .unwrap()
        .remove(0)
}

/// A fresh order stream holding `n` filler events.
async fn stream_of<S: EventStore>(store: &S, n: usize) -> StreamId {
    let order = OrderId::generate();
    let stream = order.stream();
    store
        .append(vec![write_after(&stream, None, filler(n), &meta(order))])
        .await
        .unwrap();
    stream
}

pub async fn an_absent_stream_reads_as_empty<S: EventStore>(store: &Fixture<S>) {
    let stream = OrderId::generate().stream();
    assert!(store.read_stream(&stream, 0).await.unwrap().is_empty());
    assert_eq!(store.read_heads(&[stream]).await.unwrap(), vec![None]);
}

pub async fn appended_events_read_back_in_version_order_with_an_unbroken_chain<S: EventStore>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let stream = order.stream();
    let first = write_after(&stream, None, filler(1), &meta(order));
    store.append(vec![first.clone()]).await.unwrap();
    let second = write_after(&stream, first.events.last(), filler(3), &meta(order));
    store.append(vec![second.clone()]).await.unwrap();
    let all = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(all, [first.events, second.events].concat());
    assert_eq!(verify_chain(&all), Ok(()));
}

/// The W3C trace context is stored with the event (not hashed: the chain still verifies), and
/// an event appended without one reads back `None`, by stream and as a head.
pub async fn the_trace_context_round_trips_and_an_event_without_one_reads_back_none<
    S: EventStore,
>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let stream = order.stream();
    let traced = EventMeta {
        trace_parent: Some(TraceParent::new_root()),
        ..meta(order)
    };
    let first = write_after(&stream, None, filler(2), &traced);
    store.append(vec![first.clone()]).await.unwrap();
    let second = write_after(&stream, first.events.last(), filler(1), &meta(order));
    store.append(vec![second]).await.unwrap();
    let all = store.read_stream(&stream, 0).await.unwrap();
    let carried: Vec<_> = all.iter().map(|e| e.trace_parent).collect();
    assert_eq!(carried, [traced.trace_parent, traced.trace_parent, None]);
    assert_eq!(verify_chain(&all), Ok(()));
    assert_eq!(head(&**store, &stream).await.unwrap().trace_parent, None);
}

pub async fn reading_after_a_version_returns_only_the_later_events<S: EventStore>(
    store: &Fixture<S>,
) {
    let stream = stream_of(&**store, 6).await;
    let versions = |events: Vec<RecordedEvent>| events.iter().map(|e| e.version).collect();
    let tail: Vec<u64> = versions(store.read_stream(&stream, 4).await.unwrap());
    assert_eq!(tail, [5, 6]);
    assert!(store.read_stream(&stream, 6).await.unwrap().is_empty());
}

/// An event is the log's by its stream and version: DynamoDB keys the table on them alone, and
/// the SQLite log has no event-id index either, so neither store refuses an event whose id
/// another stream's event already has (ids are ULIDs made once per event; nothing looks an
/// event up by its id). Both read each back as written.
pub async fn an_event_is_known_by_its_stream_and_version_not_by_its_event_id<S: EventStore>(
    store: &Fixture<S>,
) {
    let first = stream_of(&**store, 1).await;
    let taken = store
        .read_stream(&first, 0)
        .await
        .unwrap()
        .remove(0)
        .event_id;
    let order = OrderId::generate();
    let mut again = write_after(&order.stream(), None, filler(1), &meta(order));
    again.events[0].event_id = taken;
    again.events[0].hash = again.events[0].compute_hash().into();
    store.append(vec![again.clone()]).await.unwrap();
    assert_eq!(
        store.read_stream(&order.stream(), 0).await.unwrap(),
        again.events
    );
    assert_eq!(len(&**store, &first).await, 1);
}

/// A writer that read an old head loses, whether its append is one event (DynamoDB: one
/// conditional PutItem) or several (one transaction), and writes nothing.
pub async fn second_append_at_the_same_version_is_a_conflict<S: EventStore>(store: &Fixture<S>) {
    let stream = stream_of(&**store, 2).await;
    for n in [1, 3] {
        let stale = write_after(&stream, None, filler(n), &meta(stream.order_id().unwrap()));
        assert_eq!(
            store.append(vec![stale]).await,
            Err(StoreError::Conflict {
                stream: stream.to_string(),
                expected_version: 0
            }),
            "a stale append of {n} events"
        );
    }
    assert_eq!(len(&**store, &stream).await, 2);
}

pub async fn two_racing_appends_at_the_same_version_let_exactly_one_through<S: EventStore>(
    store: &Fixture<S>,
) {
    let stream = stream_of(&**store, 1).await;
    let at = head(&**store, &stream).await;
    let racer = |who: &str| {
        let event = ("TestEvent", 1, format!("{{\"by\":\"{who}\"}}"));
        write_after(
            &stream,
            at.as_ref(),
            [event],
            &meta(stream.order_id().unwrap()),
        )
    };
    let (a, b) = tokio::join!(
        store.append(vec![racer("a")]),
        store.append(vec![racer("b")])
    );
    assert_eq!(
        [&a, &b].iter().filter(|r| r.is_ok()).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(matches!(
        a.and(b),
        Err(StoreError::Conflict {
            expected_version: 1,
            ..
        })
    ));
    let events = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(verify_chain(&events), Ok(()));
}

/// An order and two products move together or not at all: when one product's stream moved
/// first, neither the order's nor the other product's events are written.
pub async fn a_conflict_on_one_stream_of_a_multi_stream_append_writes_nothing_on_any<
    S: EventStore,
>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let (a, b) = (product("SKU-A"), product("SKU-B"));
    for p in [&a, &b] {
        let w = write_after(&p.stream(), None, [product_added(5).encode()], &meta(order));
        store.append(vec![w]).await.unwrap();
    }
    let heads = store.read_heads(&[a.stream(), b.stream()]).await.unwrap();
    let racer = write_after(&b.stream(), heads[1].as_ref(), filler(1), &meta(order));
    store.append(vec![racer]).await.unwrap();

    let ours = vec![
        write_after(&order.stream(), None, filler(1), &meta(order)),
        write_after(&a.stream(), heads[0].as_ref(), filler(1), &meta(order)),
        write_after(&b.stream(), heads[1].as_ref(), filler(1), &meta(order)),
    ];
    assert_eq!(
        store.append(ours).await,
        Err(StoreError::Conflict {
            stream: b.stream().to_string(),
            expected_version: 1
        })
    );
    assert_eq!(len(&**store, &order.stream()).await, 0);
    assert_eq!(len(&**store, &a.stream()).await, 1);
    assert_eq!(len(&**store, &b.stream()).await, 2);
}

/// Events must continue their write's stream: a gap, a version that does not follow
/// `expected_version`, or another stream's event would corrupt the log. Refused before
/// anything is written, even the valid writes beside it.
pub async fn an_out_of_sequence_write_is_refused_as_corrupt_and_writes_nothing<S: EventStore>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let stream = order.stream();
    let other = OrderId::generate().stream();
    let mut gap = write_after(&stream, None, filler(3), &meta(order));
    gap.events.remove(1);
    let mut skipped = write_after(&stream, None, filler(2), &meta(order));
    skipped.events.remove(0);
    let mut foreign = write_after(&stream, None, filler(1), &meta(order));
    foreign.events[0].stream_id = other.clone();
    for bad in [gap, skipped, foreign] {
        let valid = write_after(&other, None, filler(1), &meta(order));
        let result = store.append(vec![valid, bad]).await;
        assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
    }
    assert_eq!(len(&**store, &stream).await, 0);
    assert_eq!(len(&**store, &other).await, 0);
}

/// 100 items is one atomic append, counted the same on both: 98 events, a guard and an event.
pub async fn an_append_of_exactly_100_items_is_written_whole<S: EventStore>(store: &Fixture<S>) {
    let order = OrderId::generate();
    let p = product("SKU-A");
    let seeded = write_after(&p.stream(), None, [product_added(1).encode()], &meta(order));
    store.append(vec![seeded]).await.unwrap();
    let at = head(&**store, &p.stream()).await;
    let other = OrderId::generate().stream();
    let writes = vec![
        write_after(&order.stream(), None, filler(98), &meta(order)),
        guard(&p.stream(), at.as_ref()),
        write_after(&other, None, filler(1), &meta(order)),
    ];
    store.append(writes).await.unwrap();
    assert_eq!(len(&**store, &order.stream()).await, 98);
    assert_eq!(len(&**store, &other).await, 1);

    let hundred = OrderId::generate().stream();
    let whole = write_after(&hundred, None, filler(100), &meta(order));
    store.append(vec![whole]).await.unwrap();
    assert_eq!(len(&**store, &hundred).await, 100);
}

/// DynamoDB transactions hold at most 100 items; a split would not be atomic, so a wider
/// append is refused before anything is sent. A guard counts as an item, as it does there.
pub async fn an_append_of_101_items_is_too_large_and_writes_nothing<S: EventStore>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let (a, p) = (product("SKU-A"), product("SKU-B"));
    let events = vec![
        write_after(&order.stream(), None, filler(60), &meta(order)),
        write_after(&a.stream(), None, filler(41), &meta(order)),
    ];
    assert_eq!(
        store.append(events).await,
        Err(StoreError::TooLarge { items: 101 })
    );
    let with_guard = vec![
        write_after(&order.stream(), None, filler(100), &meta(order)),
        guard(&p.stream(), None),
    ];
    assert_eq!(
        store.append(with_guard).await,
        Err(StoreError::TooLarge { items: 101 })
    );
    for s in [order.stream(), a.stream(), p.stream()] {
        assert_eq!(len(&**store, &s).await, 0);
    }
}

/// A write of no event holds the append to its stream's version (a decision that took nothing
/// from a product, but only while the product is as it was read).
pub async fn an_event_less_write_guards_its_stream_without_appending_to_it<S: EventStore>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let p = product("SKU-A");
    let seeded = write_after(&p.stream(), None, [product_added(3).encode()], &meta(order));
    store.append(vec![seeded]).await.unwrap();
    let at = head(&**store, &p.stream()).await;

    let first = OrderId::generate().stream();
    let held = vec![
        write_after(&first, None, filler(1), &meta(order)),
        guard(&p.stream(), at.as_ref()),
    ];
    store.append(held).await.unwrap();
    assert_eq!(len(&**store, &first).await, 1);
    assert_eq!(len(&**store, &p.stream()).await, 1);

    let moved = write_after(&p.stream(), at.as_ref(), filler(1), &meta(order));
    store.append(vec![moved]).await.unwrap();
    let second = OrderId::generate().stream();
    let stale = vec![
        write_after(&second, None, filler(1), &meta(order)),
        guard(&p.stream(), at.as_ref()),
    ];
    assert_eq!(
        store.append(stale).await,
        Err(StoreError::Conflict {
            stream: p.stream().to_string(),
            expected_version: 1
        })
    );
    assert_eq!(len(&**store, &second).await, 0);
}

/// With no event there is nothing to keep atomic: guards alone are not checked.
pub async fn an_append_without_any_event_writes_and_checks_nothing<S: EventStore>(
    store: &Fixture<S>,
) {
    let stream = stream_of(&**store, 2).await;
    assert_eq!(store.append(vec![]).await, Ok(()));
    assert_eq!(store.append(vec![guard(&stream, None)]).await, Ok(()));
    assert_eq!(len(&**store, &stream).await, 2);
}

/// Heads come back in the order asked, `None` for a stream that does not exist.
pub async fn read_heads_answers_each_streams_last_event_in_the_order_asked<S: EventStore>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let (a, missing) = (product("SKU-A"), product("SKU-NONE"));
    store
        .append(vec![
            write_after(&order.stream(), None, filler(3), &meta(order)),
            write_after(&a.stream(), None, [product_added(2).encode()], &meta(order)),
        ])
        .await
        .unwrap();
    let heads = store
        .read_heads(&[
            missing.stream(),
            order.stream(),
            a.stream(),
            missing.stream(),
        ])
        .await
        .unwrap();
    let summary: Vec<_> = heads
        .iter()
        .map(|h| h.as_ref().map(|e| (e.version, e.event_type.as_str())))
        .collect();
    assert_eq!(
        summary,
        [
            None,
            Some((3, "TestEvent")),
            Some((1, "ProductAdded")),
            None
        ]
    );
}
