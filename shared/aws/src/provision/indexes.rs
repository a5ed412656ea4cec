//! OrderStatusTable's global secondary indexes, at creation and added to an older table.

use std::time::Duration;

use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::types::{
    CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use super::{ProvisionError, attribute, failed, key_element, missing};
use crate::config::AwsClients;
use crate::read_models::{
    CUSTOMER_ID, CUSTOMER_INDEX, PLACED_KEY, SWEEP_INDEX, SWEEP_SHARD, SWEEP_SINCE,
};

/// A global secondary index on (`hash`, `range`).
pub(super) fn index(
    table: &str,
    name: &str,
    hash: &str,
    range: &str,
    projection: ProjectionType,
) -> Result<GlobalSecondaryIndex, ProvisionError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_element(hash, KeyType::Hash)?)
        .key_schema(key_element(range, KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
        .build()
        .map_err(|e| failed(table, &e))
}

/// The customer index (GET /orders): every order row, keys only (a page reads its rows back
/// from the table), so a status put that keeps the keys writes nothing to it.
pub(super) fn customer_index(table: &str) -> Result<GlobalSecondaryIndex, ProvisionError> {
    index(
        table,
        CUSTOMER_INDEX,
        CUSTOMER_ID,
        PLACED_KEY,
        ProjectionType::KeysOnly,
    )
}

/// The sweep index: the open orders by shard, oldest first, keys only (the sweeper reads the
/// rows it needs back from the table).
pub(super) fn sweep_index(table: &str) -> Result<GlobalSecondaryIndex, ProvisionError> {
    index(
        table,
        SWEEP_INDEX,
        SWEEP_SHARD,
        SWEEP_SINCE,
        ProjectionType::KeysOnly,
    )
}

/// An OrderStatusTable made before GET /orders existed, or with the customer index of before
/// (`byCustomer`, every attribute projected, which nothing reads any more), gets the customer
/// index. DynamoDB backfills it from the rows' `customerId` and `placedKey`, which only rows
/// written since GET /orders existed carry: `orders replay --rebuild` rewrites the older ones.
pub(super) async fn ensure_customer_index(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProvisionError> {
    ensure_index(clients, name, customer_index(name)?).await
}

/// An OrderStatusTable made before the sharded sweep index gets it (beside its old
/// `bySweepStatus`, which nothing reads any more). Rows written before it lack its keys until
/// their next status put or `orders replay --rebuild`.
pub(super) async fn ensure_sweep_index(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProvisionError> {
    ensure_index(clients, name, sweep_index(name)?).await
}

/// Adds `wanted` to table `name` unless it has an index of that name, then waits for it to be
/// ACTIVE.
async fn ensure_index(
    clients: &AwsClients,
    name: &str,
    wanted: GlobalSecondaryIndex,
) -> Result<(), ProvisionError> {
    let index_name = wanted.index_name().to_owned();
    let indexes = |out: &DescribeTableOutput| {
        out.table()
            .map(|t| {
                t.global_secondary_indexes()
                    .iter()
                    .filter(|i| i.index_name() == Some(index_name.as_str()))
                    .map(|i| i.index_status().cloned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let describe = || clients.dynamodb().describe_table().table_name(name).send();
    let out = describe().await.map_err(|e| failed(name, &e))?;
    if indexes(&out).is_empty() {
        let mut update = clients.dynamodb().update_table().table_name(name);
        for key in wanted.key_schema() {
            // Every index key of the table is a string but the sweep index's sort key.
            let kind = if key.attribute_name() == SWEEP_SINCE {
                ScalarAttributeType::N
            } else {
                ScalarAttributeType::S
            };
            update = update.attribute_definitions(attribute(key.attribute_name(), kind)?);
        }
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(&index_name)
            .set_key_schema(Some(wanted.key_schema().to_vec()))
            .set_projection(wanted.projection().cloned())
            .build()
            .map_err(|e| failed(name, &e))?;
        update
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| failed(name, &e))?;
        tracing::info!(table = name, index = %index_name, "index created");
    }
    for _ in 0..600 {
        let out = describe().await.map_err(|e| failed(name, &e))?;
        // An emulator may report no status at all: nothing to wait for then.
        if indexes(&out)
            .iter()
            .all(|s| matches!(s, None | Some(IndexStatus::Active)))
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(missing(
        name,
        &format!("index {index_name} did not become ACTIVE within 10 min"),
    ))
}
