//! Sealing and opening an order's personal data under its customer's data key.
//!
//! AES-256-GCM with a random 96-bit nonce per order. The additional authenticated data binds
//! the ciphertext to its customer and order, so a sealed field copied into another order's
//! event does not open. A customer whose key is gone (see [`forget`]) reads as
//! [`Opened::Erased`].
//!
//! Keys come from a [`KeyStore`]; [`CachedKeys`] keeps them in memory for a while so that an
//! order does not cost a key-store read (on AWS a DynamoDB read and a KMS `Decrypt`) per step.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use order_domain::personal::{Opened, Personal, PersonalData, SealedPersonal};
use order_domain::ports::{DataKey, KeyStore, NewKey, PortError, SealingKey};
use order_domain::{CustomerId, OrderId};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Port(#[from] PortError),
    /// The sealed field does not open under its key: changed after sealing, or sealed for
    /// another order. A bug or tampering.
    #[error("the personal data of order {0} does not decrypt (tampered or misplaced)")]
    Corrupt(OrderId),
}

/// What the ciphertext is bound to.
fn aad(customer: &CustomerId, order: OrderId) -> Vec<u8> {
    let customer = customer.as_str();
    let mut out = Vec::with_capacity(64 + customer.len());
    out.extend_from_slice(b"order-pipeline/personal/v1\0");
    out.extend_from_slice(&(customer.len() as u64).to_be_bytes());
    out.extend_from_slice(customer.as_bytes());
    out.extend_from_slice(order.to_string().as_bytes());
    out
}

fn cipher(key: &DataKey) -> Result<LessSafeKey, PortError> {
    UnboundKey::new(&AES_256_GCM, &key.material)
        .map(LessSafeKey::new)
        .map_err(|_| PortError("a data key is not a valid AES-256 key".into()))
}

/// Seals `data` for `order` under the customer's current key (made if they have none).
pub async fn seal<K: KeyStore>(
    keys: &K,
    customer: &CustomerId,
    order: OrderId,
    data: &PersonalData,
) -> Result<SealedPersonal, PortError> {
    let key = keys.current_key(customer).await?;
    seal_with(&key, customer, order, data)
}

/// Seals `data` for `order` under `key`.
pub fn seal_with(
    key: &DataKey,
    customer: &CustomerId,
    order: OrderId,
    data: &PersonalData,
) -> Result<SealedPersonal, PortError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| PortError("no randomness for a nonce".into()))?;
    let mut buf = serde_json::to_vec(data).map_err(|e| PortError(e.to_string()))?;
    cipher(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(customer, order)),
            &mut buf,
        )
        .map_err(|_| PortError("sealing failed".into()))?;
    Ok(SealedPersonal {
        key_id: key.id.clone(),
        nonce: URL_SAFE_NO_PAD.encode(nonce),
        ciphertext: URL_SAFE_NO_PAD.encode(&buf),
    })
}

/// Opens an order's personal field: the data, or [`Opened::Erased`] once the customer's key
/// is destroyed.
pub async fn open<K: KeyStore>(
    keys: &K,
    customer: &CustomerId,
    order: OrderId,
    personal: &Personal,
) -> Result<Opened, VaultError> {
    let sealed = match personal {
        Personal::Clear(data) => return Ok(Opened::Data(data.clone())),
        Personal::Sealed(sealed) => sealed,
    };
    let Some(key) = keys.find_key(customer, &sealed.key_id).await? else {
        return Ok(Opened::Erased);
    };
    open_with(&key, customer, order, sealed).map(Opened::Data)
}

/// Opens `sealed` with `key`.
pub fn open_with(
    key: &DataKey,
    customer: &CustomerId,
    order: OrderId,
    sealed: &SealedPersonal,
) -> Result<PersonalData, VaultError> {
    let corrupt = || VaultError::Corrupt(order);
    let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
        .decode(&sealed.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(corrupt)?;
    let mut buf = URL_SAFE_NO_PAD
        .decode(&sealed.ciphertext)
        .map_err(|_| corrupt())?;
    let plain = cipher(key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(customer, order)),
            &mut buf,
        )
        .map_err(|_| corrupt())?;
    serde_json::from_slice(plain).map_err(|_| corrupt())
}

/// Forgets a customer: destroys their data keys, so every order's personal data sealed under
/// them reads as erased from now on. Returns how many keys were destroyed.
pub async fn forget<K: KeyStore>(keys: &K, customer: &CustomerId) -> Result<u32, PortError> {
    let destroyed = keys.forget(customer).await?;
    tracing::info!(destroyed, "customer forgotten: data keys destroyed");
    Ok(destroyed)
}

/// A [`KeyStore`] that keeps each customer's current key in memory for `ttl`. Forgetting
/// through it drops the cached key at once; another process holding the key (another warm
/// Lambda) may use it until its own entry expires, which bounds how long an erased key lives on.
///
/// A key read (or stored) while a forget was under way is not cached: every lookup notes the
/// count of forgets it started under, and keeps what it found only if no forget has finished
/// or begun since, so a key destroyed meanwhile is never cached after its destruction.
pub struct CachedKeys<K> {
    inner: K,
    ttl: Duration,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    keys: HashMap<CustomerId, (DataKey, Instant)>,
    /// Forgets begun or finished: a lookup that started under another count keeps nothing.
    forgets: u64,
    /// New keys handed out by `sealing_key`, not stored yet (key id: the forget count then),
    /// so that [`KeyStore::key_stored`] can cache the one an intake stored.
    unstored: HashMap<String, u64>,
}

/// Most customers a cache holds before it starts over.
const CACHE_CAPACITY: usize = 10_000;

impl<K: KeyStore> CachedKeys<K> {
    pub fn new(inner: K, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            state: Mutex::new(CacheState::default()),
        }
    }

    pub fn inner(&self) -> &K {
        &self.inner
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The customer's cached key, and the forget count to remember a looked-up key under.
    fn cached(&self, customer: &CustomerId) -> (Option<DataKey>, u64) {
        let state = self.state();
        let key = state
            .keys
            .get(customer)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(k, _)| k.clone());
        (key, state.forgets)
    }

    /// Keeps `key`, found by a lookup that started under `forgets`, unless a forget has begun
    /// or finished since.
    fn remember(&self, customer: &CustomerId, key: &DataKey, forgets: u64) {
        let mut state = self.state();
        if state.forgets != forgets {
            return;
        }
        if state.keys.len() >= CACHE_CAPACITY {
            state.keys.clear();
        }
        state
            .keys
            .insert(customer.clone(), (key.clone(), Instant::now()));
    }
}

impl<K: KeyStore> KeyStore for CachedKeys<K> {
    async fn current_key(&self, customer: &CustomerId) -> Result<DataKey, PortError> {
        let (cached, forgets) = self.cached(customer);
        if let Some(key) = cached {
            return Ok(key);
        }
        let key = self.inner.current_key(customer).await?;
        self.remember(customer, &key, forgets);
        Ok(key)
    }

    /// A stored key is cached; a new one once it is stored: by [`save_key`](KeyStore::save_key),
    /// or by an intake that stores it with the order's first write and says so
    /// ([`key_stored`](KeyStore::key_stored)).
    async fn sealing_key(&self, customer: &CustomerId) -> Result<SealingKey, PortError> {
        let (cached, forgets) = self.cached(customer);
        if let Some(key) = cached {
            return Ok(SealingKey::Stored(key));
        }
        let key = self.inner.sealing_key(customer).await?;
        match &key {
            SealingKey::Stored(k) => self.remember(customer, k, forgets),
            SealingKey::New(new) => {
                let mut state = self.state();
                if state.unstored.len() >= CACHE_CAPACITY {
                    state.unstored.clear();
                }
                state.unstored.insert(new.key.id.clone(), forgets);
            }
        }
        Ok(key)
    }

    async fn save_key(&self, new: NewKey) -> Result<DataKey, PortError> {
        let customer = new.customer.clone();
        let forgets = {
            let mut state = self.state();
            state.unstored.remove(&new.key.id);
            state.forgets
        };
        let key = self.inner.save_key(new).await?;
        self.remember(&customer, &key, forgets);
        Ok(key)
    }

    fn key_stored(&self, new: &NewKey) {
        let forgets = self.state().unstored.remove(&new.key.id);
        if let Some(forgets) = forgets {
            self.remember(&new.customer, &new.key, forgets);
        }
        self.inner.key_stored(new);
    }

    async fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> Result<Option<DataKey>, PortError> {
        let (cached, forgets) = self.cached(customer);
        if let Some(key) = cached.filter(|k| k.id == key_id) {
            return Ok(Some(key));
        }
        let key = self.inner.find_key(customer, key_id).await?;
        if let Some(k) = &key {
            self.remember(customer, k, forgets);
        }
        Ok(key)
    }

    async fn forget(&self, customer: &CustomerId) -> Result<u32, PortError> {
        let begin = |state: &mut CacheState| {
            state.keys.remove(customer);
            state.forgets += 1;
        };
        begin(&mut self.state());
        let result = self.inner.forget(customer).await;
        // Lookups that began before the key was gone may hold it: none of them is kept.
        begin(&mut self.state());
        result
    }
}

/// The key store of a function that must not read personal data (least privilege: the
/// validate, inventory and failure tasks never need it): every call is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeys;

impl KeyStore for NoKeys {
    async fn current_key(&self, _: &CustomerId) -> Result<DataKey, PortError> {
        Err(PortError(
            "this function has no access to personal data".into(),
        ))
    }

    async fn find_key(&self, _: &CustomerId, _: &str) -> Result<Option<DataKey>, PortError> {
        Err(PortError(
            "this function has no access to personal data".into(),
        ))
    }

    async fn forget(&self, _: &CustomerId) -> Result<u32, PortError> {
        Err(PortError(
            "this function has no access to personal data".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use order_domain::{Email, PaymentToken};
    use std::sync::atomic::{AtomicU32, Ordering};

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
    /// stores them (here, the test in the intake's place).
    #[derive(Default)]
    struct UnstoredKeys {
        keys: Mutex<HashMap<CustomerId, DataKey>>,
        reads: AtomicU32,
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
}
