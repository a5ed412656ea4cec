//! The [`KeyStore`] contract: a customer's data key is made once and found again, is the same
//! key under concurrent first use, survives a restart, and once forgotten is gone for good
//! (the customer's next key is a new one); it is stored only wrapped, bound to its customer;
//! stores started at once agree on every key. Run against SQLite (keys wrapped under the data
//! directory's master key) and DynamoDB (keys wrapped under the stack's wrapping key, itself
//! a KMS data key).

use std::collections::HashSet;

use order_app::vault;
use order_domain::personal::{Opened, Personal, PersonalData};
use order_domain::ports::{KeyStore, SealingKey};
use order_domain::{CustomerId, Email, OrderId, PaymentToken};

use crate::Fixture;

/// How a contract case reaches one backend's key store.
pub trait KeysFixture: Send + Sync + 'static {
    type Keys: KeyStore + Clone;

    /// The store under test.
    fn keys(&self) -> &Self::Keys;

    /// The same keys reached anew, as a restarted process would: SQLite closes the database
    /// and opens it again, DynamoDB builds a second adapter on the same table and KMS key.
    /// The store from [`KeysFixture::keys`] is not used afterwards.
    fn reopened(&self) -> impl Future<Output = Self::Keys> + Send;

    /// A second store on the same keys, live beside the first, as a second process or Lambda
    /// container is: nothing in memory shared with [`KeysFixture::keys`].
    fn another(&self) -> Self::Keys;

    /// The customer's key as the store keeps it (the wrapped bytes), if they have one.
    fn stored_form(&self, customer: &CustomerId) -> impl Future<Output = Option<Vec<u8>>> + Send;

    /// Copies `from`'s stored key, as it is, to `to` (a tampered or misfiled row).
    fn copy_stored(&self, from: &CustomerId, to: &CustomerId) -> impl Future<Output = ()> + Send;
}

/// Every case of the key-store contract as `#[tokio::test]`s in a module named `$backend`, on
/// the fixtures `$make` builds.
#[macro_export]
macro_rules! keys_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                keys,
                [
                    a_new_customer_gets_a_key_and_then_the_same_key,
                    two_customers_get_different_keys,
                    a_key_is_found_by_its_id,
                    an_unknown_key_id_or_customer_finds_nothing,
                    forget_destroys_the_key_once_and_the_next_key_is_new,
                    concurrent_first_uses_by_one_customer_get_one_key,
                    a_sealing_key_is_stored_only_when_saved_and_the_first_saved_wins,
                    a_key_survives_reopening_the_store,
                    the_vault_opens_what_it_sealed_and_after_forget_reads_erased,
                    a_stored_key_is_wrapped_and_opens_only_for_its_customer,
                    stores_started_at_once_agree_on_every_customers_key,
                ]
            );
        }
    };
}

/// A customer id no other case or run uses (the emulator's tables outlive a run).
fn customer(name: &str) -> CustomerId {
    CustomerId::parse(&format!("{name}-{}", ulid::Ulid::generate())).expect("valid id")
}

pub async fn a_new_customer_gets_a_key_and_then_the_same_key<F: KeysFixture>(f: &Fixture<F>) {
    let keys = f.keys();
    let jane = customer("jane");
    let first = keys.current_key(&jane).await.unwrap();
    assert!(!first.id.is_empty());
    assert_ne!(first.material, [0u8; 32], "a key must be random bytes");
    let again = keys.current_key(&jane).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.material, first.material);
}

pub async fn two_customers_get_different_keys<F: KeysFixture>(f: &Fixture<F>) {
    let keys = f.keys();
    let a = keys.current_key(&customer("ann")).await.unwrap();
    let b = keys.current_key(&customer("bob")).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_ne!(a.material, b.material);
}

pub async fn a_key_is_found_by_its_id<F: KeysFixture>(f: &Fixture<F>) {
    let keys = f.keys();
    let jane = customer("jane");
    let key = keys.current_key(&jane).await.unwrap();
    let found = keys.find_key(&jane, &key.id).await.unwrap().expect("found");
    assert_eq!(found.id, key.id);
    assert_eq!(found.material, key.material);
}

pub async fn an_unknown_key_id_or_customer_finds_nothing<F: KeysFixture>(f: &Fixture<F>) {
    let keys = f.keys();
    let (jane, nobody) = (customer("jane"), customer("nobody"));
    let key = keys.current_key(&jane).await.unwrap();
    assert!(keys.find_key(&jane, "no-such-key").await.unwrap().is_none());
    // Jane's key id under another customer is not Jane's key.
    assert!(keys.find_key(&nobody, &key.id).await.unwrap().is_none());
    assert_eq!(keys.forget(&nobody).await.unwrap(), 0);
    assert!(
        keys.find_key(&jane, &key.id).await.unwrap().is_some(),
        "forgetting another customer touched Jane's key"
    );
}

pub async fn forget_destroys_the_key_once_and_the_next_key_is_new<F: KeysFixture>(f: &Fixture<F>) {
    let keys = f.keys();
    let (jane, john) = (customer("jane"), customer("john"));
    let old = keys.current_key(&jane).await.unwrap();
    let johns = keys.current_key(&john).await.unwrap();
    assert_eq!(keys.forget(&jane).await.unwrap(), 1);
    assert_eq!(
        keys.forget(&jane).await.unwrap(),
        0,
        "a repeat destroys nothing"
    );
    assert!(keys.find_key(&jane, &old.id).await.unwrap().is_none());
    let new = keys.current_key(&jane).await.unwrap();
    assert_ne!(new.id, old.id);
    assert_ne!(new.material, old.material);
    assert!(keys.find_key(&jane, &old.id).await.unwrap().is_none());
    let still = keys.find_key(&john, &johns.id).await.unwrap();
    assert_eq!(still.map(|k| k.material), Some(johns.material));
}

pub async fn concurrent_first_uses_by_one_customer_get_one_key<F: KeysFixture>(f: &Fixture<F>) {
    let jane = customer("jane");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (keys, jane) = (f.keys().clone(), jane.clone());
        tasks.spawn(async move { keys.current_key(&jane).await.unwrap() });
    }
    let keys = tasks.join_all().await;
    let ids: HashSet<_> = keys.iter().map(|k| k.id.clone()).collect();
    let materials: HashSet<_> = keys.iter().map(|k| k.material).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(materials.len(), 1);
    let stored = f.keys().find_key(&jane, &keys[0].id).await.unwrap();
    assert_eq!(stored.map(|k| k.material), Some(keys[0].material));
}

/// `sealing_key` stores nothing when it hands out a new key (a store may also store first
/// and answer with the stored key, as DynamoDB's does); of two new keys saved, the first is
/// the customer's and the second save answers with it.
pub async fn a_sealing_key_is_stored_only_when_saved_and_the_first_saved_wins<F: KeysFixture>(
    f: &Fixture<F>,
) {
    let keys = f.keys();
    let jane = customer("jane");
    let first = keys.sealing_key(&jane).await.unwrap();
    let second = keys.sealing_key(&jane).await.unwrap();
    match (first, second) {
        (SealingKey::New(a), SealingKey::New(b)) => {
            assert_ne!(a.key.id, b.key.id, "two new keys");
            assert_eq!(keys.find_key(&jane, &a.key.id).await.unwrap(), None);
            let saved = keys.save_key(a.clone()).await.unwrap();
            assert_eq!(saved, a.key);
            let lost = keys.save_key(b.clone()).await.unwrap();
            assert_eq!(lost, a.key, "the second save answers with the first key");
            assert_eq!(keys.find_key(&jane, &b.key.id).await.unwrap(), None);
            assert_eq!(keys.current_key(&jane).await.unwrap(), a.key);
        }
        (SealingKey::Stored(a), SealingKey::Stored(b)) => {
            assert_eq!(a, b);
            assert_eq!(keys.find_key(&jane, &a.id).await.unwrap(), Some(a.clone()));
        }
        (a, b) => panic!("a store hands out new keys or stored ones, not both: {a:?} {b:?}"),
    }
    let stored = keys.current_key(&jane).await.unwrap();
    assert!(matches!(keys.sealing_key(&jane).await.unwrap(), SealingKey::Stored(k) if k == stored));
}

pub async fn a_key_survives_reopening_the_store<F: KeysFixture>(f: &Fixture<F>) {
    let (jane, john) = (customer("jane"), customer("john"));
    let key = f.keys().current_key(&jane).await.unwrap();
    let forgotten = f.keys().current_key(&john).await.unwrap();
    f.keys().forget(&john).await.unwrap();
    let reopened = f.reopened().await;
    let again = reopened.current_key(&jane).await.unwrap();
    assert_eq!((again.id, again.material), (key.id.clone(), key.material));
    let found = reopened.find_key(&jane, &key.id).await.unwrap();
    assert_eq!(found.map(|k| k.material), Some(key.material));
    assert!(
        reopened
            .find_key(&john, &forgotten.id)
            .await
            .unwrap()
            .is_none(),
        "a forgotten key came back"
    );
}

pub async fn the_vault_opens_what_it_sealed_and_after_forget_reads_erased<F: KeysFixture>(
    f: &Fixture<F>,
) {
    let keys = f.keys();
    let jane = customer("jane");
    let data = PersonalData {
        email: Email::parse("jane@example.com").unwrap(),
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    };
    let order = OrderId::generate();
    let sealed = Personal::Sealed(vault::seal(keys, &jane, order, &data).await.unwrap());
    let opened = vault::open(keys, &jane, order, &sealed).await.unwrap();
    assert_eq!(opened, Opened::Data(data.clone()));

    assert_eq!(vault::forget(keys, &jane).await.unwrap(), 1);
    let opened = vault::open(keys, &jane, order, &sealed).await.unwrap();
    assert_eq!(opened, Opened::Erased);
    // A new order of the same customer is sealed under a new key and opens.
    let next = OrderId::generate();
    let resealed = vault::seal(keys, &jane, next, &data).await.unwrap();
    let Personal::Sealed(old) = &sealed else {
        unreachable!()
    };
    assert_ne!(resealed.key_id, old.key_id);
    let opened = vault::open(keys, &jane, next, &Personal::Sealed(resealed))
        .await
        .unwrap();
    assert_eq!(opened, Opened::Data(data));
}

pub async fn a_stored_key_is_wrapped_and_opens_only_for_its_customer<F: KeysFixture>(
    f: &Fixture<F>,
) {
    let (jane, john) = (customer("jane"), customer("john"));
    let key = f.keys().current_key(&jane).await.unwrap();
    let stored = f.stored_form(&jane).await.expect("jane's key is stored");
    assert!(
        stored.len() > key.material.len(),
        "a wrapped key, not a bare one"
    );
    assert!(
        !stored
            .windows(key.material.len())
            .any(|w| w == key.material),
        "the key is stored in clear"
    );

    // Jane's wrapped key filed as John's does not open: an error, never Jane's key for John.
    f.copy_stored(&jane, &john).await;
    for keys in [f.keys().clone(), f.another()] {
        assert!(keys.find_key(&john, &key.id).await.is_err());
        assert!(keys.current_key(&john).await.is_err());
        assert_eq!(
            keys.find_key(&jane, &key.id).await.unwrap(),
            Some(key.clone())
        );
    }
}

/// Two processes (two Lambda containers) that start at once, with nothing made yet, meet the
/// same customers at once: every customer ends with one key that both stores and a third
/// started later open. On DynamoDB this is also the race to make the stack's wrapping key.
pub async fn stores_started_at_once_agree_on_every_customers_key<F: KeysFixture>(f: &Fixture<F>) {
    let customers: Vec<CustomerId> = (0..6).map(|i| customer(&format!("c{i}"))).collect();
    let (a, b) = (f.another(), f.another());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in customers.iter().enumerate() {
        for keys in [a.clone(), b.clone()] {
            let c = c.clone();
            tasks.spawn(async move { (i, keys.current_key(&c).await.unwrap()) });
        }
    }
    let mut got: Vec<Vec<_>> = vec![Vec::new(); customers.len()];
    for (i, key) in tasks.join_all().await {
        got[i].push(key);
    }
    let later = f.another();
    for (c, keys) in customers.iter().zip(&got) {
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], keys[1], "two keys handed out for one customer");
        for store in [&a, &b, &later] {
            let found = store.find_key(c, &keys[0].id).await.unwrap();
            assert_eq!(found.as_ref(), Some(&keys[0]));
        }
    }
    let ids: HashSet<_> = got.iter().map(|k| k[0].id.clone()).collect();
    assert_eq!(ids.len(), customers.len(), "one key per customer");
}
