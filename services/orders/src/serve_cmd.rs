//! `orders serve`: the whole pipeline, on the embedded default or against AWS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use order_domain::Email;
use order_embedded::db::Durability;
use order_runtime::Config;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sync {
    /// Survives a process crash; the last commits may be lost on power loss (WAL, synchronous=NORMAL).
    Normal,
    /// fsync on every commit (synchronous=FULL).
    Full,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// SQLite in the data directory: nothing else to run.
    Embedded,
    /// DynamoDB, SQS, SNS named by the contract's environment variables (AWS_ENDPOINT_URL
    /// points them at an emulator); the workflow runner and stream pollers run here.
    Aws,
}

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:3000", env = "ORDERS_ADDR")]
    addr: SocketAddr,
    /// Where the database and the outbox live (with --backend aws: the runner's bookkeeping).
    #[arg(long, default_value = "./.orders-data", env = "ORDERS_DATA_DIR")]
    data_dir: PathBuf,
    /// Inventory seed: a JSON array of {"productId","name","price","stock"} (price in minor
    /// units). Defaults to migrations/seed/inventory.json (built in).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// The address the topics' emails go to (NotificationEmailName).
    #[arg(
        long,
        default_value = "ops@example.com",
        env = "ORDERS_NOTIFICATION_EMAIL"
    )]
    notification_email: String,
    #[arg(long, value_enum, default_value = "normal")]
    sync: Sync,
    /// Multiplies the state machine's Retry intervals (0.1 makes retries ten times quicker).
    #[arg(long, default_value_t = 1.0)]
    retry_interval_scale: f64,
    /// Re-drive an order left PLACED without an execution after this many seconds.
    #[arg(long, default_value_t = 30)]
    redrive_after_secs: u64,
    #[arg(long, value_enum, default_value = "embedded", env = "ORDERS_BACKEND")]
    backend: Backend,
    /// With --backend aws: create missing tables, streams, queues and topics first.
    #[arg(long)]
    provision: bool,
    /// With --provision: the prefix of the resources' names.
    #[arg(long, default_value = "order-pipeline")]
    resource_prefix: String,
}

fn print_banner(base: &str, data_note: &str) {
    println!("order-pipeline listening on {base} ({data_note})");
    println!("try:");
    println!(
        "  curl -si -X POST {base}/orders -H 'Content-Type: application/json' \\\n    -d '{{\"customerId\":\"c-1\",\"email\":\"jane@example.com\",\"items\":[{{\"productId\":\"KEYBOARD\",\"quantity\":1}}],\"paymentToken\":\"tok_visa\"}}'"
    );
    println!("  curl -s {base}/orders/<orderId>   # then /orders/<orderId>/events");
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let seed_text = match &args.seed {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => orders::DEFAULT_SEED.to_owned(),
    };
    let seed = orders::parse_seed(&seed_text).context("parsing the seed")?;
    let redrive_after = Duration::from_secs(args.redrive_after_secs);
    if args.backend == Backend::Aws {
        let options = orders::aws_host::AwsOptions {
            provision: args.provision,
            prefix: args.resource_prefix,
            data_dir: args.data_dir,
            seed,
            retry_interval_scale: args.retry_interval_scale,
            redrive_after,
        };
        let server = orders::aws_host::serve_aws(options, args.addr).await?;
        print_banner(&format!("http://{}", server.addr), "backend: AWS");
        if args.provision {
            println!("resources (export these to run without --provision):");
            for (name, value) in server.resources.env_pairs() {
                println!("  export {name}='{value}'");
            }
        }
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        return Ok(());
    }
    let mut config = Config::new(args.data_dir.clone(), seed);
    config.notification_email = Email::parse(&args.notification_email)
        .map_err(|e| anyhow::anyhow!("--notification-email {e}"))?;
    config.durability = match args.sync {
        Sync::Normal => Durability::Normal,
        Sync::Full => Durability::Full,
    };
    config.retry_interval_scale = args.retry_interval_scale;
    config.redrive_after = redrive_after;
    let server = orders::serve(config, args.addr).await?;
    let dir = args.data_dir.display();
    print_banner(
        &format!("http://{}", server.addr),
        &format!("data in {dir}, emails in {dir}/outbox/<Topic>.mbox"),
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
