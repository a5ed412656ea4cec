//! The AWS host's adapters: every port of `order_domain::ports` (and `order_app::ReadModels`)
//! on the official AWS SDK, proven against the moto emulator on loopback. The Lambda binaries
//! and `orders serve --backend aws` wire these; nothing here holds business logic.
//!
//! # Layout
//! - [`config`]: resource names from the contract's environment variables, one `SdkConfig`,
//!   clients built once ([`AwsClients`]).
//! - [`codec`]: `RecordedEvent` ↔ DynamoDB item, the same for Query results, Streams images
//!   and Lambda stream events.
//! - [`event_store`]: [`DynamoEventStore`], the log (conditional PutItem / TransactWriteItems).
//! - [`read_models`]: OrderStatusTable and InventoryTable (one generic `ViewTable`) with
//!   version-guarded puts: the `ViewStore` port of the projection step.
//! - [`projector`]: the Streams projection step shared by the event projector Lambda and the poller.
//! - [`streams`]: a DynamoDB Streams poller for the local host.
//! - [`idempotency`]: idempotency records of POST /orders, with leases and TTL.
//! - [`dedup`]: dedup records that make the SNS notifier deliver each dedup id once.
//! - [`keys`]: the customers' data keys, wrapped by KMS, destroyed on forget.
//! - [`queue`], [`workflow`], [`notifier`], [`bus`]: SQS, Step Functions, SNS, EventBridge.
//! - [`polled`]: the local runtime's queue on AWS (SQS polled by a local consumer); the
//!   sweeper's `StuckOrders` is [`DynamoReadModels`] (the order-status table's sweep index).
//! - [`backend`]: the HTTP API's ports ([`AwsBackend`]).
//! - [`provision`]: create-if-missing of every resource (emulator, fresh dev account, tests).
//! - [`errors`]: SDK errors as readable port errors.
//!
//! The contract these follow is `docs/aws-contract.md`.
//!
//! # Testing
//! `tests/emulator` runs every adapter against moto (`AWS_ENDPOINT_URL`), each test on its own
//! freshly provisioned resources. moto's threaded server does not make DynamoDB's conditional
//! writes atomic under concurrency; `emulator/moto_serialized.py` is `moto_server` with the
//! DynamoDB requests serialised, as DynamoDB itself guarantees per item.

pub mod backend;
pub mod bus;
pub mod codec;
pub mod config;
pub mod dead_letters;
pub mod dedup;
pub mod errors;
pub mod event_store;
pub mod idempotency;
pub mod intake;
pub mod keys;
pub mod notifier;
pub mod polled;
pub mod projector;
pub mod provision;
pub mod queue;
pub mod read_models;
pub mod streams;
pub mod tls;
pub mod workflow;

pub use backend::{AwsBackend, AwsKeys, KEY_CACHE_TTL, keys_from_env};
pub use bus::EventBridgeBus;
pub use config::{AwsClients, AwsResources, ConfigError};
pub use dedup::DynamoDedup;
pub use event_store::{ConflictRetry, DynamoEventStore};
pub use idempotency::DynamoIdempotency;
pub use intake::DynamoIntake;
pub use keys::{DynamoKeys, WRAPPING_KEY_ITEM};
pub use notifier::{SnsNotifier, TopicArns};
pub use order_read_models::ViewWrite;
pub use polled::SqsPolled;
pub use projector::{ChangeRecord, Projector, Target};
pub use queue::SqsQueue;
pub use read_models::{DynamoReadModels, InventoryTable, OrderStatusTable, ViewTable};
pub use streams::{StartPosition, StreamPoller, handled_positions};
pub use workflow::SfnWorkflow;
