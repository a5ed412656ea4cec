//! `decide_and_append`: the read-decide-append under racing writers, and what it retries.

use order_domain::OrderId;
use order_domain::envelope::verify_chain;
use order_domain::ports::{DecideError, EventStore, StoreError};
use order_domain::product::ProductState;

use crate::Fixture;
use crate::events::{meta, one_reserved, product, product_added, write_after};

/// A flash sale: ten buyers race for seven units held in the product stream's head. Every
/// decision is taken on the head it appends after, so the stock never goes below zero and
/// every successful decision is exactly one new version. A racer may run out of retries on a
/// store that retries (DynamoDB): that is a `Conflict`, never a lost update.
pub async fn decide_and_append_under_racing_writers_loses_no_update<S: EventStore + Clone>(
    store: &Fixture<S>,
) {
    const STOCK: u64 = 7;
    let order = OrderId::generate();
    let p = product("SKU-HOT");
    let seed = write_after(
        &p.stream(),
        None,
        [product_added(STOCK).encode()],
        &meta(order),
    );
    store.append(vec![seed]).await.unwrap();

    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (store, stream) = (store.subject.clone(), p.stream());
        buyers.spawn(async move {
            store
                .decide_and_append(vec![stream.clone()], move |heads| {
                    let head = heads[0].as_ref();
                    let stock = head.map_or(0, |h| ProductState::from_head(h).unwrap().stock);
                    if stock == 0 {
                        return Err("sold out");
                    }
                    let event = one_reserved(stock - 1).encode();
                    Ok((vec![write_after(&stream, head, [event], &meta(order))], ()))
                })
                .await
        });
    }
    let (mut sold, mut gave_up) = (0, 0);
    while let Some(outcome) = buyers.join_next().await {
        match outcome.unwrap() {
            Ok(()) => sold += 1,
            Err(DecideError::Refused(_)) => {}
            Err(DecideError::Store(StoreError::Conflict { .. })) => gave_up += 1,
            Err(DecideError::Store(e)) => panic!("unexpected store error: {e}"),
        }
    }
    let log = store.read_stream(&p.stream(), 0).await.unwrap();
    assert_eq!(
        log.len() as u64,
        1 + sold,
        "one version per successful decision"
    );
    assert_eq!(verify_chain(&log), Ok(()));
    let stock_left = ProductState::from_head(log.last().unwrap()).unwrap().stock;
    assert_eq!(stock_left, STOCK - sold, "no update lost");
    if gave_up == 0 {
        assert_eq!(sold, STOCK, "every unit sold, none twice");
    }
}

/// A write to a stream the decision did not read carries the caller's own version (an order it
/// loaded itself): a conflict there cannot be cured by fresh heads, so it is answered at once,
/// the decision taken once, and nothing written on any stream.
pub async fn a_conflict_on_a_stream_the_decision_did_not_read_is_answered_at_once<
    S: EventStore + Clone,
>(
    store: &Fixture<S>,
) {
    let order = OrderId::generate();
    let p = product("SKU-UNREAD");
    let seed = write_after(&p.stream(), None, [product_added(5).encode()], &meta(order));
    store.append(vec![seed]).await.unwrap();
    // The caller's stream has moved past the version it will write at.
    let theirs = order.stream();
    let first = write_after(&theirs, None, [product_added(1).encode()], &meta(order));
    store.append(vec![first]).await.unwrap();

    let decisions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&decisions);
    let (stream, stale) = (p.stream(), theirs.clone());
    let result = store
        .decide_and_append(vec![p.stream()], move |heads| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let head = heads[0].as_ref();
            let reserve = write_after(&stream, head, [one_reserved(4).encode()], &meta(order));
            let mine = write_after(&stale, None, [product_added(1).encode()], &meta(order));
            Ok::<_, ()>((vec![mine, reserve], ()))
        })
        .await;
    match result {
        Err(DecideError::Store(StoreError::Conflict { stream, .. })) => {
            assert_eq!(stream, theirs.to_string());
        }
        other => panic!("expected a conflict on {theirs}, got {other:?}"),
    }
    assert_eq!(decisions.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(store.read_stream(&p.stream(), 0).await.unwrap().len(), 1);
    assert_eq!(store.read_stream(&theirs, 0).await.unwrap().len(), 1);
}
