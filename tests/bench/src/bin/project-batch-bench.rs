//! `project-batch-bench`: the Streams projector (`order_aws::Projector::apply_batch`, what the
//! event projector Lambda and the local stream poller run) on batches of many orders' records,
//! against the emulator's DynamoDB behind a proxy that holds every answer back by a fixed round
//! trip: AWS is a network away, where moto on loopback answers in about a millisecond.
//!
//! ```sh
//! cargo run --release -p order-bench --bin project-batch-bench -- --emulator http://127.0.0.1:5599
//! ```
//!
//! Each batch holds `--runs` new orders' first two events (OrderPlaced, OrderValidated), as the
//! stream delivers them: every order's first record, then every order's second. That is one
//! run per order, each a read of its (absent) status view and a write. Two ways, alternated
//! batch by batch on the same tables:
//! - one run after another (`with_runs_at_once(1)`: what `apply_batch` did before, the
//!   baseline);
//! - runs together, up to `order_aws::projector::RUNS_AT_ONCE` at once (what it does now).
//!
//! Prints a markdown table: the median and p90 time to apply a batch each way and their ratio,
//! and checks that every order's view ends at its second event.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use order_app::ReadModels;
use order_aws::projector::{ChangeRecord, RUNS_AT_ONCE, Target};
use order_aws::provision::provision;
use order_aws::{AwsClients, AwsResources, DynamoEventStore, DynamoReadModels, Projector};
use order_bench::alternated::{Args, behind_round_trip, print_table};
use order_bench::stats::ms;
use order_domain::OrderId;
use order_domain::ports::EventStore;
use order_testkit::events::{meta, order_placed, order_validated, product, write_after};

/// `runs` new orders, each with OrderPlaced and OrderValidated appended; their records as the
/// stream hands them over (every order's first event, then every order's second).
async fn batch(
    store: &DynamoEventStore,
    runs: usize,
) -> anyhow::Result<(Vec<OrderId>, Vec<ChangeRecord>)> {
    let p = product("SKU-BENCH");
    let mut orders = Vec::with_capacity(runs);
    let mut streams = Vec::with_capacity(runs);
    for _ in 0..runs {
        let order = OrderId::generate();
        let write = write_after(
            &order.stream(),
            None,
            [
                order_placed(order, &p).encode(),
                order_validated(&p).encode(),
            ],
            &meta(order),
        );
        store.append(vec![write]).await?;
        streams.push(store.read_stream(&order.stream(), 0).await?);
        orders.push(order);
    }
    let records = (0..2)
        .flat_map(|version| streams.iter().map(move |events| events[version].clone()))
        .enumerate()
        .map(|(i, event)| ChangeRecord {
            shard_id: Some("bench".into()),
            sequence_number: (i + 1).to_string(),
            event: Ok(event),
        })
        .collect();
    Ok((orders, records))
}

fn projector(
    clients: &AwsClients,
    resources: &AwsResources,
    store: &DynamoEventStore,
) -> Projector {
    let views = DynamoReadModels::new(
        clients.dynamodb(),
        &resources.order_status_table,
        &resources.inventory_table,
    );
    Projector::new(store.clone(), Target::OrderStatus(views.orders))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse(
        "project-batch-bench",
        "--runs",
        Args {
            emulator: String::new(),
            size: 25,
            batches: 10,
            round_trip: Duration::from_millis(10),
        },
    )?;
    // Disarmed while the tables are made and the events appended: only the projector pays
    // the round trip.
    let (proxy, clients) = behind_round_trip(&args.emulator, args.round_trip).await?;
    let prefix = format!("pbb{}-", ulid::Ulid::generate().to_string().to_lowercase());
    let resources = provision(&clients, &prefix).await?;
    let store = DynamoEventStore::new(clients.dynamodb().clone(), &resources.events_table);
    let together = projector(&clients, &resources, &store);
    let alone = together.clone().with_runs_at_once(1);
    let reads = DynamoReadModels::new(
        clients.dynamodb(),
        &resources.order_status_table,
        &resources.inventory_table,
    );

    // One warm-up batch each way (connections opened, the SDK's first-call set-up).
    let (mut one_by_one, mut at_once) = (Vec::new(), Vec::new());
    let mut projected = Vec::new();
    for round in 0..=args.batches {
        for concurrent in [false, true] {
            let (orders, records) = batch(&store, args.size).await?;
            proxy.set_armed(true);
            let began = Instant::now();
            let report = if concurrent { &together } else { &alone }
                .apply_batch(&records)
                .await;
            let took = began.elapsed();
            proxy.set_armed(false);
            ensure!(
                report.failed.is_empty() && report.applied == records.len(),
                "batch failed: {:?} ({} of {} applied)",
                report.error,
                report.applied,
                records.len()
            );
            if round > 0 {
                if concurrent {
                    &mut at_once
                } else {
                    &mut one_by_one
                }
                .push(took);
            }
            projected.extend(orders);
        }
    }
    for order in &projected {
        let view = reads
            .get_order(*order)
            .await?
            .with_context(|| format!("no view of {order}"))?;
        ensure!(
            view.version == 2,
            "{order}'s view is at version {}",
            view.version
        );
    }

    println!(
        "The Streams projector (order status), batches of {} orders' first two events ({} \
         records, {} runs), {} batches each way, every emulator answer held back {} ms\n",
        args.size,
        2 * args.size,
        args.size,
        args.batches,
        ms(args.round_trip)
    );
    let together_label = format!("together, up to {RUNS_AT_ONCE} at once (shipped)");
    print_table(
        "runs",
        [
            ("one after another (baseline)", &one_by_one),
            (&together_label, &at_once),
        ],
    )?;
    println!(
        "\n{} orders projected, each view at its second event.",
        projected.len()
    );
    Ok(())
}
