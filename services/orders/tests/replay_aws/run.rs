//! The mixed run, written through the real adapters on the emulator: completed, declined,
//! rejected, insufficient funds, and two orders racing for the last LAST.

use order_app::seed::seed_inventory;
use order_aws::DynamoEventStore;
use order_domain::{OrderId, ProductId, StreamId};
use order_testkit::events::{place, seed_product};
use order_testkit::tasks::{drive, race_for_the_last_one};

/// The orders of the mixed run, by how they ended.
pub struct Run {
    pub completed: OrderId,
    pub declined: OrderId,
    pub out_of_stock: OrderId,
    /// Every stream of the log.
    pub streams: Vec<StreamId>,
}

/// A mixed run: completed, declined, rejected, insufficient funds, and two orders racing for
/// the last LAST (one completes, one runs out of stock and is refunded).
pub async fn mixed_run(store: &DynamoEventStore) -> Run {
    seed_inventory(
        store,
        &[
            seed_product("MUG", 900, 1000),
            seed_product("TEE", 2500, 1000),
            seed_product("SCARCE", 4900, 3),
            seed_product("LAST", 1500, 1),
        ],
    )
    .await
    .unwrap();
    let completed = place(store, &[("MUG", 1)], "tok_visa").await;
    let two_lines = place(store, &[("MUG", 2), ("TEE", 1)], "tok_mastercard").await;
    let declined = place(store, &[("TEE", 1)], "tok_decline").await;
    let rejected = place(store, &[("SCARCE", 5)], "tok_visa").await;
    let broke = place(store, &[("MUG", 1)], "tok_insufficient_funds").await;
    for id in [completed, two_lines, declined, rejected, broke] {
        drive(store, id).await;
    }
    let (a, b) = race_for_the_last_one(store, "LAST").await;
    let mut streams: Vec<StreamId> = ["MUG", "TEE", "SCARCE", "LAST"]
        .iter()
        .map(|p| ProductId::parse(p).unwrap().stream())
        .collect();
    streams.extend(
        [completed, two_lines, declined, rejected, broke, a, b]
            .iter()
            .map(OrderId::stream),
    );
    Run {
        completed,
        declined,
        out_of_stock: b,
        streams,
    }
}
