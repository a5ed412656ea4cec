//! The event log on DynamoDB, what is particular to it: paging through long streams, and
//! which requests an append costs. What every event store must do (conflicts, atomicity,
//! version sequence, the 100-item limit, racing writers) is the contract suite in
//! `order-testkit`, run on this store too.

use std::sync::Arc;

use order_domain::OrderId;
use order_domain::ports::{EventStore, StoreError};

use order_testkit::emulator_or_skip;
use order_testkit::events::{filler, meta, product, product_added, write_after};

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
    let sdk = order_aws::config::load_sdk_config()
        .await
        .expect("the SDK configuration");
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
