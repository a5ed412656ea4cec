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

use anyhow::ensure;
use aws_lambda_events::event::sqs::SqsEvent;
use order_aws::SfnWorkflow;
use order_aws::provision::ensure_state_machine;
use order_bench::alternated::{Args, behind_round_trip, print_table};
use order_bench::stats::ms;
use order_domain::OrderId;
use serde_json::json;

/// A state machine that ends at once: the bench times the starts, not the runs.
const PASS_MACHINE: &str = r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#;

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
    let args = Args::parse(
        "start-batch-bench",
        "--batch",
        Args {
            emulator: String::new(),
            size: 10,
            batches: 20,
            round_trip: Duration::from_millis(20),
        },
    )?;
    // Disarmed while the state machine is made: only the starts pay the round trip.
    let (proxy, clients) = behind_round_trip(&args.emulator, args.round_trip).await?;
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
            let orders: Vec<OrderId> = (0..args.size).map(|_| OrderId::generate()).collect();
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
    let expected = 2 * (args.batches + 1) * args.size;
    ensure!(
        started == expected,
        "{started} executions started, {expected} expected"
    );

    println!(
        "StartOrderProcessing's handler, batches of {} messages, {} batches each way, every \
         emulator answer held back {} ms\n",
        args.size,
        args.batches,
        ms(args.round_trip)
    );
    print_table(
        "starts",
        [
            ("one after another (baseline)", &alone),
            ("together (shipped)", &together),
        ],
    )?;
    println!("\n{started} executions started, one per message.");
    Ok(())
}
