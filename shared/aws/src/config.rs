//! Where the AWS host's resources are and how to reach them.
//!
//! Resource names come from the environment variables of `docs/aws-contract.md` (the template
//! sets them on each function; `orders serve --backend aws` reads them all). One `SdkConfig` is
//! loaded once per process and every client is built from it: `aws_config` honours the SDK's
//! standard `AWS_ENDPOINT_URL`, which is how the emulator is reached in tests.

use aws_config::{BehaviorVersion, SdkConfig};

/// The events table (OrderEventsTable).
pub const EVENTS_TABLE: &str = "EVENTS_TABLE";
/// The order-status read model (OrderStatusTable).
pub const ORDER_STATUS_TABLE: &str = "ORDER_STATUS_TABLE";
/// The inventory read model (InventoryTable).
pub const INVENTORY_TABLE: &str = "INVENTORY_TABLE";
/// Idempotency records of POST /orders (IdempotencyTable).
pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
/// Dedup records of the notifications (NotificationDedupTable): one email per dedup id.
pub const NOTIFICATION_DEDUP_TABLE: &str = "NOTIFICATION_DEDUP_TABLE";
/// The customers' data keys, each wrapped by KMS (CustomerKeysTable).
pub const CUSTOMER_KEYS_TABLE: &str = "CUSTOMER_KEYS_TABLE";
/// The KMS key (id, ARN or alias) that wraps the data keys (PersonalDataKey).
pub const KMS_KEY_ID: &str = "KMS_KEY_ID";
/// OrdersQueue's URL.
pub const ORDERS_QUEUE_URL: &str = "ORDERS_QUEUE_URL";
/// OrderProcessingStateMachine's ARN.
pub const STATE_MACHINE_ARN: &str = "STATE_MACHINE_ARN";
/// OrderAlertsTopic's ARN.
pub const ORDER_ALERTS_TOPIC_ARN: &str = "ORDER_ALERTS_TOPIC_ARN";
/// OrderErrorNotificationTopic's ARN.
pub const ORDER_ERRORS_TOPIC_ARN: &str = "ORDER_ERRORS_TOPIC_ARN";
/// CriticalAlertsTopic's ARN.
pub const CRITICAL_ALERTS_TOPIC_ARN: &str = "CRITICAL_ALERTS_TOPIC_ARN";
/// The EventBridge bus the terminal events go to (`default` when unset).
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
/// The bus used when [`EVENT_BUS_NAME`] is unset.
pub const DEFAULT_EVENT_BUS: &str = "default";

/// A setting the process cannot start without.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (see docs/aws-contract.md)")]
    Missing(&'static str),
    #[error("environment variable {0} is empty or not valid Unicode")]
    Invalid(&'static str),
    /// `AWS_CA_BUNDLE` names a file that cannot be read or holds no certificate.
    #[error("AWS_CA_BUNDLE={0}")]
    CaBundle(String),
}

/// The value of a required environment variable, or an error naming it.
pub fn require_env(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) | Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::Invalid(name)),
        Err(std::env::VarError::NotPresent) => Err(ConfigError::Missing(name)),
    }
}

/// The name of every resource of the contract. Each Lambda only needs some of them: adapters
/// have their own `from_env` reading just their variable; this is for hosts that use them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResources {
    pub events_table: String,
    pub order_status_table: String,
    pub inventory_table: String,
    pub idempotency_table: String,
    pub notification_dedup_table: String,
    pub customer_keys_table: String,
    pub kms_key_id: String,
    pub orders_queue_url: String,
    /// The DLQ's URL is not in the contract's environment (nothing reads it at run time); it is
    /// known only when this crate provisioned the queue.
    pub dead_letter_queue_url: Option<String>,
    /// Only the Lambdas' host runs Step Functions; the local host runs the workflow itself.
    pub state_machine_arn: Option<String>,
    pub order_alerts_topic_arn: String,
    pub order_errors_topic_arn: String,
    pub critical_alerts_topic_arn: String,
    pub event_bus_name: String,
}

impl AwsResources {
    /// Reads every variable of the contract; the first missing one is named in the error.
    /// [`STATE_MACHINE_ARN`] is optional and [`EVENT_BUS_NAME`] defaults to `default`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            events_table: require_env(EVENTS_TABLE)?,
            order_status_table: require_env(ORDER_STATUS_TABLE)?,
            inventory_table: require_env(INVENTORY_TABLE)?,
            idempotency_table: require_env(IDEMPOTENCY_TABLE)?,
            notification_dedup_table: require_env(NOTIFICATION_DEDUP_TABLE)?,
            customer_keys_table: require_env(CUSTOMER_KEYS_TABLE)?,
            kms_key_id: require_env(KMS_KEY_ID)?,
            orders_queue_url: require_env(ORDERS_QUEUE_URL)?,
            dead_letter_queue_url: None,
            state_machine_arn: require_env(STATE_MACHINE_ARN).ok(),
            order_alerts_topic_arn: require_env(ORDER_ALERTS_TOPIC_ARN)?,
            order_errors_topic_arn: require_env(ORDER_ERRORS_TOPIC_ARN)?,
            critical_alerts_topic_arn: require_env(CRITICAL_ALERTS_TOPIC_ARN)?,
            event_bus_name: event_bus_from_env(),
        })
    }

    /// The resources as `(variable, value)` pairs, e.g. to hand them to a child process.
    pub fn env_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            (EVENTS_TABLE, self.events_table.clone()),
            (ORDER_STATUS_TABLE, self.order_status_table.clone()),
            (INVENTORY_TABLE, self.inventory_table.clone()),
            (IDEMPOTENCY_TABLE, self.idempotency_table.clone()),
            (
                NOTIFICATION_DEDUP_TABLE,
                self.notification_dedup_table.clone(),
            ),
            (CUSTOMER_KEYS_TABLE, self.customer_keys_table.clone()),
            (KMS_KEY_ID, self.kms_key_id.clone()),
            (ORDERS_QUEUE_URL, self.orders_queue_url.clone()),
            (ORDER_ALERTS_TOPIC_ARN, self.order_alerts_topic_arn.clone()),
            (ORDER_ERRORS_TOPIC_ARN, self.order_errors_topic_arn.clone()),
            (
                CRITICAL_ALERTS_TOPIC_ARN,
                self.critical_alerts_topic_arn.clone(),
            ),
            (EVENT_BUS_NAME, self.event_bus_name.clone()),
        ];
        if let Some(arn) = &self.state_machine_arn {
            pairs.push((STATE_MACHINE_ARN, arn.clone()));
        }
        pairs
    }
}

/// [`EVENT_BUS_NAME`], or `default`.
pub fn event_bus_from_env() -> String {
    require_env(EVENT_BUS_NAME).unwrap_or_else(|_| DEFAULT_EVENT_BUS.to_owned())
}

/// Loads the process's one `SdkConfig` (region, credentials, `AWS_ENDPOINT_URL`, retries) with
/// the one HTTPS client every client shares ([`crate::tls`]: Amazon Trust Services' roots, or
/// `AWS_CA_BUNDLE`'s). Call it once in `main` and build every client from it: loading resolves
/// the region and credentials, which a cold start should pay once, not per client.
pub async fn load_sdk_config() -> Result<SdkConfig, ConfigError> {
    let trusted = crate::tls::Trusted::from_env()?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(trusted.http_client())
        .load()
        .await)
}

macro_rules! clients {
    ($($(#[$doc:meta])* $name:ident: $client:ty,)*) => {
        /// The clients this crate uses, from one `SdkConfig`, each built the first time a caller
        /// asks for it and kept for the life of the process. A function builds its adapters in
        /// `main`, so the clients it uses are built before its first poll and the ones it never
        /// uses are never built: building a client is ~0.15 ms, all seven ~1 ms, a tenth of a
        /// cold start (BENCHMARKS.md). Cloning shares the built clients (each client is a handle
        /// on a shared connection pool).
        #[derive(Debug, Clone)]
        pub struct AwsClients {
            config: SdkConfig,
            built: std::sync::Arc<Built>,
        }

        #[derive(Debug, Default)]
        struct Built {
            $($name: std::sync::OnceLock<$client>,)*
        }

        impl AwsClients {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> &$client {
                    self.built.$name.get_or_init(|| <$client>::new(&self.config))
                }
            )*
        }
    };
}

clients! {
    /// DynamoDB: the events, read-model, idempotency, dedup and keys tables.
    dynamodb: aws_sdk_dynamodb::Client,
    /// DynamoDB Streams: the events table's stream (the local host's and the tests' reader).
    streams: aws_sdk_dynamodbstreams::Client,
    /// SQS: OrdersQueue and its dead-letter queue.
    sqs: aws_sdk_sqs::Client,
    /// Step Functions: the order and refund state machines.
    sfn: aws_sdk_sfn::Client,
    /// SNS: the alert, error and critical topics.
    sns: aws_sdk_sns::Client,
    /// EventBridge: the bus the terminal events go to.
    eventbridge: aws_sdk_eventbridge::Client,
    /// KMS: wraps and unwraps the customers' data keys.
    kms: aws_sdk_kms::Client,
}

impl AwsClients {
    /// Clients from `config`; none is built until asked for.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            config: config.clone(),
            built: std::sync::Arc::default(),
        }
    }

    /// Loads the default `SdkConfig` ([`load_sdk_config`]); the clients are built from it as
    /// they are asked for.
    pub async fn load() -> Result<Self, ConfigError> {
        Ok(Self::new(&load_sdk_config().await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_built_when_first_asked_for_and_shared_by_clones() {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::from_static("us-east-1"))
            .build();
        let clients = AwsClients::new(&config);
        let clone = clients.clone();
        assert!(clients.built.dynamodb.get().is_none(), "nothing built yet");
        let dynamodb = clients.dynamodb();
        assert!(
            std::ptr::eq(dynamodb, clone.dynamodb()),
            "one client, shared"
        );
        assert!(clients.built.sqs.get().is_none());
        assert!(clients.built.kms.get().is_none());
        assert!(clients.built.streams.get().is_none());
        assert_eq!(
            dynamodb
                .config()
                .region()
                .map(ToString::to_string)
                .as_deref(),
            Some("us-east-1")
        );
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let err = require_env("ORDER_AWS_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing("ORDER_AWS_TEST_SURELY_UNSET_VARIABLE")
        );
        assert!(
            err.to_string()
                .contains("ORDER_AWS_TEST_SURELY_UNSET_VARIABLE")
        );
    }
}
