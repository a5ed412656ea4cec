//! The customers' data keys on DynamoDB (CustomerKeysTable, PK `customerId`): the AWS
//! [`KeyStore`].
//!
//! A customer's item is `customerId` (S), `keyId` (S), `wrappedKey` (B), `wrappedBy` (S) and
//! `createdAt` (N, ms). The key is made here (32 random bytes) and stored only wrapped under
//! the stack's wrapping key ([`wrapping`]: a KMS data key that one `Decrypt` per container
//! unwraps), bound to its customer and key id, so a wrapped key copied to another customer's
//! item does not unwrap. `wrappedBy` names the wrapping key. An item without it is a key KMS
//! wrapped itself (`GenerateDataKey` with the encryption context `{customerId, keyId}`), as
//! every key was before the stack had a wrapping key: it still opens, with a KMS `Decrypt`.
//!
//! - `current_key`: a consistent GetItem; a customer without a key gets a new one, stored by a
//!   PutItem conditioned on `attribute_not_exists(customerId)`. A caller that loses that race
//!   reads the winner's item and unwraps it, so concurrent first uses agree.
//! - `sealing_key`: the same GetItem; a customer without a key gets a [`NewKey`], not stored.
//!   Either `save_key` stores it (the same conditional PutItem; the loser gets the winner's
//!   key), or the intake puts it in the same `TransactWriteItems` as the order's first event
//!   ([`key_put`](DynamoKeys::key_put), [`crate::intake`]), so a new customer's first POST
//!   makes one write instead of two.
//! - `forget`: DeleteItem with `ReturnValues ALL_OLD`, 1 if there was a key. Once the item is
//!   gone nothing can unwrap the key again: the wrapping key opens only what the table holds,
//!   and the table keeps no backups or stream (template.yaml).

mod kms;
mod wrapping;

pub use wrapping::WRAPPING_KEY_ITEM;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue};
use order_app::vault::wrap::new_data_key;
use order_domain::CustomerId;
use order_domain::ports::{DataKey, KeyStore, NewKey, PortError, SealingKey};
use tokio::sync::OnceCell;

use crate::config::{AwsClients, CUSTOMER_KEYS_TABLE, ConfigError, KMS_KEY_ID, require_env};
use crate::errors::{port_error, written};
use kms::Kms;
use wrapping::{Need, StackKey};

/// Rounds of read, make, conditional put before giving up (a round is lost only when another
/// caller stores the key first, or forgets it between our put and our read).
const MAX_ROUNDS: usize = 3;

/// The condition of every key item's put: the customer (or the wrapping key's item) has none.
const ONLY_IF_ABSENT: &str = "attribute_not_exists(customerId)";

/// The key store; clones share the unwrapped wrapping key.
#[derive(Debug, Clone)]
pub struct DynamoKeys {
    dynamodb: Client,
    kms: Kms,
    table: String,
    wrapping: Arc<OnceCell<StackKey>>,
}

/// A stored item: the key's id, its wrapped form, and the wrapping key's id (`None`: KMS).
struct Item {
    key_id: String,
    blob: Vec<u8>,
    wrapped_by: Option<String>,
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
            kms: Kms {
                client: kms,
                key_id: kms_key_id.into(),
            },
            table: table.into(),
            wrapping: Arc::new(OnceCell::new()),
        }
    }

    /// The store on the table named by `CUSTOMER_KEYS_TABLE`, under the KMS key `KMS_KEY_ID`.
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

    fn malformed(&self) -> PortError {
        PortError(format!(
            "customer keys table {}: malformed item (keyId S and wrappedKey B expected)",
            self.table
        ))
    }

    /// The item of `owner`: a customer id, or the wrapping key's item.
    async fn read(&self, owner: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("customerId", s(owner))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        self.parse(&item).map(Some)
    }

    fn parse(&self, item: &HashMap<String, AttributeValue>) -> Result<Item, PortError> {
        let key_id = item.get("keyId").and_then(|v| v.as_s().ok());
        let blob = item.get("wrappedKey").and_then(|v| v.as_b().ok());
        let wrapped_by = match item.get("wrappedBy") {
            None => None,
            Some(v) => Some(v.as_s().map_err(|_| self.malformed())?.clone()),
        };
        match (key_id, blob) {
            (Some(key_id), Some(blob)) => Ok(Item {
                key_id: key_id.clone(),
                blob: blob.as_ref().to_vec(),
                wrapped_by,
            }),
            _ => Err(self.malformed()),
        }
    }

    /// The customer's data key from their item: under the wrapping key it names, or by KMS.
    async fn unwrap_key(&self, customer: &CustomerId, wrapped: Item) -> Result<DataKey, PortError> {
        let Some(wrapped_by) = wrapped.wrapped_by else {
            return self
                .kms
                .decrypt(customer.as_str(), wrapped.key_id, wrapped.blob)
                .await;
        };
        let stack = self.wrapping_key(Need::Existing).await?;
        if stack.id != wrapped_by {
            return Err(PortError(format!(
                "customer keys table {}: key {} is wrapped by {wrapped_by}, not by the stack's \
                 wrapping key {}",
                self.table, wrapped.key_id, stack.id
            )));
        }
        stack
            .key
            .unwrap(customer, &wrapped.key_id, &wrapped.blob)
            .map_err(|e| PortError(format!("customer keys table {}: {e}", self.table)))
    }

    /// A new key for `customer`, and its item's wrapped form under the stack's wrapping key.
    async fn make(&self, customer: &CustomerId) -> Result<(DataKey, Vec<u8>, String), PortError> {
        let stack = self.wrapping_key(Need::Create).await?;
        let key = new_data_key().map_err(|e| PortError(format!("a new data key: {e}")))?;
        let wrapped = stack
            .key
            .wrap(customer, &key)
            .map_err(|e| PortError(format!("a new data key: {e}")))?;
        Ok((key, wrapped, stack.id.clone()))
    }

    /// The item storing a key as `owner`'s, wrapped by the key `wrapped_by` names (`None`: KMS).
    fn item(
        owner: &str,
        key_id: &str,
        wrapped: Vec<u8>,
        wrapped_by: Option<String>,
    ) -> HashMap<String, AttributeValue> {
        let now = order_domain::Timestamp::now().as_millis();
        let mut item = HashMap::from([
            ("customerId".to_owned(), s(owner)),
            ("keyId".to_owned(), s(key_id)),
            (
                "wrappedKey".to_owned(),
                AttributeValue::B(Blob::new(wrapped)),
            ),
            ("createdAt".to_owned(), AttributeValue::N(now.to_string())),
        ]);
        if let Some(by) = wrapped_by {
            item.insert("wrappedBy".to_owned(), s(by));
        }
        item
    }

    /// Stores a key as `owner`'s if they still have none. `false`: someone else's is.
    async fn put_if_absent(
        &self,
        owner: &str,
        key_id: &str,
        wrapped: Vec<u8>,
        wrapped_by: Option<String>,
    ) -> Result<bool, PortError> {
        let result = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(owner, key_id, wrapped, wrapped_by)))
            .condition_expression(ONLY_IF_ABSENT)
            .send()
            .await;
        written(result).map_err(|e| self.err(&e))
    }

    /// The put that stores `new` (from [`sealing_key`](KeyStore::sealing_key)) if its customer
    /// still has no key, as one action of a caller's `TransactWriteItems`: the same item and
    /// condition as [`save_key`](KeyStore::save_key)'s PutItem. A cancelled transaction whose
    /// reason for this action is `ConditionalCheckFailed` means someone stored theirs first.
    pub async fn key_put(&self, new: &NewKey) -> Result<Put, PortError> {
        // Made under this adapter's wrapping key (`sealing_key`), so it is loaded already.
        let stack = self.wrapping_key(Need::Create).await?;
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                new.customer.as_str(),
                &new.key.id,
                new.wrapped.clone(),
                Some(stack.id.clone()),
            )))
            .condition_expression(ONLY_IF_ABSENT)
            .build()
            .map_err(|e| self.err(&e))
    }
}

impl KeyStore for DynamoKeys {
    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn current_key(&self, customer: &CustomerId) -> Result<DataKey, PortError> {
        for _ in 0..MAX_ROUNDS {
            if let Some(wrapped) = self.read(customer.as_str()).await? {
                return self.unwrap_key(customer, wrapped).await;
            }
            let (key, wrapped, wrapped_by) = self.make(customer).await?;
            if self
                .put_if_absent(customer.as_str(), &key.id, wrapped, Some(wrapped_by))
                .await?
            {
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

    /// The stored key, or a new one made and wrapped here but not stored: one GetItem.
    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn sealing_key(&self, customer: &CustomerId) -> Result<SealingKey, PortError> {
        if let Some(wrapped) = self.read(customer.as_str()).await? {
            return self
                .unwrap_key(customer, wrapped)
                .await
                .map(SealingKey::Stored);
        }
        let (key, wrapped, _) = self.make(customer).await?;
        Ok(SealingKey::New(NewKey {
            customer: customer.clone(),
            key,
            wrapped,
        }))
    }

    /// The conditional PutItem; a customer who has a key by then keeps theirs, read back.
    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn save_key(&self, new: NewKey) -> Result<DataKey, PortError> {
        let stack_id = self.wrapping_key(Need::Create).await?.id.clone();
        if self
            .put_if_absent(
                new.customer.as_str(),
                &new.key.id,
                new.wrapped,
                Some(stack_id),
            )
            .await?
        {
            tracing::info!(key_id = %new.key.id, "data key created");
            return Ok(new.key);
        }
        self.current_key(&new.customer).await
    }

    #[tracing::instrument(skip_all, fields(table = %self.table))]
    async fn find_key(
        &self,
        customer: &CustomerId,
        key_id: &str,
    ) -> Result<Option<DataKey>, PortError> {
        match self.read(customer.as_str()).await? {
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
