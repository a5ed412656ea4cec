//! The customers' data keys on DynamoDB (CustomerKeysTable, PK `customerId`), each wrapped by
//! the stack's KMS key: the AWS [`KeyStore`].
//!
//! An item is `customerId` (S), `keyId` (S), `wrappedKey` (B, the KMS `CiphertextBlob`) and
//! `createdAt` (N, ms). The plaintext key never reaches the table: KMS `GenerateDataKey` makes
//! it and returns it with its wrapped form, and `Decrypt` unwraps it on each read (the app's
//! `CachedKeys` keeps it briefly per warm Lambda). Both bind the key to its customer and id
//! with the encryption context `{customerId, keyId}`, so a wrapped key copied to another
//! customer's item does not decrypt (and CloudTrail logs whose key each call unwrapped).
//!
//! - `current_key`: a consistent GetItem; a customer without a key gets a generated one,
//!   stored by a PutItem conditioned on `attribute_not_exists(customerId)`. A caller that
//!   loses that race reads the winner's item and unwraps it, so concurrent first uses agree.
//! - `forget`: DeleteItem with `ReturnValues ALL_OLD`, 1 if there was a key. Once the item is
//!   gone nothing can unwrap the key again (KMS holds no copy of a data key).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_kms::types::DataKeySpec;
use order_domain::CustomerId;
use order_domain::ports::{DataKey, KeyStore, PortError};

use crate::config::{AwsClients, CUSTOMER_KEYS_TABLE, ConfigError, KMS_KEY_ID, require_env};
use crate::errors::{port_error, written};

/// Rounds of read, generate, conditional put before giving up (a round is lost only when
/// another caller stores the key first, or forgets it between our put and our read).
const MAX_ROUNDS: usize = 3;

#[derive(Debug, Clone)]
pub struct DynamoKeys {
    dynamodb: Client,
    kms: aws_sdk_kms::Client,
    table: String,
    kms_key_id: String,
}

/// A stored item: the key's id and its KMS ciphertext.
struct Wrapped {
    key_id: String,
    blob: Vec<u8>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl DynamoKeys {
    pub fn new(
        dynamodb: Client,
        kms: aws_sdk_kms::Client,
        table: impl Into<String>,
        kms_key_id: impl Into<String>,
    ) -> Self {
        Self {
            dynamodb,
            kms,
            table: table.into(),
            kms_key_id: kms_key_id.into(),
        }
    }

    /// The store on the table named by `CUSTOMER_KEYS_TABLE`, wrapping under `KMS_KEY_ID`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.dynamodb().clone(),
            clients.kms().clone(),
            require_env(CUSTOMER_KEYS_TABLE)?,
            require_env(KMS_KEY_ID)?,
        ))
    }

    fn err(&self, e: &(impl std::error::Error + 'static)) -> PortError {
        port_error(&format!("customer keys table {}", self.table), e)
    }

    fn kms_err(&self, e: &(impl std::error::Error + 'static)) -> PortError {
        port_error(&format!("KMS key {}", self.kms_key_id), e)
    }

    fn malformed(&self) -> PortError {
        PortError(format!(
            "customer keys table {}: malformed item (keyId S and wrappedKey B expected)",
            self.table
        ))
    }

    async fn read(&self, customer: &CustomerId) -> Result<Option<Wrapped>, PortError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("customerId", s(customer.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        self.parse(&item).map(Some)
    }

    fn parse(&self, item: &HashMap<String, AttributeValue>) -> Result<Wrapped, PortError> {
        let key_id = item.get("keyId").and_then(|v| v.as_s().ok());
        let blob = item.get("wrappedKey").and_then(|v| v.as_b().ok());
        match (key_id, blob) {
            (Some(key_id), Some(blob)) => Ok(Wrapped {
                key_id: key_id.clone(),
                blob: blob.as_ref().to_vec(),
            }),
            _ => Err(self.malformed()),
        }
    }

    /// The data key from its KMS ciphertext, checked against its customer and id.
    async fn unwrap_key(
        &self,
        customer: &CustomerId,
        wrapped: Wrapped,
    ) -> Result<DataKey, PortError> {
        let out = self
            .kms
            .decrypt()
            .key_id(&self.kms_key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped.blob))
            .encryption_context("customerId", customer.as_str())
            .encryption_context("keyId", &wrapped.key_id)
            .send()
            .await
            .map_err(|e| self.kms_err(&e))?;
        key_from(wrapped.key_id, out.plaintext.as_ref().map(AsRef::as_ref))
    }

    /// A new data key from KMS: its plaintext and its ciphertext.
    async fn generate(&self, customer: &CustomerId) -> Result<(DataKey, Vec<u8>), PortError> {
        let key_id = ulid::Ulid::generate().to_string();
        let out = self
            .kms
            .generate_data_key()
            .key_id(&self.kms_key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("customerId", customer.as_str())
            .encryption_context("keyId", &key_id)
            .send()
            .await
            .map_err(|e| self.kms_err(&e))?;
        let wrapped = out
            .ciphertext_blob
            .map(aws_sdk_kms::primitives::Blob::into_inner)
            .ok_or_else(|| PortError("KMS GenerateDataKey returned no ciphertext".into()))?;
        let key = key_from(key_id, out.plaintext.as_ref().map(AsRef::as_ref))?;
        Ok((key, wrapped))
    }

    /// Stores `key` as the customer's if they still have none. `false`: someone else's is.
    async fn put_if_absent(
        &self,
        customer: &CustomerId,
        key: &DataKey,
        wrapped: Vec<u8>,
    ) -> Result<bool, PortError> {
        let now = order_domain::Timestamp::now().as_millis();
        let result = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item("customerId", s(customer.as_str()))
            .item("keyId", s(key.id.clone()))
            .item("wrappedKey", AttributeValue::B(Blob::new(wrapped)))
            .item("createdAt", AttributeValue::N(now.to_string()))
            .condition_expression("attribute_not_exists(customerId)")
            .send()
            .await;
        written(result).map_err(|e| self.err(&e))
    }
}

fn key_from(id: String, plaintext: Option<&[u8]>) -> Result<DataKey, PortError> {
    let material: [u8; 32] = plaintext
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| PortError(format!("KMS returned no 32-byte plaintext for key {id}")))?;
    Ok(DataKey { id, material })
}

impl KeyStore for DynamoKeys {
    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn current_key(&self, customer: &CustomerId) -> Result<DataKey, PortError> {
        for _ in 0..MAX_ROUNDS {
            if let Some(wrapped) = self.read(customer).await? {
                return self.unwrap_key(customer, wrapped).await;
            }
            let (key, wrapped) = self.generate(customer).await?;
            if self.put_if_absent(customer, &key, wrapped).await? {
                tracing::info!(key_id = %key.id, "data key created");
                return Ok(key);
            }
            // Lost the race: the next round reads and unwraps the winner's key.
        }
        Err(PortError(format!(
            "customer keys table {}: the customer's key kept changing",
            self.table
        )))
    }

    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> Result<Option<DataKey>, PortError> {
        match self.read(customer).await? {
            Some(wrapped) if wrapped.key_id == key_id => {
                self.unwrap_key(customer, wrapped).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn forget(&self, customer: &CustomerId) -> Result<u32, PortError> {
        let out = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .key("customerId", s(customer.as_str()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        let deleted = u32::from(out.attributes.is_some_and(|a| !a.is_empty()));
        if deleted > 0 {
            tracing::info!(deleted, "data keys destroyed");
        }
        Ok(deleted)
    }
}
