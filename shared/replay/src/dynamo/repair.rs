//! The writes of `--rebuild` on DynamoDB, safe beside the running projectors.
//!
//! Every repair is conditional, and DynamoDB evaluates the condition in the write itself:
//! - a rebuilt row is put only if the live row is absent or not newer than it
//!   (`attribute_not_exists(pk) OR version <= :v`), so a projector that moved the row on since
//!   replay read it is never undone; at an equal version the rebuilt row replaces a corrupted
//!   one. The item has the attributes the projectors write (`order_aws::read_models`).
//! - a row the log does not justify is deleted in one transaction with a condition check on
//!   the events table: nothing at the stream's next version (`attribute_not_exists` on
//!   `(streamId, head + 1)`), and only while the row still has the version replay judged.
//!   An event appended meanwhile, or a row rewritten meanwhile, cancels the delete.
//!
//! A write whose condition fails changes nothing and is counted as kept.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem};
use order_aws::ViewWrite;
use order_aws::codec::{STREAM_ID, VERSION};
use order_aws::read_models::{InventoryTable, OrderStatusTable};

use super::live::LiveItem;
use super::{DynamoReplay, ReplayError};
use crate::judge::Repair;
use crate::view::{Model, View};

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl DynamoReplay {
    /// Applies one repair; whether it changed the row. `live` is the row replay judged (a
    /// delete is conditioned on it still being there, unchanged).
    pub(super) async fn apply(
        &self,
        repair: &Repair,
        live: Option<&LiveItem>,
    ) -> Result<bool, ReplayError> {
        match repair {
            Repair::Put(view) => self.put(view).await,
            Repair::Delete {
                model,
                key,
                head_version,
            } => self.delete(*model, key, *head_version, live).await,
        }
    }

    /// The projector's own item, replacing the row unless it moved past the rebuilt version.
    async fn put(&self, view: &View) -> Result<bool, ReplayError> {
        let (table, _) = self.table_of(view.model());
        let written = match view {
            View::Order(v) => {
                let rows = OrderStatusTable::new(self.client.clone(), table);
                rows.replace_unless_newer(v).await
            }
            View::Inventory(v) => {
                let rows = InventoryTable::new(self.client.clone(), table);
                rows.replace_unless_newer(v).await
            }
        };
        match written {
            Ok(w) => Ok(w == ViewWrite::Written),
            Err(e) => Err(ReplayError::Dynamo {
                table: table.to_owned(),
                detail: e.to_string(),
            }),
        }
    }

    async fn delete(
        &self,
        model: Model,
        key: &str,
        head_version: u64,
        live: Option<&LiveItem>,
    ) -> Result<bool, ReplayError> {
        let (table, key_attr) = self.table_of(model);
        let failed = |e: &dyn std::fmt::Display| ReplayError::Dynamo {
            table: table.to_owned(),
            detail: e.to_string(),
        };
        let next_event = HashMap::from([
            (STREAM_ID.to_owned(), s(model.stream_of(key))),
            (VERSION.to_owned(), n(head_version + 1)),
        ]);
        let check = ConditionCheck::builder()
            .table_name(&self.events_table)
            .set_key(Some(next_event))
            .condition_expression("attribute_not_exists(#s)")
            .expression_attribute_names("#s", STREAM_ID)
            .build()
            .map_err(|e| failed(&e))?;
        let mut delete = Delete::builder()
            .table_name(table)
            .key(key_attr, s(key))
            .expression_attribute_names("#v", "version");
        delete = match live.and_then(|l| l.raw_version.clone()) {
            Some(seen) => delete
                .condition_expression("#v = :seen")
                .expression_attribute_values(":seen", seen),
            None => delete.condition_expression("attribute_not_exists(#v)"),
        };
        let delete = delete.build().map_err(|e| failed(&e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => Ok(false),
                _ => Err(ReplayError::dynamo(table, &e)),
            },
        }
    }
}
