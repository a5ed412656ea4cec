//! A parallel, strongly consistent Scan of a few attributes, page by page.
//!
//! One task per segment pages through its part of the table (`ExclusiveStartKey`) and hands
//! each page on through a channel of `segments` slots, so at most about twice as many pages as
//! segments are held at once however large the table. Dropping the receiver stops the tasks at
//! their next page.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::mpsc;

use super::ReplayError;

pub(super) type Item = HashMap<String, AttributeValue>;

/// Scans `table` in `segments` parallel segments, projecting `attributes`.
pub(super) fn keys(
    client: &Client,
    table: &str,
    attributes: &[&str],
    segments: u32,
    page_limit: Option<i32>,
) -> mpsc::Receiver<Result<Vec<Item>, ReplayError>> {
    let total = i32::try_from(segments.max(1)).unwrap_or(i32::MAX);
    let (tx, rx) = mpsc::channel(usize::try_from(total).unwrap_or(1));
    let names: Vec<(String, String)> = attributes
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("#a{i}"), (*a).to_owned()))
        .collect();
    let projection = names
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    for segment in 0..total {
        let (client, table, tx) = (client.clone(), table.to_owned(), tx.clone());
        let (names, projection) = (names.clone(), projection.clone());
        tokio::spawn(async move {
            let mut start = None;
            loop {
                let mut req = client
                    .scan()
                    .table_name(&table)
                    .segment(segment)
                    .total_segments(total)
                    .consistent_read(true)
                    .projection_expression(&projection)
                    .set_limit(page_limit)
                    .set_exclusive_start_key(start.take());
                for (n, a) in &names {
                    req = req.expression_attribute_names(n, a);
                }
                let page = match req.send().await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(ReplayError::dynamo(&table, &e))).await;
                        return;
                    }
                };
                let next = page.last_evaluated_key.filter(|k| !k.is_empty());
                if tx.send(Ok(page.items.unwrap_or_default())).await.is_err() {
                    return;
                }
                match next {
                    Some(key) => start = Some(key),
                    None => return,
                }
            }
        });
    }
    rx
}
