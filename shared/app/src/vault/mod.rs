//! Sealing and opening an order's personal data under its customer's data key.
//!
//! AES-256-GCM with a random 96-bit nonce per order. The additional authenticated data binds
//! the ciphertext to its customer and order, so a sealed field copied into another order's
//! event does not open. A customer whose key is gone (see [`forget`]) reads as
//! [`Opened::Erased`].
//!
//! Keys come from a [`KeyStore`]; [`CachedKeys`] keeps them in memory for a while so that an
//! order does not cost a key-store read (on AWS a DynamoDB read) per step.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use order_domain::personal::{Opened, Personal, PersonalData, SealedPersonal};
use order_domain::ports::{DataKey, KeyStore, PortError};
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
    out.extend_from_slice(order.encode(&mut [0; 26]).as_bytes());
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

mod cached;
#[cfg(test)]
mod tests;
pub mod wrap;

pub use cached::{CachedKeys, NoKeys};
