//! Wrapping the customers' data keys under one key of the store's: the embedded store's master
//! key file, and on AWS the stack's wrapping key (itself a KMS data key). Both stores keep a
//! customer's key only in this wrapped form.
//!
//! AES-256-GCM with a random 96-bit nonce per wrap. The additional authenticated data binds a
//! wrapped key to its customer and its key id, so a wrapped key copied to another customer's
//! row, or stored under another id, does not unwrap. The wrapped form is
//! `nonce ‖ sealed key ‖ tag` ([`WRAPPED_LEN`] bytes).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use order_domain::CustomerId;
use order_domain::ports::DataKey;

/// The length of a key: a data key, and the key that wraps them.
pub const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// A wrapped data key: nonce, then the sealed 32 bytes and their tag.
pub const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WrapError {
    #[error("a wrapping key must hold exactly {KEY_LEN} bytes")]
    BadKey,
    #[error("no randomness for a key")]
    Random,
    #[error("wrapping a data key failed")]
    Wrap,
    /// Changed, moved to another customer or id, or wrapped under another key.
    #[error("data key {key_id} does not unwrap under this wrapping key")]
    Unwrap { key_id: String },
}

/// 32 random bytes from the system's generator: a new data key's material.
pub fn random_key() -> Result<[u8; KEY_LEN], WrapError> {
    let mut key = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| WrapError::Random)?;
    Ok(key)
}

/// A new data key: random material and a fresh id.
pub fn new_data_key() -> Result<DataKey, WrapError> {
    Ok(DataKey {
        id: ulid::Ulid::generate().to_string(),
        material: random_key()?,
    })
}

/// What a wrapped key is bound to: its customer and its id.
fn aad(customer: &CustomerId, key_id: &str) -> Vec<u8> {
    let customer = customer.as_str();
    let mut out = Vec::with_capacity(48 + customer.len() + key_id.len());
    out.extend_from_slice(b"order-pipeline/data-key/v1\0");
    out.extend_from_slice(&(customer.len() as u64).to_be_bytes());
    out.extend_from_slice(customer.as_bytes());
    out.extend_from_slice(key_id.as_bytes());
    out
}

/// A key that wraps data keys. Its `Debug` shows nothing of it.
pub struct WrappingKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappingKey").finish_non_exhaustive()
    }
}

impl WrappingKey {
    /// The wrapping key made of these 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WrapError> {
        if bytes.len() != KEY_LEN {
            return Err(WrapError::BadKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| WrapError::BadKey)?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// `key` sealed under this key, bound to `customer` and the key's id.
    pub fn wrap(&self, customer: &CustomerId, key: &DataKey) -> Result<Vec<u8>, WrapError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| WrapError::Random)?;
        let mut sealed = key.material.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(customer, &key.id)),
                &mut sealed,
            )
            .map_err(|_| WrapError::Wrap)?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        sealed.fill(0);
        Ok(out)
    }

    /// The data key `key_id` of `customer` from its wrapped form.
    pub fn unwrap(
        &self,
        customer: &CustomerId,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, WrapError> {
        let failed = || WrapError::Unwrap {
            key_id: key_id.to_owned(),
        };
        if wrapped.len() != WRAPPED_LEN {
            return Err(failed());
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
        let mut buf = sealed.to_vec();
        let material = self
            .key
            .open_in_place(nonce, Aad::from(aad(customer, key_id)), &mut buf)
            .ok()
            .and_then(|plain| <[u8; KEY_LEN]>::try_from(&*plain).ok());
        buf.fill(0);
        let material = material.ok_or_else(failed)?;
        Ok(DataKey {
            id: key_id.to_owned(),
            material,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: &str) -> CustomerId {
        CustomerId::parse(id).unwrap()
    }

    #[test]
    fn a_wrapped_key_unwraps_only_for_its_customer_id_and_wrapping_key() {
        let wrapping = WrappingKey::from_bytes(&random_key().unwrap()).unwrap();
        let key = new_data_key().unwrap();
        let jane = customer("jane");
        let wrapped = wrapping.wrap(&jane, &key).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert!(
            !wrapped.windows(KEY_LEN).any(|w| w == key.material),
            "the key is in the wrapped form in clear"
        );
        assert_eq!(wrapping.unwrap(&jane, &key.id, &wrapped).unwrap(), key);

        let refused =
            |r: Result<DataKey, WrapError>| assert!(matches!(r, Err(WrapError::Unwrap { .. })));
        refused(wrapping.unwrap(&customer("john"), &key.id, &wrapped));
        refused(wrapping.unwrap(&jane, "another-id", &wrapped));
        let other = WrappingKey::from_bytes(&random_key().unwrap()).unwrap();
        refused(other.unwrap(&jane, &key.id, &wrapped));
        let mut flipped = wrapped.clone();
        flipped[WRAPPED_LEN - 1] ^= 1;
        refused(wrapping.unwrap(&jane, &key.id, &flipped));
        refused(wrapping.unwrap(&jane, &key.id, &wrapped[..WRAPPED_LEN - 1]));
    }

    #[test]
    fn two_wraps_of_one_key_differ_and_a_wrapping_key_is_32_bytes() {
        let wrapping = WrappingKey::from_bytes(&[7u8; KEY_LEN]).unwrap();
        let key = new_data_key().unwrap();
        let jane = customer("jane");
        assert_ne!(
            wrapping.wrap(&jane, &key).unwrap(),
            wrapping.wrap(&jane, &key).unwrap(),
            "a fresh nonce per wrap"
        );
        assert_eq!(
            WrappingKey::from_bytes(&[7u8; 31]).unwrap_err(),
            WrapError::BadKey
        );
    }
}
