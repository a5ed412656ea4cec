//! The event log on DynamoDB: conditional appends, atomic multi-stream appends, paging.

use std::sync::Arc;

use order_aws::ConflictRetry;
use order_domain::events::decode_product;
use order_domain::ports::{DecideError, EventStore, StoreError};
use order_domain::product::ProductState;
use order_domain::{OrderId, ProductEvent, RecordedEvent};

use crate::common::{filler, meta, order_placed, product, product_added, write_after};
use crate::emulator_or_skip;

/// Two writers read the same head and append the next version at once: the conditional
/// put lets exactly one through; the other learns it lost, and nothing is overwritten.
#[tokio::test]
async fn two_concurrent_appends_at_the_same_version_one_wins_and_the_other_is_a_conflict() {
    let env = emulator_or_skip!("two_concurrent_appends");
    let store = Arc::new(env.store());
    let order = OrderId::generate();
    let stream = order.stream();
    let first = write_after(&stream, None, filler(1), &meta(order));
    store.append(vec![first]).await.unwrap();
    let head = store.read_head(&stream).await.unwrap();

    let racers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|who| {
            let w = write_after(
                &stream,
                head.as_ref(),
                [("TestEvent", 1, format!("{{\"by\":\"{who}\"}}"))],
                &meta(order),
            );
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.append(vec![w]).await })
        })
        .collect();
    let mut results = Vec::new();
    for r in racers {
        results.push(r.await.unwrap());
    }
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().any(|r| matches!(
        r,
        Err(StoreError::Conflict { expected_version: 1, stream: s }) if *s == stream.to_string()
    )));
    let events = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(order_domain::envelope::verify_chain(&events), Ok(()));
}

/// A multi-event append goes through TransactWriteItems: a conflict there is a Conflict too.
#[tokio::test]
async fn a_transactional_append_behind_the_head_is_a_conflict() {
    let env = emulator_or_skip!("a_transactional_append_behind_the_head");
    let store = env.store();
    let order = OrderId::generate();
    let stream = order.stream();
    store
        .append(vec![write_after(&stream, None, filler(2), &meta(order))])
        .await
        .unwrap();
    let stale = write_after(&stream, None, filler(3), &meta(order));
    assert!(matches!(
        store.append(vec![stale]).await,
        Err(StoreError::Conflict {
            expected_version: 0,
            ..
        })
    ));
    assert_eq!(store.read_stream(&stream, 0).await.unwrap().len(), 2);
}

/// DynamoDB transactions hold at most 100 items; a split would not be atomic, so a wider
/// append is refused before anything is sent.
#[tokio::test]
async fn an_append_of_more_than_100_events_is_refused_as_too_large_and_writes_nothing() {
    let env = emulator_or_skip!("an_append_of_more_than_100_events");
    let store = env.store();
    let order = OrderId::generate();
    let stream = order.stream();
    let (a, b) = (product("SKU-A"), product("SKU-B"));
    let writes = vec![
        write_after(&stream, None, filler(60), &meta(order)),
        write_after(&a.stream(), None, filler(41), &meta(order)),
    ];
    assert_eq!(
        store.append(writes).await,
        Err(StoreError::TooLarge { items: 101 })
    );
    for s in [stream, a.stream(), b.stream()] {
        assert!(store.read_stream(&s, 0).await.unwrap().is_empty());
    }
    // Exactly 100 is one atomic append.
    let hundred = write_after(&order.stream(), None, filler(100), &meta(order));
    store.append(vec![hundred]).await.unwrap();
    assert_eq!(
        store.read_stream(&order.stream(), 0).await.unwrap().len(),
        100
    );
}

/// An order and two products move together or not at all: when one product's stream moved
/// first, neither the order's nor the other product's events are written.
#[tokio::test]
async fn a_multi_stream_append_is_atomic_a_conflict_on_one_product_writes_nothing_on_the_others() {
    let env = emulator_or_skip!("a_multi_stream_append_is_atomic");
    let store = env.store();
    let order = OrderId::generate();
    let (a, b) = (product("SKU-A"), product("SKU-B"));
    for p in [&a, &b] {
        let w = write_after(&p.stream(), None, [product_added(5).encode()], &meta(order));
        store.append(vec![w]).await.unwrap();
    }
    let heads = store.read_heads(&[a.stream(), b.stream()]).await.unwrap();
    // Someone else takes stock from B first.
    let racer = write_after(&b.stream(), heads[1].as_ref(), filler(1), &meta(order));
    store.append(vec![racer]).await.unwrap();

    let ours = vec![
        write_after(
            &order.stream(),
            None,
            [order_placed(order, &a).encode()],
            &meta(order),
        ),
        write_after(&a.stream(), heads[0].as_ref(), filler(1), &meta(order)),
        write_after(&b.stream(), heads[1].as_ref(), filler(1), &meta(order)),
    ];
    let err = store.append(ours).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            stream: b.stream().to_string(),
            expected_version: 1
        }
    );
    assert!(
        store
            .read_stream(&order.stream(), 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.read_stream(&a.stream(), 0).await.unwrap().len(), 1);
    assert_eq!(store.read_stream(&b.stream(), 0).await.unwrap().len(), 2);
}

/// A Query page holds at most 1 MB; a reader that takes one page loses the rest. With a page
/// limit of 3 items, 10 events take four pages and all come back, in version order.
#[tokio::test]
async fn read_stream_pages_through_every_event_in_version_order() {
    let env = emulator_or_skip!("read_stream_pages_through_every_event");
    let store = env.store().with_page_limit(3);
    let order = OrderId::generate();
    let stream = order.stream();
    store
        .append(vec![write_after(&stream, None, filler(10), &meta(order))])
        .await
        .unwrap();
    let all = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    let tail = store.read_stream(&stream, 4).await.unwrap();
    assert_eq!(tail.first().map(|e| e.version), Some(5));
    assert_eq!(tail.len(), 6);
    assert_eq!(order_domain::envelope::verify_chain(&all), Ok(()));
}

/// Heads come back in the order asked, `None` for a stream that does not exist.
#[tokio::test]
async fn read_heads_answers_each_streams_last_event_in_the_order_asked() {
    let env = emulator_or_skip!("read_heads_answers_each_streams_last_event");
    let store = env.store();
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
        .read_heads(&[missing.stream(), order.stream(), a.stream()])
        .await
        .unwrap();
    assert_eq!(heads[0], None);
    assert_eq!(heads[1].as_ref().map(|e| e.version), Some(3));
    assert_eq!(
        heads[2].as_ref().map(|e| e.event_type.as_str()),
        Some("ProductAdded")
    );
}

fn stock_of(head: Option<&RecordedEvent>) -> u64 {
    head.map_or(0, |h| ProductState::from_head(h).unwrap().stock)
}

/// A flash sale: more buyers than stock race on one product through decide_and_append. Lost
/// races are decided again on fresh heads; exactly the stock's worth sells, never more.
#[tokio::test]
async fn decide_and_append_retries_lost_races_and_never_oversells() {
    let env = emulator_or_skip!("decide_and_append_retries_lost_races");
    let store = Arc::new(env.store().with_conflict_retry(ConflictRetry {
        max_retries: 30,
        ..ConflictRetry::default()
    }));
    let order = OrderId::generate();
    let p = product("SKU-HOT");
    let seed = write_after(&p.stream(), None, [product_added(4).encode()], &meta(order));
    store.append(vec![seed]).await.unwrap();

    let buyers: Vec<_> = (0..7)
        .map(|_| {
            let store = Arc::clone(&store);
            let p = p.clone();
            tokio::spawn(async move {
                store
                    .decide_and_append(vec![p.stream()], move |heads| {
                        let head = heads[0].as_ref();
                        let stock = stock_of(head);
                        if stock == 0 {
                            return Err("sold out");
                        }
                        let event =
                            ProductEvent::StockReserved(order_domain::events::StockReserved {
                                order_id: OrderId::generate(),
                                quantity: order_domain::Quantity::new(1).unwrap(),
                                stock_after: stock - 1,
                                price: order_domain::Money::from_minor(1999),
                            });
                        let w = write_after(&p.stream(), head, [event.encode()], &meta(order));
                        Ok((vec![w], ()))
                    })
                    .await
            })
        })
        .collect();
    let mut sold = 0;
    for b in buyers {
        match b.await.unwrap() {
            Ok(()) => sold += 1,
            Err(DecideError::Refused(_)) => {}
            Err(DecideError::Store(e)) => panic!("unexpected store error: {e}"),
        }
    }
    assert_eq!(sold, 4);
    let log = store.read_stream(&p.stream(), 0).await.unwrap();
    assert_eq!(log.len(), 5);
    let last = decode_product(log.last().unwrap()).unwrap();
    assert!(matches!(last, ProductEvent::StockReserved(r) if r.stock_after == 0));
}

/// Records the DynamoDB operation of every request a client sends.
#[derive(Debug, Clone, Default)]
struct Operations(Arc<std::sync::Mutex<Vec<String>>>);

impl aws_sdk_dynamodb::config::Intercept for Operations {
    fn name(&self) -> &'static str {
        "Operations"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(target) = context.request().headers().get("x-amz-target") {
            let op = target.rsplit('.').next().unwrap_or(target).to_owned();
            self.0.lock().unwrap().push(op);
        }
        Ok(())
    }
}

/// A transactional write costs two write units per item: a single event goes out as one
/// conditional PutItem, and only an append that moves several streams is a transaction.
#[tokio::test]
async fn a_single_event_append_is_one_conditional_put_item_not_a_transaction() {
    let env = emulator_or_skip!("a_single_event_append_is_one_conditional_put_item");
    let ops = Operations::default();
    let sdk = order_aws::config::load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(ops.clone())
            .build(),
    );
    let store = order_aws::DynamoEventStore::new(client, &env.resources.events_table);
    let order = OrderId::generate();
    let p = product("SKU-A");
    store
        .append(vec![write_after(
            &order.stream(),
            None,
            filler(1),
            &meta(order),
        )])
        .await
        .unwrap();
    assert_eq!(*ops.0.lock().unwrap(), ["PutItem"]);
    // The same single put is the arbiter: a second writer at that version is a Conflict.
    let again = write_after(&order.stream(), None, filler(1), &meta(order));
    assert!(matches!(
        store.append(vec![again]).await,
        Err(StoreError::Conflict { .. })
    ));
    let head = store.read_head(&order.stream()).await.unwrap();
    ops.0.lock().unwrap().clear();
    store
        .append(vec![
            write_after(&order.stream(), head.as_ref(), filler(1), &meta(order)),
            write_after(&p.stream(), None, [product_added(1).encode()], &meta(order)),
        ])
        .await
        .unwrap();
    assert_eq!(*ops.0.lock().unwrap(), ["TransactWriteItems"]);
}
