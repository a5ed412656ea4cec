//! Create-if-missing for the resources of the contract, for an emulator or a fresh dev account
//! (`orders serve --backend aws --provision`, and every emulator test with its own prefix so
//! it gets fresh, small tables: moto's transactions slow down as tables grow).
//!
//! The template is what deploys production; this mirrors its shapes: the events table with a
//! NEW_IMAGE stream, OrderStatusTable with the sparse, sharded sweep index and the customer index
//! (`byCustomerKeys`, keys only; an existing table without either is given it), IdempotencyTable and
//! NotificationDedupTable with TTL on `ttl`, CustomerKeysTable and the KMS key (with its alias
//! `alias/<prefix>PersonalDataKey`) that wraps its data keys, OrdersQueue with its DLQ
//! (maxReceiveCount 5), and
//! the three topics. Tables are on-demand (PAY_PER_REQUEST).

use std::time::Duration;

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sfn::operation::create_state_machine::CreateStateMachineError;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::config::{AwsClients, AwsResources, DEFAULT_EVENT_BUS};
use crate::errors::describe;
use crate::read_models::{CUSTOMER_ID, PLACED_KEY, SWEEP_SHARD, SWEEP_SINCE};

mod indexes;
mod kms;
use indexes::{customer_index, ensure_customer_index, ensure_sweep_index, sweep_index};
use kms::ensure_kms_key;

/// OrdersQueue's maxReceiveCount before a message goes to the DLQ (the contract).
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// OrdersQueue's visibility timeout: six times a 30 s consumer timeout, so a slow consumer's
/// message is not handed to a second one while the first still works on it.
pub const QUEUE_VISIBILITY_SECONDS: u32 = 180;

#[derive(Debug, thiserror::Error)]
#[error("provisioning {resource}: {message}")]
pub struct ProvisionError {
    pub resource: String,
    pub message: String,
}

fn failed(resource: &str, e: &(impl std::error::Error + 'static)) -> ProvisionError {
    ProvisionError {
        resource: resource.to_owned(),
        message: describe(e),
    }
}

fn missing(resource: &str, what: &str) -> ProvisionError {
    ProvisionError {
        resource: resource.to_owned(),
        message: what.to_owned(),
    }
}

/// A table's key attribute: `(name, type, HASH or RANGE)`.
type Key<'a> = (&'a str, ScalarAttributeType, KeyType);

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition, ProvisionError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(|e| failed(name, &e))
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, ProvisionError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| failed(name, &e))
}

/// What a table needs besides its key.
#[derive(Default)]
struct TableExtras {
    stream: bool,
    /// OrderStatusTable's indexes: the sparse sweep index and the customer index.
    order_indexes: bool,
    ttl_attribute: Option<&'static str>,
}

async fn ensure_table(
    clients: &AwsClients,
    name: &str,
    keys: &[Key<'_>],
    extras: TableExtras,
) -> Result<(), ProvisionError> {
    let db = clients.dynamodb();
    let mut req = db
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attr, kind, key_type) in keys {
        req = req
            .attribute_definitions(attribute(attr, kind.clone())?)
            .key_schema(key_element(attr, key_type.clone())?);
    }
    if extras.stream {
        req = req.stream_specification(new_image_stream(name)?);
    }
    if extras.order_indexes {
        req = req
            .attribute_definitions(attribute(SWEEP_SHARD, ScalarAttributeType::S)?)
            .attribute_definitions(attribute(SWEEP_SINCE, ScalarAttributeType::N)?)
            .attribute_definitions(attribute(CUSTOMER_ID, ScalarAttributeType::S)?)
            .attribute_definitions(attribute(PLACED_KEY, ScalarAttributeType::S)?)
            .global_secondary_indexes(sweep_index(name)?)
            .global_secondary_indexes(customer_index(name)?);
    }
    match req.send().await {
        Ok(_) => tracing::info!(table = name, "table created"),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) => {}
        Err(e) => return Err(failed(name, &e)),
    }
    wait_active(clients, name).await?;
    if extras.stream {
        ensure_stream(clients, name).await?;
    }
    if extras.order_indexes {
        ensure_customer_index(clients, name).await?;
        ensure_sweep_index(clients, name).await?;
    }
    if let Some(attr) = extras.ttl_attribute {
        ensure_ttl(clients, name, attr).await?;
    }
    Ok(())
}

fn new_image_stream(name: &str) -> Result<StreamSpecification, ProvisionError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewImage)
        .build()
        .map_err(|e| failed(name, &e))
}

async fn wait_active(clients: &AwsClients, name: &str) -> Result<(), ProvisionError> {
    for _ in 0..120 {
        let out = clients
            .dynamodb()
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| failed(name, &e))?;
        if out.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(missing(name, "table did not become ACTIVE within 60 s"))
}

/// An existing events table without a stream gets one.
async fn ensure_stream(clients: &AwsClients, name: &str) -> Result<(), ProvisionError> {
    let out = clients
        .dynamodb()
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| failed(name, &e))?;
    let enabled = out
        .table
        .and_then(|t| t.stream_specification)
        .is_some_and(|s| s.stream_enabled);
    if !enabled {
        clients
            .dynamodb()
            .update_table()
            .table_name(name)
            .stream_specification(new_image_stream(name)?)
            .send()
            .await
            .map_err(|e| failed(name, &e))?;
        wait_active(clients, name).await?;
    }
    Ok(())
}

async fn ensure_ttl(clients: &AwsClients, name: &str, attr: &str) -> Result<(), ProvisionError> {
    let out = clients
        .dynamodb()
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| failed(name, &e))?;
    let status = out
        .time_to_live_description
        .and_then(|d| d.time_to_live_status);
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    clients
        .dynamodb()
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(attr)
                .build()
                .map_err(|e| failed(name, &e))?,
        )
        .send()
        .await
        .map_err(|e| failed(name, &e))?;
    Ok(())
}

/// The queue's URL, creating it with `attributes` if missing.
async fn ensure_queue(
    clients: &AwsClients,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<String, ProvisionError> {
    if let Ok(out) = clients.sqs().get_queue_url().queue_name(name).send().await
        && let Some(url) = out.queue_url
    {
        return Ok(url);
    }
    let mut req = clients.sqs().create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(k, v);
    }
    let out = req.send().await.map_err(|e| failed(name, &e))?;
    out.queue_url
        .ok_or_else(|| missing(name, "CreateQueue returned no URL"))
}

async fn queue_arn(clients: &AwsClients, name: &str, url: &str) -> Result<String, ProvisionError> {
    let out = clients
        .sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| failed(name, &e))?;
    out.attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| missing(name, "no QueueArn attribute"))
}

async fn ensure_topic(clients: &AwsClients, name: &str) -> Result<String, ProvisionError> {
    // CreateTopic is idempotent: it answers an existing topic's ARN.
    let out = clients
        .sns()
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| failed(name, &e))?;
    out.topic_arn
        .ok_or_else(|| missing(name, "CreateTopic returned no ARN"))
}

/// Creates whatever is missing of the contract's resources, each named `<prefix><LogicalId>`,
/// and returns their names. No state machine (see [`ensure_state_machine`]): the local host
/// runs the workflow itself, and its ARN is left `None`.
pub async fn provision(clients: &AwsClients, prefix: &str) -> Result<AwsResources, ProvisionError> {
    use KeyType::{Hash, Range};
    use ScalarAttributeType::{N, S};
    let name = |logical: &str| format!("{prefix}{logical}");
    let events = name("OrderEventsTable");
    let status = name("OrderStatusTable");
    let inventory = name("InventoryTable");
    let idempotency = name("IdempotencyTable");
    let dedup = name("NotificationDedupTable");
    let customer_keys = name("CustomerKeysTable");
    let events_extras = TableExtras {
        stream: true,
        ..TableExtras::default()
    };
    ensure_table(
        clients,
        &events,
        &[("streamId", S, Hash), ("version", N, Range)],
        events_extras,
    )
    .await?;
    let status_extras = TableExtras {
        order_indexes: true,
        ..TableExtras::default()
    };
    ensure_table(clients, &status, &[("orderId", S, Hash)], status_extras).await?;
    ensure_table(
        clients,
        &inventory,
        &[("ProductID", S, Hash)],
        TableExtras::default(),
    )
    .await?;
    let ttl = TableExtras {
        ttl_attribute: Some("ttl"),
        ..TableExtras::default()
    };
    ensure_table(clients, &idempotency, &[("idempotencyKey", S, Hash)], ttl).await?;
    let ttl = TableExtras {
        ttl_attribute: Some("ttl"),
        ..TableExtras::default()
    };
    ensure_table(clients, &dedup, &[("dedupKey", S, Hash)], ttl).await?;
    ensure_table(
        clients,
        &customer_keys,
        &[("customerId", S, Hash)],
        TableExtras::default(),
    )
    .await?;
    let kms_key_id = ensure_kms_key(clients, &format!("alias/{}", name("PersonalDataKey"))).await?;

    let dlq_name = name("OrdersDeadLetterQueue");
    let dlq_url = ensure_queue(
        clients,
        &dlq_name,
        vec![(QueueAttributeName::MessageRetentionPeriod, "1209600".into())],
    )
    .await?;
    let dlq_arn = queue_arn(clients, &dlq_name, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    });
    let queue_url = ensure_queue(
        clients,
        &name("OrdersQueue"),
        vec![
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
            (
                QueueAttributeName::VisibilityTimeout,
                QUEUE_VISIBILITY_SECONDS.to_string(),
            ),
        ],
    )
    .await?;

    Ok(AwsResources {
        events_table: events,
        order_status_table: status,
        inventory_table: inventory,
        idempotency_table: idempotency,
        notification_dedup_table: dedup,
        customer_keys_table: customer_keys,
        kms_key_id,
        orders_queue_url: queue_url,
        dead_letter_queue_url: Some(dlq_url),
        state_machine_arn: None,
        order_alerts_topic_arn: ensure_topic(clients, &name("OrderAlertsTopic")).await?,
        order_errors_topic_arn: ensure_topic(clients, &name("OrderErrorNotificationTopic")).await?,
        critical_alerts_topic_arn: ensure_topic(clients, &name("CriticalAlertsTopic")).await?,
        event_bus_name: DEFAULT_EVENT_BUS.to_owned(),
    })
}

async fn find_state_machine(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<String>, ProvisionError> {
    let mut pages = clients.sfn().list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed(name, &e))?;
        if let Some(found) = page.state_machines().iter().find(|m| m.name() == name) {
            return Ok(Some(found.state_machine_arn().to_owned()));
        }
    }
    Ok(None)
}

/// The ARN of the Standard state machine `name`, creating it from `definition` (ASL JSON) with
/// `role_arn` if missing. An existing machine is left as it is.
pub async fn ensure_state_machine(
    clients: &AwsClients,
    name: &str,
    definition: &str,
    role_arn: &str,
) -> Result<String, ProvisionError> {
    if let Some(arn) = find_state_machine(clients, name).await? {
        return Ok(arn);
    }
    let result = clients
        .sfn()
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(role_arn)
        .send()
        .await;
    match result {
        Ok(out) => Ok(out.state_machine_arn().to_owned()),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateStateMachineError::StateMachineAlreadyExists(_))
            ) =>
        {
            // Created concurrently by another process.
            find_state_machine(clients, name)
                .await?
                .ok_or_else(|| failed(name, &e))
        }
        Err(e) => Err(failed(name, &e)),
    }
}
