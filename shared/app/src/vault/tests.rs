//! The vault's sealing and the key cache, on an in-memory key store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use order_domain::ports::{NewKey, SealingKey};
use order_domain::{Email, PaymentToken};

use super::*;

/// Keys in a map: enough to test sealing; the real stores have their contract suite.
#[derive(Default)]
struct MapKeys {
    keys: Mutex<HashMap<CustomerId, DataKey>>,
    reads: AtomicU32,
}

impl KeyStore for MapKeys {
    async fn current_key(&self, customer: &CustomerId) -> Result<DataKey, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let mut keys = self.keys.lock().unwrap();
        let n = keys.len();
        Ok(keys
            .entry(customer.clone())
            .or_insert_with(|| DataKey {
                id: format!("k{n}-{}", OrderId::generate()),
                material: [u8::try_from(n % 200).unwrap() + 1; 32],
            })
            .clone())
    }
    async fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> Result<Option<DataKey>, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .keys
            .lock()
            .unwrap()
            .get(customer)
            .filter(|k| k.id == key_id)
            .cloned())
    }
    async fn forget(&self, customer: &CustomerId) -> Result<u32, PortError> {
        Ok(u32::from(
            self.keys.lock().unwrap().remove(customer).is_some(),
        ))
    }
}

fn jane() -> (CustomerId, PersonalData) {
    (
        CustomerId::parse("jane").unwrap(),
        PersonalData {
            email: Email::parse("jane@example.com").unwrap(),
            payment_token: PaymentToken::parse("tok_visa").unwrap(),
        },
    )
}

#[tokio::test]
async fn sealed_data_opens_for_its_order_and_holds_nothing_in_clear() {
    let keys = MapKeys::default();
    let (customer, data) = jane();
    let order = OrderId::generate();
    let sealed = seal(&keys, &customer, order, &data).await.unwrap();
    let stored = serde_json::to_string(&sealed).unwrap();
    assert!(!stored.contains("jane@") && !stored.contains("tok_visa"));
    let opened = open(&keys, &customer, order, &Personal::Sealed(sealed))
        .await
        .unwrap();
    assert_eq!(opened, Opened::Data(data));
}

#[tokio::test]
async fn two_seals_of_the_same_data_differ() {
    let keys = MapKeys::default();
    let (customer, data) = jane();
    let order = OrderId::generate();
    let a = seal(&keys, &customer, order, &data).await.unwrap();
    let b = seal(&keys, &customer, order, &data).await.unwrap();
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
}

#[tokio::test]
async fn a_field_moved_to_another_order_or_changed_does_not_open() {
    let keys = MapKeys::default();
    let (customer, data) = jane();
    let order = OrderId::generate();
    let sealed = seal(&keys, &customer, order, &data).await.unwrap();
    let moved = open(
        &keys,
        &customer,
        OrderId::generate(),
        &Personal::Sealed(sealed.clone()),
    )
    .await;
    assert!(matches!(moved, Err(VaultError::Corrupt(_))));
    let mut changed = sealed;
    let mut bytes = URL_SAFE_NO_PAD.decode(&changed.ciphertext).unwrap();
    bytes[0] ^= 1;
    changed.ciphertext = URL_SAFE_NO_PAD.encode(bytes);
    let changed = open(&keys, &customer, order, &Personal::Sealed(changed)).await;
    assert!(matches!(changed, Err(VaultError::Corrupt(_))));
}

#[tokio::test]
async fn after_forget_old_orders_read_erased_and_a_new_order_gets_a_new_key() {
    let keys = CachedKeys::new(MapKeys::default(), Duration::from_mins(10));
    let (customer, data) = jane();
    let order = OrderId::generate();
    let sealed = seal(&keys, &customer, order, &data).await.unwrap();
    assert_eq!(forget(&keys, &customer).await.unwrap(), 1);
    assert_eq!(forget(&keys, &customer).await.unwrap(), 0);
    let opened = open(&keys, &customer, order, &Personal::Sealed(sealed.clone()))
        .await
        .unwrap();
    assert_eq!(opened, Opened::Erased);
    let next = seal(&keys, &customer, OrderId::generate(), &data)
        .await
        .unwrap();
    assert_ne!(next.key_id, sealed.key_id);
}

#[tokio::test]
async fn the_cache_spares_the_store_a_read_per_order() {
    let keys = CachedKeys::new(MapKeys::default(), Duration::from_mins(10));
    let (customer, data) = jane();
    for _ in 0..5 {
        let order = OrderId::generate();
        let sealed = seal(&keys, &customer, order, &data).await.unwrap();
        open(&keys, &customer, order, &Personal::Sealed(sealed))
            .await
            .unwrap();
    }
    assert_eq!(keys.inner().reads.load(Ordering::SeqCst), 1);
}

/// An entry serves for its time to live, then the key is read again.
#[tokio::test]
async fn a_cached_key_serves_for_its_ttl_then_is_read_again() {
    let keys = CachedKeys::new(MapKeys::default(), Duration::from_millis(200));
    let (customer, data) = jane();
    let order = OrderId::generate();
    let sealed = Personal::Sealed(seal(&keys, &customer, order, &data).await.unwrap());
    open(&keys, &customer, order, &sealed).await.unwrap();
    assert_eq!(
        keys.inner().reads.load(Ordering::SeqCst),
        1,
        "within its ttl"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    open(&keys, &customer, order, &sealed).await.unwrap();
    assert_eq!(
        keys.inner().reads.load(Ordering::SeqCst),
        2,
        "after its ttl"
    );
}

/// Two processes over one store (two warm Lambdas): a customer forgotten through one is not
/// sealed for under the destroyed key by the other, whose cache still holds it (it may still
/// open the old orders with it until the entry expires). A cache every forget goes through
/// (the embedded host's) may seal from memory.
#[tokio::test]
async fn a_customer_forgotten_through_another_process_gets_a_new_key_for_the_next_order() {
    let store = Arc::new(MapKeys::default());
    let ttl = Duration::from_mins(10);
    let (here, there) = (
        CachedKeys::beside_others(store.clone(), ttl),
        CachedKeys::beside_others(store.clone(), ttl),
    );
    let coherent = CachedKeys::new(store.clone(), ttl);
    let (customer, data) = jane();
    let order = OrderId::generate();
    let old = here.sealing_key(&customer).await.unwrap().key().clone();
    let sealed = Personal::Sealed(seal(&here, &customer, order, &data).await.unwrap());
    assert_eq!(
        coherent.sealing_key(&customer).await.unwrap().key().id,
        old.id
    );

    there.forget(&customer).await.unwrap();

    let next = here.sealing_key(&customer).await.unwrap().key().clone();
    assert_ne!(
        next.id, old.id,
        "sealed under a new key, not the destroyed one"
    );
    assert_ne!(
        seal(&here, &customer, OrderId::generate(), &data)
            .await
            .unwrap()
            .key_id,
        old.id
    );
    assert!(
        open(&here, &customer, order, &sealed).await.is_ok(),
        "the old order still opens from the cache until its entry expires"
    );
    assert_eq!(
        coherent.sealing_key(&customer).await.unwrap().key().id,
        old.id,
        "a cache that the forget did not go through, sealing from memory, would have used it"
    );
}

#[tokio::test]
async fn legacy_clear_data_opens_as_is() {
    let keys = MapKeys::default();
    let (customer, data) = jane();
    let opened = open(
        &keys,
        &customer,
        OrderId::generate(),
        &Personal::Clear(data.clone()),
    )
    .await
    .unwrap();
    assert_eq!(opened, Opened::Data(data));
}

/// A store that hands out new keys unstored, as the embedded one does: whoever appends
/// stores them (here, the test in the intake's place). Its map and read count are
/// [`MapKeys`]'s.
#[derive(Default)]
struct UnstoredKeys(MapKeys);

impl std::ops::Deref for UnstoredKeys {
    type Target = MapKeys;
    fn deref(&self) -> &MapKeys {
        &self.0
    }
}

impl KeyStore for UnstoredKeys {
    async fn current_key(&self, _: &CustomerId) -> Result<DataKey, PortError> {
        unreachable!("the tests only seal through sealing_key")
    }
    async fn sealing_key(&self, customer: &CustomerId) -> Result<SealingKey, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(match self.keys.lock().unwrap().get(customer) {
            Some(key) => SealingKey::Stored(key.clone()),
            None => SealingKey::New(NewKey {
                customer: customer.clone(),
                key: DataKey {
                    id: OrderId::generate().to_string(),
                    material: [7; 32],
                },
                wrapped: Vec::new(),
            }),
        })
    }
    async fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> Result<Option<DataKey>, PortError> {
        self.0.find_key(customer, key_id).await
    }
    async fn forget(&self, customer: &CustomerId) -> Result<u32, PortError> {
        self.0.forget(customer).await
    }
}

/// What an intake does with a new key: store it with the order, then say so.
fn store_as_the_intake_does(keys: &CachedKeys<UnstoredKeys>, new: &NewKey) {
    keys.inner()
        .keys
        .lock()
        .unwrap()
        .insert(new.customer.clone(), new.key.clone());
    keys.key_stored(new);
}

#[tokio::test]
async fn a_new_key_an_intake_stored_is_cached_without_reading_it_back() {
    let keys = CachedKeys::new(UnstoredKeys::default(), Duration::from_mins(10));
    let (customer, _) = jane();
    let SealingKey::New(new) = keys.sealing_key(&customer).await.unwrap() else {
        panic!("a new customer gets a new key");
    };
    store_as_the_intake_does(&keys, &new);
    assert_eq!(keys.inner().reads.load(Ordering::SeqCst), 1);
    let found = keys.find_key(&customer, &new.key.id).await.unwrap();
    assert_eq!(found.map(|k| k.id), Some(new.key.id.clone()));
    assert_eq!(
        keys.sealing_key(&customer).await.unwrap(),
        SealingKey::Stored(new.key.clone())
    );
    assert_eq!(
        keys.inner().reads.load(Ordering::SeqCst),
        1,
        "the payment's find_key and the next order's sealing_key come from the cache"
    );
}

#[tokio::test]
async fn a_key_stored_while_its_customer_was_forgotten_is_not_cached() {
    let keys = CachedKeys::new(UnstoredKeys::default(), Duration::from_mins(10));
    let (customer, _) = jane();
    let SealingKey::New(new) = keys.sealing_key(&customer).await.unwrap() else {
        panic!("a new customer gets a new key");
    };
    // The order committed with its key, then the customer was forgotten before the
    // intake's caller got to say the key was stored.
    keys.inner()
        .keys
        .lock()
        .unwrap()
        .insert(customer.clone(), new.key.clone());
    assert_eq!(forget(&keys, &customer).await.unwrap(), 1);
    keys.key_stored(&new);
    assert_eq!(keys.find_key(&customer, &new.key.id).await.unwrap(), None);
}
