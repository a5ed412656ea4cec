//! `orders`: the order pipeline on one machine.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod dlq_cmd;
mod forget_cmd;
mod replay_cmd;
mod serve_cmd;
mod token_cmd;

/// The pipeline makes many small, short-lived allocations on several threads at once, and frees
/// many of them on another thread than the one that made them (the writer's results on the
/// workers, the workers' jobs on the writer). glibc's allocator spent about a sixth of the
/// server's CPU on that; mimalloc (v3, the crate's default, and v2) about as much, most of it
/// stalls on cold free-list blocks and the aligned path every Rust allocation over 1 KiB took.
/// jemalloc's per-thread caches and size-class bins took 0.92-0.97 of mimalloc's CPU per order
/// in alternated runs (BENCHMARKS.md, twentieth part).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "orders",
    version,
    about = "Event-sourced order placement and notification pipeline"
)]
struct Cli {
    /// Log as JSON lines (for log shippers) instead of text.
    #[arg(long, global = true, env = "ORDERS_LOG_JSON")]
    log_json: bool,
    /// Export each order's trace (its steps' spans) over OTLP/HTTP to this endpoint, e.g.
    /// `http://localhost:4318`; off by default (needs the `otlp` build feature).
    #[arg(long, global = true, value_name = "URL")]
    otlp: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline: HTTP API, queue, workflow runner, projections, notifications.
    Serve(serve_cmd::ServeArgs),
    /// Audit replay: rebuild the read models from the event log and compare them with the live
    /// ones (exit 1 if they differ); verify hash chains, show an order's timeline, travel back
    /// in time, or repair the live read models.
    Replay(replay_cmd::ReplayArgs),
    /// Forget a customer: destroy their data keys, so their orders' personal data (email,
    /// payment token) reads as erased. The log and its hash chains are unchanged.
    Forget(forget_cmd::ForgetArgs),
    /// OrdersQueue's dead letters: list them, show one, redrive them (by id or all) once the
    /// cause is fixed. Redriving is idempotent and logged as an operator action.
    #[command(subcommand_required = true)]
    Dlq(dlq_cmd::DlqArgs),
    /// Print a signed bearer token from the data directory's own issuer (the one a local
    /// `orders serve` without --auth-jwks accepts).
    Token(token_cmd::TokenArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // Held to the end: flushes the exporter's last spans.
    let _telemetry = orders::telemetry::init(cli.log_json, cli.otlp.as_deref());
    match cli.command {
        Command::Serve(args) => {
            serve_cmd::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => Ok(replay_cmd::run(&args).await),
        Command::Forget(args) => {
            forget_cmd::run(&args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq(args) => Ok(if dlq_cmd::run(&args).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Token(args) => {
            token_cmd::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
