//! `orders`: the order pipeline on one machine.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use order_domain::Email;
use order_embedded::Config;
use order_embedded::db::Durability;

mod replay_cmd;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sync {
    /// Survives a process crash; the last commits may be lost on power loss (WAL, synchronous=NORMAL).
    Normal,
    /// fsync on every commit (synchronous=FULL).
    Full,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline: HTTP API, queue, workflow runner, projections, notifications.
    Serve {
        #[arg(long, default_value = "127.0.0.1:3000", env = "ORDERS_ADDR")]
        addr: SocketAddr,
        /// Where the database and the outbox live.
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
    },
    /// Audit replay: rebuild the read models from the event log and compare them with the live
    /// ones (exit 1 if they differ); verify hash chains, show an order's timeline, travel back
    /// in time, or repair the live read models.
    Replay(replay_cmd::ReplayArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    orders::telemetry::init(cli.log_json);
    match cli.command {
        Command::Serve {
            addr,
            data_dir,
            seed,
            notification_email,
            sync,
            retry_interval_scale,
            redrive_after_secs,
        } => {
            let seed_text = match &seed {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
                None => orders::DEFAULT_SEED.to_owned(),
            };
            let mut config = Config::new(
                data_dir.clone(),
                orders::parse_seed(&seed_text).context("parsing the seed")?,
            );
            config.notification_email = Email::parse(&notification_email)
                .map_err(|e| anyhow::anyhow!("--notification-email {e}"))?;
            config.durability = match sync {
                Sync::Normal => Durability::Normal,
                Sync::Full => Durability::Full,
            };
            config.retry_interval_scale = retry_interval_scale;
            config.redrive_after = Duration::from_secs(redrive_after_secs);
            let server = orders::serve(config, addr).await?;
            let base = format!("http://{}", server.addr);
            println!(
                "order-pipeline listening on {base} (data in {})",
                data_dir.display()
            );
            println!("try:");
            println!(
                "  curl -si -X POST {base}/orders -H 'Content-Type: application/json' \\\n    -d '{{\"customerId\":\"c-1\",\"email\":\"jane@example.com\",\"items\":[{{\"productId\":\"KEYBOARD\",\"quantity\":1}}],\"paymentToken\":\"tok_visa\"}}'"
            );
            println!(
                "  curl -s {base}/orders/<orderId>   # then /events; emails land in {}/outbox/",
                data_dir.display()
            );
            shutdown_signal().await;
            tracing::info!("shutting down");
            server.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => Ok(replay_cmd::run(&args)),
    }
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
