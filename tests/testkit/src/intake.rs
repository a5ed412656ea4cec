//! The [`Intake`](order_app::place::Intake) contract, for intakes that store a new customer's data key with the order's
//! first event (`Intake::stores_keys`): the key and the event are stored together or not at
//! all, a customer who has a key by then keeps it ([`PlaceError::KeyTaken`], nothing written,
//! nothing enqueued), of racing first orders exactly one stores its key, and a write that is
//! already in the log is enqueued again. Run against SQLite (one commit with the queue's
//! table) and DynamoDB + SQS (one `TransactWriteItems`, then the send).

use order_app::place::{PlaceError, Recorded};
use order_app::stream::seal;
use order_app::vault;
use order_domain::events::{OrderLine, OrderPlaced, decode_order};
use order_domain::personal::{Opened, Personal, PersonalData};
use order_domain::ports::{EventStore, KeyStore, NewKey, PolledQueue, SealingKey};
use order_domain::{
    CustomerId, Email, GENESIS_HASH, OrderEvent, OrderId, PaymentToken, ProductId, Quantity,
    StreamWrite,
};

use crate::Fixture;
use crate::events::meta;

/// How a contract case reaches one backend's intake and the stores behind it.
pub trait IntakeFixture: Send + Sync + 'static {
    type Store: EventStore;
    type Keys: KeyStore;
    type Queue: PolledQueue;

    /// The log the intake appends to.
    fn store(&self) -> &Self::Store;
    /// The key store whose new keys the intake stores.
    fn keys(&self) -> &Self::Keys;
    /// The queue the intake enqueues on (the case's own: empty at the start).
    fn queue(&self) -> &Self::Queue;
    /// Whether the intake stores new keys itself (every intake in this suite does).
    fn stores_keys(&self) -> bool;
    /// `Intake::record` on the backend's intake over the three above.
    fn record(
        &self,
        write: StreamWrite,
        order: OrderId,
        new_key: Option<&NewKey>,
    ) -> impl Future<Output = Result<Recorded, PlaceError>> + Send;
}

/// Every case of the intake contract as `#[tokio::test]`s in a module named `$backend`.
#[macro_export]
macro_rules! intake_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                intake,
                [
                    a_new_customers_key_is_stored_with_the_orders_first_event,
                    a_customer_who_has_a_key_by_then_keeps_it_and_nothing_is_written,
                    of_racing_first_orders_exactly_one_stores_its_key,
                    a_write_already_in_the_log_is_enqueued_again,
                ]
            );
        }
    };
}

/// A customer id no other case or run uses (the emulator's tables outlive a run).
fn customer(name: &str) -> CustomerId {
    CustomerId::parse(&format!("{name}-{}", ulid::Ulid::generate())).expect("valid id")
}

fn personal() -> PersonalData {
    PersonalData {
        email: Email::parse("jane@example.com").unwrap(),
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    }
}

/// A new order's first write for `customer`, its personal data sealed under `key`.
fn first_write(order: OrderId, customer: &CustomerId, key: &NewKey) -> StreamWrite {
    let sealed = vault::seal_with(&key.key, customer, order, &personal()).unwrap();
    let placed = OrderEvent::OrderPlaced(OrderPlaced {
        order_id: order,
        customer_id: customer.clone(),
        items: vec![OrderLine {
            product_id: ProductId::parse("SKU-1").unwrap(),
            quantity: Quantity::new(1).unwrap(),
        }],
        personal: Personal::Sealed(sealed),
    });
    seal(
        &order.stream(),
        0,
        GENESIS_HASH,
        [placed.encode()],
        &meta(order),
    )
}

/// A key for a customer who has none, from the store (never stored by asking).
async fn new_key<F: IntakeFixture>(f: &F, customer: &CustomerId) -> NewKey {
    match f.keys().sealing_key(customer).await.unwrap() {
        SealingKey::New(new) => new,
        SealingKey::Stored(_) => panic!("a customer without a key got a stored one"),
    }
}

/// The order ids on the queue now (received and deleted).
async fn enqueued<Q: PolledQueue>(queue: &Q) -> Vec<OrderId> {
    let mut ids = Vec::new();
    for _ in 0..2 {
        for m in queue.receive(10).await.unwrap() {
            let body: serde_json::Value = serde_json::from_str(Q::body(&m)).unwrap();
            ids.push(body["orderId"].as_str().unwrap().parse().unwrap());
            queue.delete(&m).await.unwrap();
        }
    }
    ids
}

pub async fn a_new_customers_key_is_stored_with_the_orders_first_event<F: IntakeFixture>(
    f: &Fixture<F>,
) {
    assert!(f.stores_keys(), "the suite is for intakes that store keys");
    let jane = customer("jane");
    let key = new_key(&**f, &jane).await;
    let order = OrderId::generate();
    let recorded = f
        .record(first_write(order, &jane, &key), order, Some(&key))
        .await
        .unwrap();
    assert_eq!(recorded, Recorded::Appended);
    let stream = f.store().read_stream(&order.stream(), 0).await.unwrap();
    assert_eq!(stream.len(), 1, "the order's first event");
    assert_eq!(
        f.keys().find_key(&jane, &key.key.id).await.unwrap(),
        Some(key.key.clone()),
        "the key the event is sealed under is stored"
    );
    assert_eq!(f.keys().current_key(&jane).await.unwrap(), key.key);
    let OrderEvent::OrderPlaced(placed) = decode_order(&stream[0]).unwrap().into_owned() else {
        panic!("not an OrderPlaced");
    };
    let opened = vault::open(f.keys(), &jane, order, &placed.personal)
        .await
        .unwrap();
    assert_eq!(opened, Opened::Data(personal()));
    assert_eq!(enqueued(f.queue()).await, vec![order]);
}

pub async fn a_customer_who_has_a_key_by_then_keeps_it_and_nothing_is_written<F: IntakeFixture>(
    f: &Fixture<F>,
) {
    let jane = customer("jane");
    let late = new_key(&**f, &jane).await;
    // Another order of hers stored a key meanwhile.
    let stored = f.keys().current_key(&jane).await.unwrap();
    assert_ne!(stored.id, late.key.id);
    let order = OrderId::generate();
    let result = f
        .record(first_write(order, &jane, &late), order, Some(&late))
        .await;
    assert!(
        matches!(result, Err(PlaceError::KeyTaken)),
        "expected KeyTaken, got {result:?}"
    );
    assert!(
        f.store()
            .read_stream(&order.stream(), 0)
            .await
            .unwrap()
            .is_empty(),
        "no event appended"
    );
    assert_eq!(f.keys().find_key(&jane, &late.key.id).await.unwrap(), None);
    assert_eq!(f.keys().current_key(&jane).await.unwrap(), stored);
    assert!(enqueued(f.queue()).await.is_empty(), "nothing enqueued");
}

pub async fn of_racing_first_orders_exactly_one_stores_its_key<F: IntakeFixture>(f: &Fixture<F>) {
    let jane = customer("jane");
    let mut attempts = Vec::new();
    for _ in 0..4 {
        let key = new_key(&**f, &jane).await;
        let order = OrderId::generate();
        attempts.push((order, first_write(order, &jane, &key), key));
    }
    let record = |i: usize| {
        let (order, write, key) = &attempts[i];
        f.record(write.clone(), *order, Some(key))
    };
    let (first, second, third, fourth) = tokio::join!(record(0), record(1), record(2), record(3));
    let results = [first, second, third, fourth];
    let mut won = Vec::new();
    for ((order, _, key), result) in attempts.iter().zip(results) {
        let stream = f.store().read_stream(&order.stream(), 0).await.unwrap();
        match result {
            Ok(recorded) => {
                assert_eq!(recorded, Recorded::Appended);
                assert_eq!(stream.len(), 1);
                won.push((*order, key.key.clone()));
            }
            Err(PlaceError::KeyTaken) => assert!(stream.is_empty(), "a loser appended"),
            Err(e) => panic!("a racing first order failed otherwise: {e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one first order stores its key");
    let (order, key) = &won[0];
    assert_eq!(&f.keys().current_key(&jane).await.unwrap(), key);
    assert_eq!(enqueued(f.queue()).await, vec![*order]);
}

pub async fn a_write_already_in_the_log_is_enqueued_again<F: IntakeFixture>(f: &Fixture<F>) {
    let jane = customer("jane");
    let key = new_key(&**f, &jane).await;
    let order = OrderId::generate();
    let write = first_write(order, &jane, &key);
    let first = f.record(write.clone(), order, Some(&key)).await.unwrap();
    // A retry whose first attempt appended (and stored the key), with the key now stored.
    let again = f.record(write.clone(), order, None).await.unwrap();
    assert_eq!(
        (first, again),
        (Recorded::Appended, Recorded::AlreadyInLog),
        "only the call that appended says so: the other answers as a replay, and the order \
         is counted (and kept open in the backlog) once"
    );
    // And a retry of a write without a new key that appended first.
    let other = OrderId::generate();
    let second_write = first_write(other, &jane, &key);
    assert_eq!(
        f.record(second_write.clone(), other, None).await.unwrap(),
        Recorded::Appended
    );
    assert_eq!(
        f.record(second_write, other, None).await.unwrap(),
        Recorded::AlreadyInLog
    );
    assert_eq!(
        f.store()
            .read_stream(&order.stream(), 0)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(enqueued(f.queue()).await, vec![order, order, other, other]);
}
