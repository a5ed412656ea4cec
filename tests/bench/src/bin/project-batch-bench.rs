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

use anyhow::{Context, bail, ensure};
use aws_config::BehaviorVersion;
use fault_proxy::{FaultConfig, FaultProxy};
use order_app::ReadModels;
use order_aws::projector::{ChangeRecord, RUNS_AT_ONCE, Target};
use order_aws::provision::provision;
use order_aws::{AwsClients, AwsResources, DynamoEventStore, DynamoReadModels, Projector};
use order_bench::stats::{median, ms, percentile};
use order_domain::OrderId;
use order_domain::ports::EventStore;
use order_testkit::events::{meta, order_placed, order_validated, product, write_after};

/// The flags it takes (`--help` prints them).
const FLAGS: &str = "--emulator URL --runs N --batches N --round-trip-ms N";

struct Args {
    emulator: String,
    runs: usize,
    batches: usize,
    round_trip: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        emulator: String::new(),
        runs: 25,
        batches: 10,
        round_trip: Duration::from_millis(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("flag needs a value");
        match flag.as_str() {
            "--emulator" => args.emulator = value()?,
            "--runs" => args.runs = value()?.parse()?,
            "--batches" => args.batches = value()?.parse()?,
            "--round-trip-ms" => args.round_trip = Duration::from_millis(value()?.parse()?),
            "-h" | "--help" => {
                println!("project-batch-bench {FLAGS}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other} (use {FLAGS})"),
        }
    }
    ensure!(!args.emulator.is_empty(), "--emulator URL is required");
    ensure!(
        args.runs > 0 && args.batches > 0,
        "--runs and --batches must be positive"
    );
    Ok(args)
}

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
    let args = parse_args()?;
    let (_, proxy) = FaultProxy::start(
        &args.emulator,
        FaultConfig {
            slow: 1.0,
            slow_min: args.round_trip,
            slow_max: args.round_trip,
            ..FaultConfig::default()
        },
    )
    .await?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(proxy.url())
        .load()
        .await;
    let clients = AwsClients::new(&config);
    // The tables and the appends are made without the round trip, which only the projector
    // should pay.
    proxy.set_armed(false);
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
            let (orders, records) = batch(&store, args.runs).await?;
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

    print_table(&args, &one_by_one, &at_once, projected.len())
}

/// The bench's table: each way's median and p90 per batch, and their ratio.
fn print_table(
    args: &Args,
    one_by_one: &[Duration],
    at_once: &[Duration],
    projected: usize,
) -> anyhow::Result<()> {
    let (a, t) = (
        median(one_by_one).context("no batches")?,
        median(at_once).context("no batches")?,
    );
    println!(
        "The Streams projector (order status), batches of {} orders' first two events ({} \
         records, {} runs), {} batches each way, every emulator answer held back {} ms\n",
        args.runs,
        2 * args.runs,
        args.runs,
        args.batches,
        ms(args.round_trip)
    );
    println!("| runs | median per batch (ms) | p90 per batch (ms) | ÷ one after another |");
    println!("|---|---:|---:|---:|");
    for (label, samples, median) in [
        ("one after another (baseline)", one_by_one, a),
        (
            &*format!("together, up to {RUNS_AT_ONCE} at once (shipped)"),
            at_once,
            t,
        ),
    ] {
        println!(
            "| {label} | {} | {} | {:.2} |",
            ms(median),
            ms(percentile(samples, 90).context("no batches")?),
            median.as_secs_f64() / a.as_secs_f64()
        );
    }
    println!("\n{projected} orders projected, each view at its second event.");
    Ok(())
}
