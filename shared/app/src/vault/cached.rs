//! [`CachedKeys`], the in-memory key cache every host puts in front of its key store, and
//! [`NoKeys`], the key store of a function that must not read personal data.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use foldhash::fast::RandomState;

use order_domain::CustomerId;
use order_domain::ports::{DataKey, KeyStore, NewKey, PortError, SealingKey};

/// A [`KeyStore`] that keeps each customer's current key in memory for `ttl`. Forgetting
/// through it drops the cached key at once; another process holding the key (another warm
/// Lambda) may use it to open data until its own entry expires, which bounds how long an erased
/// key lives on. A cache that other processes' forgets do not reach ([`beside_others`]) never
/// seals new data with a cached key: it reads the current key from the store, so a customer
/// forgotten elsewhere gets a new key for their next order, not the destroyed one.
///
/// Entries are timed on the wall clock: a Lambda container is frozen between invocations, and
/// its monotonic clock need not count that time, which would stretch the bound.
///
/// [`beside_others`]: CachedKeys::beside_others
///
/// A key read (or stored) while a forget was under way is not cached: every lookup notes the
/// count of forgets it started under, and keeps what it found only if no forget has finished
/// or begun since, so a key destroyed meanwhile is never cached after its destruction.
pub struct CachedKeys<K> {
    inner: K,
    ttl: Duration,
    /// Whether new data is sealed with a key read from the store rather than the cache.
    seal_from_store: bool,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// foldhash: every POST, payment and email looks a customer up here, and SipHash was most
    /// of a lookup.
    keys: HashMap<CustomerId, (DataKey, SystemTime), RandomState>,
    /// Forgets begun or finished: a lookup that started under another count keeps nothing.
    forgets: u64,
    /// New keys handed out by `sealing_key`, not stored yet (key id: the forget count then),
    /// so that [`KeyStore::key_stored`] can cache the one an intake stored.
    unstored: HashMap<String, u64>,
}

/// Most customers a cache holds before it starts over.
const CACHE_CAPACITY: usize = 10_000;

impl<K: KeyStore> CachedKeys<K> {
    /// A cache that every forget goes through (one process holds the store: the embedded
    /// host), so a cached key is always current.
    pub fn new(inner: K, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            seal_from_store: false,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// A cache in one of many processes over a shared store (warm Lambdas, the AWS host),
    /// where a customer may be forgotten through another: keys still open data from the cache
    /// for `ttl`, but new data is sealed with the key the store holds now.
    pub fn beside_others(inner: K, ttl: Duration) -> Self {
        Self {
            seal_from_store: true,
            ..Self::new(inner, ttl)
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
            .filter(|(_, at)| at.elapsed().is_ok_and(|age| age < self.ttl))
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
            .insert(customer.clone(), (key.clone(), SystemTime::now()));
    }
}

impl<K: KeyStore> KeyStore for CachedKeys<K> {
    async fn current_key(&self, customer: &CustomerId) -> Result<DataKey, PortError> {
        let (cached, forgets) = self.cached(customer);
        if let Some(key) = cached.filter(|_| !self.seal_from_store) {
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
        if let Some(key) = cached.filter(|_| !self.seal_from_store) {
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
