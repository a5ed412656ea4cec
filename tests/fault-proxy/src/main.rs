//! `fault-proxy`: the fault-injecting proxy as a command (see the library's docs). Prints its
//! address on start and the injected faults' counts every `--report-every` and on Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use fault_proxy::{FaultConfig, FaultProxy};

/// A fault-injecting HTTP proxy in front of the AWS emulator.
#[derive(Debug, Parser)]
#[command(name = "fault-proxy")]
struct Args {
    /// The emulator, e.g. http://127.0.0.1:5000.
    #[arg(long)]
    upstream: String,
    /// Where to listen (port 0: a free one, printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Share of requests answered with the service's throttling error.
    #[arg(long, default_value_t = 0.0)]
    throttle: f64,
    /// Share answered 500 InternalFailure / 503 ServiceUnavailable.
    #[arg(long, default_value_t = 0.0)]
    server_error: f64,
    /// Share whose connection is closed before forwarding.
    #[arg(long, default_value_t = 0.0)]
    drop_before: f64,
    /// Share forwarded, then the connection closed with no answer.
    #[arg(long, default_value_t = 0.0)]
    drop_after: f64,
    /// Share answered late.
    #[arg(long, default_value_t = 0.0)]
    slow: f64,
    /// The shortest delay of a slow answer.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    slow_min: Duration,
    /// The longest delay of a slow answer.
    #[arg(long, default_value = "1500ms", value_parser = humantime::parse_duration)]
    slow_max: Duration,
    /// The RNG's seed: the same seed over the same requests injects the same faults.
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// How often to print the counts.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    report_every: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = FaultConfig {
        throttle: args.throttle,
        server_error: args.server_error,
        drop_before: args.drop_before,
        drop_after: args.drop_after,
        slow: args.slow,
        slow_min: args.slow_min,
        slow_max: args.slow_max,
        seed: args.seed,
        only_call: None,
        max_faults: None,
    };
    let (addr, proxy) = FaultProxy::bind(&args.upstream, config, args.listen).await?;
    println!("export AWS_ENDPOINT_URL=http://{addr}");
    let mut report = tokio::time::interval(args.report_every);
    report.tick().await;
    loop {
        tokio::select! {
            _ = report.tick() => eprintln!("{}", proxy.counts()),
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("{}", proxy.counts());
    Ok(())
}
