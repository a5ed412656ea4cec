//! The live read-model rows on DynamoDB, as the core compares them.
//!
//! OrderStatusTable (`orderId`) keeps `status`, `version`, `updatedAt`, the customer index's
//! `customerId` and `placedKey`, the sweep index's `sweepShard` and `sweepSince` (an open
//! order's only), and the `view` JSON;
//! InventoryTable (`ProductID`) keeps `available`, `version` and `view` (docs/aws-contract.md).
//! The attributes beside the document are compared under the core's storage names
//! ([`View::attribute`](crate::View::attribute)): `updatedAt` is `updated_at` there,
//! `customerId` `customer_id`, `placedKey` `placed_key`, `sweepShard` `sweep_shard`,
//! `sweepSince` `sweep_since`.

use aws_sdk_dynamodb::types::AttributeValue;
use order_aws::read_models::{CUSTOMER_ID, PLACED_KEY, SWEEP_SHARD, SWEEP_SINCE};
use serde_json::Value;

use super::scan::Item;
use super::{DynamoReplay, ReplayError};
use crate::compare::LiveRow;
use crate::view::Model;

/// OrderStatusTable's partition key.
pub(super) const ORDER_KEY: &str = "orderId";
/// InventoryTable's partition key.
pub(super) const PRODUCT_KEY: &str = "ProductID";

/// A live row, with its `version` attribute exactly as stored (a delete is conditioned on it).
#[derive(Debug, Clone)]
pub(super) struct LiveItem {
    pub row: LiveRow,
    pub raw_version: Option<AttributeValue>,
}

/// An attribute as the JSON value the core compares (`null` when absent).
fn value(v: Option<&AttributeValue>) -> Value {
    match v {
        None | Some(AttributeValue::Null(_)) => Value::Null,
        Some(AttributeValue::S(s)) => Value::String(s.clone()),
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map(Value::from)
            .or_else(|_| n.parse::<i64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(n.clone())),
        Some(AttributeValue::Bool(b)) => Value::Bool(*b),
        Some(other) => Value::String(format!("{other:?}")),
    }
}

/// Reads a live item of `model` into the row the core compares.
pub(super) fn live_item(model: Model, key: &str, mut item: Item) -> LiveItem {
    let raw_version = item.remove("version");
    let version = value(raw_version.as_ref());
    let columns = match model {
        Model::OrderStatus => vec![
            ("status", value(item.get("status"))),
            ("version", version.clone()),
            ("updated_at", value(item.get("updatedAt"))),
            ("customer_id", value(item.get(CUSTOMER_ID))),
            ("placed_key", value(item.get(PLACED_KEY))),
            ("sweep_shard", value(item.get(SWEEP_SHARD))),
            ("sweep_since", value(item.get(SWEEP_SINCE))),
        ],
        Model::Inventory => vec![
            ("available", value(item.get("available"))),
            ("version", version.clone()),
        ],
    };
    let view = match item.remove("view") {
        Some(AttributeValue::S(text)) => text,
        // An empty document is unreadable JSON: the core reports the row as such.
        _ => String::new(),
    };
    LiveItem {
        row: LiveRow {
            key: key.to_owned(),
            version: version.as_u64().unwrap_or(0),
            view,
            columns,
        },
        raw_version,
    }
}

impl DynamoReplay {
    /// The live row of `model` keyed `key`, strongly consistent.
    pub(super) async fn live_row(
        &self,
        model: Model,
        key: &str,
    ) -> Result<Option<LiveItem>, ReplayError> {
        let (table, key_attr) = self.table_of(model);
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(key_attr, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ReplayError::dynamo(table, &e))?;
        Ok(out.item.map(|item| live_item(model, key, item)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_strings_and_absent_attributes_become_the_values_the_core_compares() {
        assert_eq!(value(None), Value::Null);
        assert_eq!(
            value(Some(&AttributeValue::N("42".into()))),
            Value::from(42_u64)
        );
        assert_eq!(
            value(Some(&AttributeValue::N("-3".into()))),
            Value::from(-3_i64)
        );
        assert_eq!(
            value(Some(&AttributeValue::N("1.5".into()))),
            Value::String("1.5".into())
        );
        assert_eq!(
            value(Some(&AttributeValue::S("PAID".into()))),
            Value::String("PAID".into())
        );
    }

    #[test]
    fn an_order_status_item_becomes_a_live_row_with_the_cores_column_names() {
        let item = Item::from([
            ("orderId".to_owned(), AttributeValue::S("X".into())),
            ("status".to_owned(), AttributeValue::S("PAID".into())),
            ("version".to_owned(), AttributeValue::N("3".into())),
            ("updatedAt".to_owned(), AttributeValue::N("17".into())),
            ("customerId".to_owned(), AttributeValue::S("cust-1".into())),
            (
                "placedKey".to_owned(),
                AttributeValue::S("0000000000011#X".into()),
            ),
            ("view".to_owned(), AttributeValue::S("{}".into())),
        ]);
        let live = live_item(Model::OrderStatus, "X", item);
        assert_eq!(live.row.version, 3);
        assert_eq!(live.row.view, "{}");
        assert_eq!(live.raw_version, Some(AttributeValue::N("3".into())));
        assert_eq!(
            live.row.columns,
            vec![
                ("status", Value::from("PAID")),
                ("version", Value::from(3_u64)),
                ("updated_at", Value::from(17_u64)),
                ("customer_id", Value::from("cust-1")),
                ("placed_key", Value::from("0000000000011#X")),
                ("sweep_shard", Value::Null),
                ("sweep_since", Value::Null),
            ]
        );
    }
}
