//! OrderStatusTable's global secondary indexes, at creation and added to an older table.

use std::time::Duration;

use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::types::{
    CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use super::{ProvisionError, attribute, failed, key_element, missing};
use crate::config::AwsClients;
use crate::read_models::{CUSTOMER_ID, CUSTOMER_INDEX, PLACED_KEY};

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

/// The customer index (GET /orders): every order row, projected whole, so a page needs no
/// read back to the table.
pub(super) fn customer_index(table: &str) -> Result<GlobalSecondaryIndex, ProvisionError> {
    index(
        table,
        CUSTOMER_INDEX,
        CUSTOMER_ID,
        PLACED_KEY,
        ProjectionType::All,
    )
}

/// An OrderStatusTable made before GET /orders existed gets the customer index. DynamoDB
/// backfills it from the rows' `customerId` and `placedKey`, which only rows written since
/// carry: `orders replay --rebuild` rewrites the older ones.
pub(super) async fn ensure_customer_index(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProvisionError> {
    let indexes = |out: &DescribeTableOutput| {
        out.table()
            .map(|t| {
                t.global_secondary_indexes()
                    .iter()
                    .filter(|i| i.index_name() == Some(CUSTOMER_INDEX))
                    .map(|i| i.index_status().cloned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let describe = || clients.dynamodb.describe_table().table_name(name).send();
    let out = describe().await.map_err(|e| failed(name, &e))?;
    if indexes(&out).is_empty() {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(CUSTOMER_INDEX)
            .key_schema(key_element(CUSTOMER_ID, KeyType::Hash)?)
            .key_schema(key_element(PLACED_KEY, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| failed(name, &e))?;
        clients
            .dynamodb
            .update_table()
            .table_name(name)
            .attribute_definitions(attribute(CUSTOMER_ID, ScalarAttributeType::S)?)
            .attribute_definitions(attribute(PLACED_KEY, ScalarAttributeType::S)?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| failed(name, &e))?;
        tracing::info!(table = name, index = CUSTOMER_INDEX, "index created");
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
        "index byCustomer did not become ACTIVE within 10 min",
    ))
}
