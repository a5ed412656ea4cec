//! Seeding the inventory from a JSON file, idempotently (a product that exists is left alone).

use order_domain::ports::{DecideError, EventStore, StoreError};
use order_domain::product::{self, ProductState};
use order_domain::{EventMeta, Money, ProductId, Timestamp};
use serde::Deserialize;

use crate::stream::seal;

/// The seed both hosts use when none is given (`orders serve` without `--seed`, and the
/// SeedInventory custom resource): `migrations/seed/inventory.json`, built in.
pub const DEFAULT_SEED: &str = include_str!("../../../migrations/seed/inventory.json");

/// One product of a seed file: `{"productId","name","price","stock"}`, price in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedProduct {
    pub product_id: ProductId,
    pub name: String,
    pub price: Money,
    pub stock: u64,
}

/// Adds every product that does not exist yet; returns how many were added.
pub async fn seed_inventory<S: EventStore>(
    store: &S,
    products: &[SeedProduct],
) -> Result<usize, StoreError> {
    let mut added = 0;
    for p in products {
        let item = p.clone();
        let result = store
            .decide_and_append(vec![p.product_id.stream()], move |heads| {
                let existing = match heads.first().and_then(Option::as_ref) {
                    Some(h) => Some(
                        ProductState::from_head(h)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    ),
                    None => None,
                };
                let Some(event) =
                    product::seed(existing.as_ref(), &item.name, item.price, item.stock)
                else {
                    return Ok((vec![], false));
                };
                let meta = EventMeta {
                    correlation_id: format!("seed:{}", item.product_id).into(),
                    causation_id: "seed".into(),
                    occurred_at: Timestamp::now(),
                    trace_parent: None,
                };
                let write = seal(
                    &item.product_id.stream(),
                    0,
                    order_domain::GENESIS_HASH,
                    [event],
                    &meta,
                );
                Ok((vec![write], true))
            })
            .await;
        match result {
            Ok(true) => added += 1,
            Ok(false) => {}
            Err(DecideError::Refused(e) | DecideError::Store(e)) => return Err(e),
        }
    }
    Ok(added)
}
