//! The HTTP API's ports on AWS: what order-placement's Lambda and `orders serve --backend aws`
//! serve the shared router over.

use order_api::Backend;

use crate::config::{AwsClients, ConfigError};
use crate::{DynamoEventStore, DynamoIdempotency, DynamoReadModels, SqsQueue};

/// The API's ports on AWS.
pub struct AwsBackend {
    pub store: DynamoEventStore,
    pub queue: SqsQueue,
    pub idempotency: DynamoIdempotency,
    pub reads: DynamoReadModels,
}

impl AwsBackend {
    /// The resources named by the contract's environment variables.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self {
            store: DynamoEventStore::from_env(clients)?,
            queue: SqsQueue::from_env(clients)?,
            idempotency: DynamoIdempotency::from_env(clients)?,
            reads: DynamoReadModels::from_env(clients)?,
        })
    }
}

impl Backend for AwsBackend {
    type Store = DynamoEventStore;
    type Queue = SqsQueue;
    type Idempotency = DynamoIdempotency;
    type Reads = DynamoReadModels;

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
}
