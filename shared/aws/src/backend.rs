//! The HTTP API's ports on AWS: what order-placement's Lambda and `orders serve --backend aws`
//! serve the shared router over.

use std::sync::Arc;
use std::time::Duration;

use order_api::Backend;
use order_app::place::{IdempotencyKey, Origin, PlaceError, PlaceOrder, Placed, place_order};
use order_app::vault::CachedKeys;

use crate::config::{AwsClients, ConfigError};
use crate::intake::DynamoIntake;
use crate::{DynamoEventStore, DynamoIdempotency, DynamoKeys, DynamoReadModels, SqsQueue};

/// The customers' data keys as a warm function keeps them: unwrapped by KMS once, then held in
/// memory for [`KEY_CACHE_TTL`].
pub type AwsKeys = Arc<CachedKeys<DynamoKeys>>;

/// How long a warm function keeps a customer's unwrapped data key. It bounds how long a
/// forgotten customer's data may still open in another warm function that had just read it,
/// and saves a DynamoDB read per order step that opens data. New data is never sealed from
/// the cache ([`CachedKeys::beside_others`]): a POST reads the customer's key item each time.
pub const KEY_CACHE_TTL: Duration = Duration::from_mins(1);

/// The data keys named by the environment, behind the warm-function cache.
pub fn keys_from_env(clients: &AwsClients) -> Result<AwsKeys, ConfigError> {
    Ok(Arc::new(CachedKeys::beside_others(
        DynamoKeys::from_env(clients)?,
        KEY_CACHE_TTL,
    )))
}

/// The API's ports on AWS.
pub struct AwsBackend {
    pub store: DynamoEventStore,
    pub queue: SqsQueue,
    pub idempotency: DynamoIdempotency,
    pub reads: DynamoReadModels,
    pub keys: AwsKeys,
}

impl AwsBackend {
    /// The resources named by the contract's environment variables.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self {
            store: DynamoEventStore::from_env(clients)?,
            queue: SqsQueue::from_env(clients)?,
            idempotency: DynamoIdempotency::from_env(clients)?,
            reads: DynamoReadModels::from_env(clients)?,
            keys: keys_from_env(clients)?,
        })
    }
}

impl Backend for AwsBackend {
    type Store = DynamoEventStore;
    type Queue = SqsQueue;
    type Idempotency = DynamoIdempotency;
    type Reads = DynamoReadModels;
    type Keys = AwsKeys;

    fn store(&self) -> &DynamoEventStore {
        &self.store
    }
    fn queue(&self) -> &SqsQueue {
        &self.queue
    }
    fn idempotency(&self) -> &DynamoIdempotency {
        &self.idempotency
    }
    fn reads(&self) -> &DynamoReadModels {
        &self.reads
    }
    fn keys(&self) -> &AwsKeys {
        &self.keys
    }

    /// A new customer's key is stored with the order's first event ([`DynamoIntake`]).
    async fn place(
        &self,
        request: PlaceOrder,
        idempotency_key: Option<IdempotencyKey<'_>>,
        origin: Origin<'_>,
    ) -> Result<Placed, PlaceError> {
        let intake = DynamoIntake {
            store: &self.store,
            queue: &self.queue,
            keys: self.keys.inner(),
        };
        place_order(
            &intake,
            &self.idempotency,
            &self.reads,
            &self.keys,
            request,
            idempotency_key,
            origin,
        )
        .await
    }
}
