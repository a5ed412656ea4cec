//! `cost-model`: the price per million orders of the deployed design, from one real local run
//! (N orders through the embedded pipeline in-process, counted from its database, outbox and
//! logs) × published AWS list prices, for Express and Standard workflows.
//!
//! ```sh
//! cargo run --release -p order-bench --bin cost-model -- --orders 500 --clients 16
//! cargo run --release -p order-bench --bin cost-model -- --orders 500 --json
//! ```
//!
//! The default output is the markdown report, then one refund's price (`order_bench::cost::
//! refund`). `--json` prints one JSON object on one line of stdout instead (`orders`,
//! `express_per_million`, `standard_per_million`, `ratio`, the detail: see
//! `order_bench::cost::json`, and the refund's under `refund`); progress goes to stderr either
//! way.

use anyhow::{Context, bail};
use order_bench::cost::count::{LogMeter, observed, run};
use order_bench::cost::emf;
use order_bench::cost::json::to_json;
use order_bench::cost::lines::lines;
use order_bench::cost::model::Assumptions;
use order_bench::cost::refund::issued_path;
use order_bench::cost::refund_report;
use order_bench::cost::report::render;
use tracing_subscriber::EnvFilter;

/// The flags it takes (`--help` prints them).
const FLAGS: &str = "--orders N --clients N --gets-per-order X --sqs-batch X \
     --stream-batch X --call-ms X --refund-lines X --json";

/// What the command line asked for.
struct Args {
    orders: usize,
    clients: usize,
    assumptions: Assumptions,
    json: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let (mut orders, mut clients, mut a) = (500, 16, Assumptions::default());
    let mut json = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("flag needs a value");
        match flag.as_str() {
            "--json" => json = true,
            "--orders" => orders = value()?.parse()?,
            "--clients" => clients = value()?.parse()?,
            "--gets-per-order" => a.gets_per_order = value()?.parse()?,
            "--sqs-batch" => a.sqs_messages_per_batch = value()?.parse()?,
            "--stream-batch" => a.stream_records_per_invocation = value()?.parse()?,
            "--call-ms" => a.call_ms = value()?.parse()?,
            "--refund-lines" => a.refund_lines = value()?.parse()?,
            "-h" | "--help" => {
                println!("cost-model {FLAGS}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other} (use {FLAGS})"),
        }
    }
    if orders == 0 {
        bail!("--orders must be at least 1");
    }
    Ok(Args {
        orders,
        clients,
        assumptions: a,
        json,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Args {
        orders,
        clients,
        assumptions,
        json,
    } = parse_args()?;
    // The pipeline's logs, as JSON lines at INFO (what the Lambdas would ship to CloudWatch),
    // are counted and dropped.
    let meter = LogMeter::default();
    let writer = meter.clone();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .init();
    // Before the run, whose server would install its Prometheus recorder otherwise.
    let emf_paths = emf::PathBytes::measure()?;
    eprintln!("running {orders} orders with {clients} clients through the embedded pipeline…");
    let counts = run(orders, clients, &meter).await?;
    let mut observed = observed(&counts);
    observed.emf_bytes = emf_paths.per_function(&observed);
    let lines = lines(&observed, &assumptions);
    let refund = issued_path().await?;
    if json {
        let mut out = to_json(&counts, &observed, &assumptions, &lines);
        out["refund"] = refund_report::to_json(&refund, &observed, &assumptions);
        println!("{out}");
    } else {
        print!("{}", render(&counts, &observed, &assumptions, &lines));
        print!(
            "{}",
            refund_report::render(&refund, &observed, &assumptions)
        );
    }
    Ok(())
}
