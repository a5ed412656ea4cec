//! The stack's wrapping key: one KMS data key that wraps every customer's data key in the key
//! table, so that opening a customer's key is a local AES-256-GCM unwrap
//! ([`order_app::vault::wrap`], as the embedded store's master key does) instead of a KMS
//! `Decrypt` per open.
//!
//! It lives in the key table as the item [`WRAPPING_KEY_ITEM`]: `keyId` and `wrappedKey`, its
//! KMS ciphertext under the encryption context `{customerId: "#wrapping-key", keyId}`. No
//! customer can have that id ([`CustomerId`](order_domain::CustomerId) refuses a leading `#`),
//! so neither `forget` nor any customer's key can reach it. A container unwraps it with one
//! KMS `Decrypt` the first time it needs it and keeps it for its life. The first order ever
//! placed makes it: `GenerateDataKey`, then a PutItem conditioned on
//! `attribute_not_exists(customerId)`; of concurrent first uses the first put wins and the
//! others read and unwrap the winner's.

use order_app::vault::wrap::WrappingKey;
use order_domain::ports::PortError;

use super::DynamoKeys;

/// The key table's item holding the stack's wrapping key.
pub const WRAPPING_KEY_ITEM: &str = "#wrapping-key";

/// Rounds of read, generate, conditional put (a round is lost only to a concurrent maker).
const MAX_ROUNDS: usize = 3;

/// The stack's wrapping key, unwrapped, and its id (what a customer's item names it by).
#[derive(Debug)]
pub(super) struct StackKey {
    pub(super) id: String,
    pub(super) key: WrappingKey,
}

/// Whether a caller may make the wrapping key when the table has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// Storing a new customer key: make it if missing (the first order ever placed).
    Create,
    /// Opening a key that names it: it must be there already.
    Existing,
}

impl DynamoKeys {
    /// The stack's wrapping key, unwrapped once per adapter (and its clones) and kept.
    pub(super) async fn wrapping_key(&self, need: Need) -> Result<&StackKey, PortError> {
        self.wrapping
            .get_or_try_init(|| self.load_wrapping_key(need))
            .await
    }

    async fn load_wrapping_key(&self, need: Need) -> Result<StackKey, PortError> {
        for _ in 0..MAX_ROUNDS {
            if let Some(item) = self.read(WRAPPING_KEY_ITEM).await? {
                let key = self
                    .kms
                    .decrypt(WRAPPING_KEY_ITEM, item.key_id, item.blob)
                    .await?;
                tracing::info!(key_id = %key.id, "unwrapped the stack's wrapping key");
                return stack_key(key);
            }
            if need == Need::Existing {
                return Err(PortError(format!(
                    "customer keys table {}: a key names the stack's wrapping key, but its item \
                     ({WRAPPING_KEY_ITEM}) is missing",
                    self.table
                )));
            }
            let (key, wrapped) = self.kms.generate(WRAPPING_KEY_ITEM).await?;
            if self
                .put_if_absent(WRAPPING_KEY_ITEM, &key.id, wrapped, None)
                .await?
            {
                tracing::info!(key_id = %key.id, "made the stack's wrapping key");
                return stack_key(key);
            }
            // Another container stored theirs first: the next round reads and unwraps it.
        }
        Err(PortError(format!(
            "customer keys table {}: the stack's wrapping key kept changing",
            self.table
        )))
    }
}

fn stack_key(key: order_domain::ports::DataKey) -> Result<StackKey, PortError> {
    let wrapping = WrappingKey::from_bytes(&key.material)
        .map_err(|e| PortError(format!("the stack's wrapping key: {e}")))?;
    Ok(StackKey {
        id: key.id,
        key: wrapping,
    })
}
