//! `orders serve`: the whole pipeline, on the embedded default or against AWS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use order_api::auth::Issuer;
use order_domain::{CustomerId, Email};
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
    /// Verify bearer tokens with this JWKS document (RS256/ES256 keys) instead of the data
    /// directory's own issuer; needs --auth-issuer and --auth-audience.
    #[arg(long, requires_all = ["auth_issuer", "auth_audience"])]
    auth_jwks: Option<PathBuf>,
    /// The `iss` tokens must carry (with --auth-jwks).
    #[arg(long, requires_all = ["auth_jwks", "auth_audience"])]
    auth_issuer: Option<String>,
    /// The `aud` tokens must carry (with --auth-jwks).
    #[arg(long, requires_all = ["auth_jwks", "auth_issuer"])]
    auth_audience: Option<String>,
    /// Requests a second one signed-in customer may make (bursts of as many); past it, 429
    /// with Retry-After. `N/s` or `N`; `off` for no limit.
    #[arg(long, default_value = "100/s", value_parser = parse_rate)]
    rate_limit: Rate,
    /// Requests handled at once; one more is shed at once with 503 and Retry-After instead of
    /// queueing without bound (`/health` is never shed).
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// Orders accepted and not yet ended (completed, failed or cancelled) past which a new
    /// POST /orders is shed with 503 BACKLOG_FULL and Retry-After, nothing appended: one to four
    /// seconds of work by default. 0 = no bound (the backlog is still counted for /metrics).
    #[arg(long, default_value_t = order_app::backlog::DEFAULT_BOUND)]
    max_backlog: u64,
    /// Seconds between the monitor's samples (`GET /admin/series`, the local alarms).
    #[arg(long, default_value_t = 5.0, value_parser = parse_period)]
    monitor_period: f64,
    /// Multiplies the local alarms' periods (0.01 makes a minute 0.6 s; for tests).
    #[arg(long, default_value_t = 1.0, value_parser = parse_period)]
    alarm_time_scale: f64,
}

fn parse_period(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{text}: expected a positive number")),
    }
}

/// A `--rate-limit` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    Off,
    PerSecond(std::num::NonZeroU32),
}

fn parse_rate(text: &str) -> Result<Rate, String> {
    if text == "off" {
        return Ok(Rate::Off);
    }
    let n = text.strip_suffix("/s").unwrap_or(text);
    n.parse::<std::num::NonZeroU32>()
        .map(Rate::PerSecond)
        .map_err(|_| format!("{text}: expected N/s with N >= 1, or off"))
}

impl ServeArgs {
    /// What guards the order routes: `auth`, and the limits of the command line.
    fn guard(&self, auth: std::sync::Arc<order_api::auth::Authenticator>) -> order_api::Guard {
        order_api::Guard {
            auth,
            rate_limit: match self.rate_limit {
                Rate::Off => None,
                Rate::PerSecond(n) => Some(std::sync::Arc::new(
                    order_api::limit::CustomerLimit::per_second(n),
                )),
            },
            max_in_flight: Some(self.max_in_flight.max(1)),
            admission: Some(order_api::admission::Admission {
                bound: std::num::NonZeroU64::new(self.max_backlog),
            }),
        }
    }
}

impl ServeArgs {
    fn monitor(&self) -> orders::monitor::MonitorOptions {
        orders::monitor::MonitorOptions {
            period: Duration::from_secs_f64(self.monitor_period),
            alarm_time_scale: self.alarm_time_scale,
        }
    }

    fn external_auth(&self) -> Option<orders::auth::External<'_>> {
        Some(orders::auth::External {
            jwks: self.auth_jwks.as_deref()?,
            issuer: self.auth_issuer.as_deref()?,
            audience: self.auth_audience.as_deref()?,
        })
    }
}

/// What the banner says, with a ready-to-paste token when the server is its own issuer.
fn print_banner(base: &str, data_note: &str, issuer: Option<&Issuer>) {
    println!("order-pipeline listening on {base} ({data_note})");
    let token = issuer.and_then(|issuer| {
        let customer = CustomerId::parse(orders::auth::DEMO_CUSTOMER).ok()?;
        let email = Email::parse(orders::auth::DEMO_EMAIL).ok();
        issuer
            .mint(&customer, email.as_ref(), false, orders::auth::DEMO_TTL)
            .ok()
    });
    match token {
        Some(token) => {
            println!(
                "a token for customer {} (24 h; more with `orders token --customer ID`):",
                orders::auth::DEMO_CUSTOMER
            );
            println!("  export TOKEN={token}");
        }
        None => println!("send a bearer token from your identity provider as $TOKEN"),
    }
    print_console_link(base, issuer);
    println!("try:");
    println!(
        "  curl -si -X POST {base}/orders -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n    -d '{{\"items\":[{{\"productId\":\"KEYBOARD\",\"quantity\":1}}],\"paymentToken\":\"tok_visa\"}}'"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" {base}/orders/<orderId>   # then /orders/<orderId>/events"
    );
}

/// The console's address, carrying a fresh operator token in the fragment (which the browser
/// keeps to itself: it reaches neither the server nor its log).
fn print_console_link(base: &str, issuer: Option<&Issuer>) {
    let token = issuer.and_then(|issuer| {
        let operator = CustomerId::parse(orders::auth::CONSOLE_OPERATOR).ok()?;
        issuer
            .mint(&operator, None, true, orders::auth::CONSOLE_TTL)
            .ok()
    });
    match token {
        Some(token) => println!("console (an operator's token, 1 h): {base}/console#token={token}"),
        None => println!("console: {base}/console (sign in with an admin group token)"),
    }
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
    let (auth, issuer) = orders::auth::authenticator(&args.data_dir, args.external_auth())?;
    let guard = args.guard(auth);
    let monitor = args.monitor();
    if args.backend == Backend::Aws {
        let options = orders::aws_host::AwsOptions {
            provision: args.provision,
            prefix: args.resource_prefix,
            data_dir: args.data_dir,
            seed,
            retry_interval_scale: args.retry_interval_scale,
            redrive_after,
            guard,
            monitor,
        };
        let server = orders::aws_host::serve_aws(options, args.addr).await?;
        print_banner(
            &format!("http://{}", server.addr),
            "backend: AWS",
            issuer.as_ref(),
        );
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
    let server = orders::serve_monitored(config, args.addr, guard, monitor).await?;
    let dir = args.data_dir.display();
    print_banner(
        &format!("http://{}", server.addr),
        &format!("data in {dir}, emails in {dir}/outbox/<Topic>.mbox"),
        issuer.as_ref(),
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

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn a_rate_is_n_per_second_or_off() {
        let ten = std::num::NonZeroU32::new(10).unwrap();
        assert_eq!(parse_rate("10/s"), Ok(Rate::PerSecond(ten)));
        assert_eq!(parse_rate("10"), Ok(Rate::PerSecond(ten)));
        assert_eq!(parse_rate("off"), Ok(Rate::Off));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("ten").is_err());
    }
}
