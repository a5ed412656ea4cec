//! `start-batch-bench`: StartOrderProcessing's Lambda handler (`order_lambda::start::
//! handle_batch`) on SQS batches of OrdersQueue messages, against the emulator's Step Functions
//! behind a proxy that holds every answer back by a fixed round trip: AWS is a network away,
//! where moto on loopback answers in about a millisecond.
//!
//! ```sh
//! cargo run --release -p order-bench --bin start-batch-bench -- --emulator http://127.0.0.1:5599
//! ```
//!
//! Two ways to start a batch's executions, alternated batch by batch on the same state machine:
//! - one after another: each message handed to the handler alone, in turn (what the handler did
//!   with a whole batch before it started them together: the baseline);
//! - together: the whole batch handed to the handler at once (what it does now).
//!
//! Prints a markdown table: the median and p90 time to start a batch each way and their ratio,
//! and checks that every message started its own execution.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use aws_config::BehaviorVersion;
use aws_lambda_events::event::sqs::SqsEvent;
use fault_proxy::{FaultConfig, FaultProxy};
use order_aws::provision::ensure_state_machine;
use order_aws::{AwsClients, SfnWorkflow};
use order_bench::stats::{median, ms, percentile};
use order_domain::OrderId;
use serde_json::json;

/// The flags it takes (`--help` prints them).
const FLAGS: &str = "--emulator URL --batch N --batches N --round-trip-ms N";

/// A state machine that ends at once: the bench times the starts, not the runs.
const PASS_MACHINE: &str = r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#;

struct Args {
    emulator: String,
    batch: usize,
    batches: usize,
    round_trip: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        emulator: String::new(),
        batch: 10,
        batches: 20,
        round_trip: Duration::from_millis(20),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("flag needs a value");
        match flag.as_str() {
            "--emulator" => args.emulator = value()?,
            "--batch" => args.batch = value()?.parse()?,
            "--batches" => args.batches = value()?.parse()?,
            "--round-trip-ms" => args.round_trip = Duration::from_millis(value()?.parse()?),
            "-h" | "--help" => {
                println!("start-batch-bench {FLAGS}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other} (use {FLAGS})"),
        }
    }
    ensure!(!args.emulator.is_empty(), "--emulator URL is required");
    ensure!(
        args.batch > 0 && args.batches > 0,
        "--batch and --batches must be positive"
    );
    Ok(args)
}

/// An SQS event of `orders`' OrdersQueue messages, as Lambda's event source hands it over.
fn sqs_event(orders: &[OrderId]) -> anyhow::Result<SqsEvent> {
    let records: Vec<_> = orders
        .iter()
        .map(|o| json!({ "messageId": o.to_string(), "body": json!({ "orderId": o }).to_string() }))
        .collect();
    Ok(serde_json::from_value(json!({ "Records": records }))?)
}

/// Hands `orders` to the handler as one batch (`together`) or one message at a time; the time
/// it took.
async fn start(
    workflow: &SfnWorkflow,
    orders: &[OrderId],
    together: bool,
) -> anyhow::Result<Duration> {
    let began = Instant::now();
    let events = if together {
        vec![sqs_event(orders)?]
    } else {
        orders
            .iter()
            .map(|o| sqs_event(std::slice::from_ref(o)))
            .collect::<anyhow::Result<_>>()?
    };
    for event in events {
        let response = order_lambda::start::handle_batch(workflow, event).await;
        ensure!(
            response.failed_ids().is_empty(),
            "starts failed: {:?}",
            response.failed_ids()
        );
    }
    Ok(began.elapsed())
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
    // Made without the round trip, which only the starts should pay.
    proxy.set_armed(false);
    let name = format!("start-batch-bench-{}", OrderId::generate());
    let arn = ensure_state_machine(
        &clients,
        &name,
        PASS_MACHINE,
        "arn:aws:iam::123456789012:role/start-batch-bench",
    )
    .await?;
    proxy.set_armed(true);
    let workflow = SfnWorkflow::new(clients.sfn().clone(), &arn);
    // One warm-up batch each way (connections opened, the SDK's first-call set-up).
    let (mut alone, mut together) = (Vec::new(), Vec::new());
    for round in 0..=args.batches {
        for at_once in [false, true] {
            let orders: Vec<OrderId> = (0..args.batch).map(|_| OrderId::generate()).collect();
            let took = start(&workflow, &orders, at_once).await?;
            if round > 0 {
                if at_once { &mut together } else { &mut alone }.push(took);
            }
        }
    }
    let mut started = 0;
    let mut pages = clients
        .sfn()
        .list_executions()
        .state_machine_arn(&arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        started += page?.executions().len();
    }
    let expected = 2 * (args.batches + 1) * args.batch;
    ensure!(
        started == expected,
        "{started} executions started, {expected} expected"
    );

    let (a, t) = (
        median(&alone).context("no batches")?,
        median(&together).context("no batches")?,
    );
    println!(
        "StartOrderProcessing's handler, batches of {} messages, {} batches each way, every \
         emulator answer held back {} ms\n",
        args.batch,
        args.batches,
        ms(args.round_trip)
    );
    println!("| starts | median per batch | p90 per batch | ÷ one after another |");
    println!("|---|---:|---:|---:|");
    for (label, samples, median) in [
        ("one after another (baseline)", &alone, a),
        ("together (shipped)", &together, t),
    ] {
        println!(
            "| {label} | {} | {} | {:.2} |",
            ms(median),
            ms(percentile(samples, 90).context("no batches")?),
            median.as_secs_f64() / a.as_secs_f64()
        );
    }
    println!("\n{started} executions started, one per message.");
    Ok(())
}
