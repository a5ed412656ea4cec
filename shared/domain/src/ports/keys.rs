//! The customers' data keys: the [`KeyStore`] port and what it hands out.

use std::future::Future;

use super::PortError;
use crate::values::CustomerId;

/// A customer's data key: 32 bytes for AES-256-GCM, and the id the sealed data names it by.
/// Its `Debug` shows the id only.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey {
    pub id: String,
    pub material: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A data key made for a customer who had none, not stored yet: `wrapped` is the key as the
/// store keeps it (under its master key). The order that needs it can store it in the same
/// commit as its first event (see [`KeyStore::sealing_key`]), so a new customer's first order
/// waits for one commit instead of two. Its `Debug` shows the customer and key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct NewKey {
    pub customer: CustomerId,
    pub key: DataKey,
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("customer", &self.customer)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The key to seal a customer's new personal data under: their stored key, or a new one that
/// whoever appends the sealed data must store ([`KeyStore::save_key`], or an intake that
/// stores it with the append).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealingKey {
    Stored(DataKey),
    New(NewKey),
}

impl SealingKey {
    pub fn key(&self) -> &DataKey {
        match self {
            Self::Stored(k) => k,
            Self::New(n) => &n.key,
        }
    }
}

/// The customers' data keys, under which their personal data is sealed (see
/// [`personal`](crate::personal)). A customer has at most one live key; destroying it
/// (crypto-shredding) erases every order's personal data sealed under it.
pub trait KeyStore: Send + Sync + 'static {
    /// The customer's live key, made and stored first if they have none (a new customer, or
    /// one whose key was destroyed: they get a new id). Concurrent calls for one customer
    /// return the same key.
    fn current_key(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<DataKey, PortError>> + Send;

    /// The key to seal the customer's new data under, without storing anything: their stored
    /// key, or a [`NewKey`] for a customer who has none. Two concurrent calls for a new
    /// customer may make two new keys; storing decides which one is theirs. Stores that
    /// cannot hand out an unstored key keep this default, which stores it first.
    fn sealing_key(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<SealingKey, PortError>> + Send {
        async move { self.current_key(customer).await.map(SealingKey::Stored) }
    }

    /// Stores `new` unless its customer has a key by now, and returns the customer's key:
    /// `new.key` if it was stored, the other one if someone stored theirs first (data sealed
    /// under `new.key` must then be sealed again). The default, for stores whose
    /// [`sealing_key`](Self::sealing_key) never returns a new key, is `current_key`.
    fn save_key(&self, new: NewKey) -> impl Future<Output = Result<DataKey, PortError>> + Send {
        async move { self.current_key(&new.customer).await }
    }

    /// Told that `new` (from this store's [`sealing_key`](Self::sealing_key)) was stored by
    /// someone else: an intake that stores it in the same commit as the order's first event.
    /// A cache may keep it, as it keeps a key that [`save_key`](Self::save_key) stored, so
    /// the customer's next use does not read it back. The default does nothing.
    fn key_stored(&self, new: &NewKey) {
        let _ = new;
    }

    /// The customer's key `key_id`; `None` once destroyed (or if it never existed).
    fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> impl Future<Output = Result<Option<DataKey>, PortError>> + Send;

    /// Destroys the customer's keys; how many there were (0 for an unknown or already
    /// forgotten customer, so a repeat is harmless).
    fn forget(&self, customer: &CustomerId) -> impl Future<Output = Result<u32, PortError>> + Send;
}

/// One key store shared by a host's parts (the API, the tasks, the success handler), so they
/// share its cache.
impl<K: KeyStore> KeyStore for std::sync::Arc<K> {
    fn current_key(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<DataKey, PortError>> + Send {
        K::current_key(self, customer)
    }

    fn sealing_key(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<SealingKey, PortError>> + Send {
        K::sealing_key(self, customer)
    }

    fn save_key(&self, new: NewKey) -> impl Future<Output = Result<DataKey, PortError>> + Send {
        K::save_key(self, new)
    }

    fn key_stored(&self, new: &NewKey) {
        K::key_stored(self, new);
    }

    fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> impl Future<Output = Result<Option<DataKey>, PortError>> + Send {
        K::find_key(self, customer, key_id)
    }

    fn forget(&self, customer: &CustomerId) -> impl Future<Output = Result<u32, PortError>> + Send {
        K::forget(self, customer)
    }
}
