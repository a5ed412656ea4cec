//! What the two batch benches share (`start-batch-bench`, `project-batch-bench`): their flags,
//! the emulator behind an in-process proxy that holds every answer back by a fixed round trip
//! (AWS is a network away, where moto on loopback answers in about a millisecond), and the
//! table of a batch's time done one after another (the baseline) against together.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use aws_config::BehaviorVersion;
use fault_proxy::{FaultConfig, FaultProxy};
use order_aws::AwsClients;

use crate::stats::{median, ms, percentile};

/// A batch bench's flags: `--emulator URL`, its batch size's flag, `--batches N` and
/// `--round-trip-ms N`.
#[derive(Debug, Clone)]
pub struct Args {
    pub emulator: String,
    /// What one batch holds (messages, runs).
    pub size: usize,
    /// Batches each way, after a warm-up batch each way.
    pub batches: usize,
    pub round_trip: Duration,
}

impl Args {
    /// Reads the process's arguments over `defaults`. `size_flag` names the batch size's flag
    /// (`--batch`, `--runs`). `--help` prints the flags and exits 0; an unknown flag fails
    /// naming them.
    pub fn parse(bench: &str, size_flag: &str, defaults: Self) -> anyhow::Result<Self> {
        let flags = format!("--emulator URL {size_flag} N --batches N --round-trip-ms N");
        let mut args = defaults;
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().context("flag needs a value");
            match flag.as_str() {
                "--emulator" => args.emulator = value()?,
                f if f == size_flag => args.size = value()?.parse()?,
                "--batches" => args.batches = value()?.parse()?,
                "--round-trip-ms" => args.round_trip = Duration::from_millis(value()?.parse()?),
                "-h" | "--help" => {
                    println!("{bench} {flags}");
                    std::process::exit(0);
                }
                other => bail!("unknown flag {other} (use {flags})"),
            }
        }
        ensure!(!args.emulator.is_empty(), "--emulator URL is required");
        ensure!(
            args.size > 0 && args.batches > 0,
            "{size_flag} and --batches must be positive"
        );
        Ok(args)
    }
}

/// SDK clients of `emulator` through a proxy that holds every answer back by `round_trip`,
/// returned disarmed (answering at once) for the bench's set-up: arm it around what is timed.
pub async fn behind_round_trip(
    emulator: &str,
    round_trip: Duration,
) -> anyhow::Result<(FaultProxy, AwsClients)> {
    let (_, proxy) = FaultProxy::start(
        emulator,
        FaultConfig {
            slow: 1.0,
            slow_min: round_trip,
            slow_max: round_trip,
            ..FaultConfig::default()
        },
    )
    .await?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(proxy.url())
        .load()
        .await;
    proxy.set_armed(false);
    Ok((proxy, AwsClients::new(&config)))
}

/// Prints the table: each way's median and p90 per batch and its ratio to the first row's
/// median (the baseline). `what` heads the first column.
pub fn print_table(what: &str, rows: [(&str, &[Duration]); 2]) -> anyhow::Result<()> {
    let baseline = median(rows[0].1).context("no batches")?;
    println!("| {what} | median per batch (ms) | p90 per batch (ms) | ÷ one after another |");
    println!("|---|---:|---:|---:|");
    for (label, samples) in rows {
        let median = median(samples).context("no batches")?;
        println!(
            "| {label} | {} | {} | {:.2} |",
            ms(median),
            ms(percentile(samples, 90).context("no batches")?),
            median.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    Ok(())
}
