//! The two KMS calls of the key table, each bound by the encryption context
//! `{customerId, keyId}` (the function roles may use the key with exactly these context keys):
//! `GenerateDataKey` makes the stack's wrapping key, `Decrypt` unwraps it, and unwraps the
//! customers' keys that KMS wrapped before the stack had one.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use order_domain::ports::{DataKey, PortError};

use crate::errors::port_error;

/// The stack's KMS key (`KMS_KEY_ID`).
#[derive(Debug, Clone)]
pub(super) struct Kms {
    pub(super) client: aws_sdk_kms::Client,
    pub(super) key_id: String,
}

impl Kms {
    fn err(&self, e: &(impl std::error::Error + 'static)) -> PortError {
        port_error(&format!("KMS key {}", self.key_id), e)
    }

    /// The key `key_id` of `owner` (a customer id, or the wrapping key's item) from its KMS
    /// ciphertext, checked against the encryption context it was made with.
    pub(super) async fn decrypt(
        &self,
        owner: &str,
        key_id: String,
        blob: Vec<u8>,
    ) -> Result<DataKey, PortError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(blob))
            .encryption_context("customerId", owner)
            .encryption_context("keyId", &key_id)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        key_from(key_id, out.plaintext.as_ref().map(AsRef::as_ref))
    }

    /// A new data key for `owner`: its plaintext and its KMS ciphertext.
    pub(super) async fn generate(&self, owner: &str) -> Result<(DataKey, Vec<u8>), PortError> {
        let key_id = ulid::Ulid::generate().to_string();
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("customerId", owner)
            .encryption_context("keyId", &key_id)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        let wrapped = out
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| PortError("KMS GenerateDataKey returned no ciphertext".into()))?;
        let key = key_from(key_id, out.plaintext.as_ref().map(AsRef::as_ref))?;
        Ok((key, wrapped))
    }
}

fn key_from(id: String, plaintext: Option<&[u8]>) -> Result<DataKey, PortError> {
    let material: [u8; 32] = plaintext
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| PortError(format!("KMS returned no 32-byte plaintext for key {id}")))?;
    Ok(DataKey { id, material })
}
