//! `orders replay`: the audit replay of a data directory, or with `--backend aws` of the AWS
//! host's DynamoDB tables (see the `order-replay` crate).
//!
//! Both backends print the same report and use the same exit codes. Results go to stdout; progress goes to stderr, as a bar on a terminal and as plain lines
//! otherwise. Exit codes: 0 the read models match the log (after `--rebuild`: now match), 1 they
//! differ, 2 bad arguments, 3 the log fails verification (a changed, removed or inserted event,
//! one that cannot be decoded, or events whose money or stock do not add up: see
//! `order_replay::audit`), 4 the replay could not run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use order_domain::{OrderId, Timestamp};
use order_replay::dynamo::DynamoReplay;
use order_replay::sqlite::{count_events, database_path, order_report, replay};
use order_replay::summary::grouped;
use order_replay::{Observer, OrderReport, ReplayOptions, Summary, View};

/// Exit code when the replay could not run at all.
const COULD_NOT_RUN: u8 = 4;
/// Inventory rows listed with `--as-of`.
const LISTED_PRODUCTS: usize = 50;

/// Where the log and the read models are.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayBackend {
    /// The SQLite database of the data directory.
    Embedded,
    /// The DynamoDB tables named by EVENTS_TABLE, ORDER_STATUS_TABLE and INVENTORY_TABLE
    /// (AWS_ENDPOINT_URL points them at an emulator).
    Aws,
}

#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 match, 1 the read models differ, 2 bad arguments, \
    3 the log fails verification, 4 could not run."
)]
pub struct ReplayArgs {
    #[arg(long, value_enum, default_value = "embedded", env = "ORDERS_BACKEND")]
    backend: ReplayBackend,
    /// The data directory of the pipeline (its database is DIR/orders.db; embedded only).
    #[arg(long, default_value = "./.orders-data", env = "ORDERS_DATA_DIR")]
    data_dir: PathBuf,
    /// Also check every stream's hash chain and version sequence, and audit the log: per
    /// order, refunds within the capture and each line's quantity; per product, stock =
    /// seeded - taken by completed orders + restocked.
    #[arg(long)]
    verify: bool,
    /// Show one order's timeline: each event, when, and what it changed.
    #[arg(long, value_name = "ORDER_ID", value_parser = parse_order_id)]
    order: Option<OrderId>,
    /// The read models as they stood at this instant (RFC 3339, e.g. 2026-11-25T20:13:40Z).
    #[arg(long, value_name = "TIMESTAMP", value_parser = parse_timestamp)]
    as_of: Option<Timestamp>,
    /// Replace the live read models with the rebuilt ones (safe while the server runs: a row
    /// is never regressed, and only rows the log does not justify are deleted).
    #[arg(long, conflicts_with_all = ["as_of", "order"])]
    rebuild: bool,
    /// With --backend aws: parallel Scan segments (TotalSegments) of the events table.
    #[arg(long, default_value_t = order_replay::dynamo::DEFAULT_SEGMENTS,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    segments: u32,
    /// With --backend aws: streams read and folded at once.
    #[arg(long, default_value_t = order_replay::dynamo::DEFAULT_CONCURRENCY,
        value_parser = parse_concurrency)]
    concurrency: usize,
    /// With --backend aws: seconds an event may wait for the Streams projectors before a live
    /// row that has not reached it counts as different (younger: pending).
    #[arg(long, value_name = "SECS",
        default_value_t = order_replay::dynamo::DEFAULT_LAG_ALLOWANCE.as_secs())]
    lag_allowance: u64,
}

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err("a number of streams from 1 to 256".into()),
    }
}

fn parse_order_id(text: &str) -> Result<OrderId, String> {
    OrderId::parse(text).map_err(|e| e.to_string())
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

/// Runs the command and returns the process's exit code.
pub async fn run(args: &ReplayArgs) -> ExitCode {
    let options = ReplayOptions {
        verify: args.verify,
        as_of: args.as_of,
        rebuild: args.rebuild,
    };
    let result = match args.backend {
        ReplayBackend::Embedded => {
            let path = database_path(&args.data_dir);
            if let Some(id) = args.order {
                one_order(&path, id, &options)
            } else {
                whole_log(&path, &options)
            }
        }
        ReplayBackend::Aws => on_dynamodb(args, &options).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

/// `--order`: the order's timeline and state.
fn one_order(path: &Path, id: OrderId, options: &ReplayOptions) -> Result<u8, String> {
    let found = order_report(path, id, options).map_err(|e| e.to_string())?;
    print_order(found, || {
        format!("no order {id} in the log at {}", path.display())
    })
}

fn print_order(found: Option<OrderReport>, missing: impl FnOnce() -> String) -> Result<u8, String> {
    let report = found.ok_or_else(missing)?;
    print!("{report}");
    Ok(report.outcome().exit_code())
}

/// The whole log: summary, differences, and with `--as-of` the inventory then.
fn whole_log(path: &Path, options: &ReplayOptions) -> Result<u8, String> {
    let total = count_events(path).unwrap_or(0);
    let mut progress = Progress::new(total, options.as_of.is_some());
    let result = replay(path, options, &mut progress);
    print_summary(&progress, result.map_err(|e| e.to_string()))
}

/// Prints a whole-log replay's report; its exit code.
fn print_summary(progress: &Progress, result: Result<Summary, String>) -> Result<u8, String> {
    progress.finish();
    let summary = result?;
    print!("{summary}");
    progress.print_inventory();
    Ok(summary.outcome().exit_code())
}

/// `--backend aws`: the same, on the DynamoDB tables of the contract.
async fn on_dynamodb(args: &ReplayArgs, options: &ReplayOptions) -> Result<u8, String> {
    let tables = DynamoReplay::from_env()
        .await
        .map_err(|e| e.to_string())?
        .with_segments(args.segments)
        .with_concurrency(args.concurrency)
        .with_lag_allowance(Duration::from_secs(args.lag_allowance));
    if let Some(id) = args.order {
        let found = tables
            .order_report(id, options)
            .await
            .map_err(|e| e.to_string())?;
        return print_order(found, || {
            format!("no order {id} in the log at {}", tables.events_table())
        });
    }
    let survey = tables.survey().await.map_err(|e| e.to_string())?;
    let mut progress = Progress::new(survey.events(), options.as_of.is_some());
    let result = tables.replay(&survey, options, &mut progress).await;
    print_summary(&progress, result.map_err(|e| e.to_string()))
}

/// A progress bar on a terminal, a plain line every few seconds otherwise; and, with `--as-of`,
/// the first products' inventory rows at that time.
struct Progress {
    total: u64,
    bar: Option<ProgressBar>,
    last_line: Instant,
    started: Instant,
    inventory: Option<(Vec<View>, usize)>,
}

impl Progress {
    fn new(total: u64, list_inventory: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "replay {bar:40} {human_pos}/{human_len} events, {per_sec}, eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Self {
            total,
            bar,
            last_line: Instant::now(),
            started: Instant::now(),
            inventory: list_inventory.then(|| (Vec::new(), 0)),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn print_inventory(&self) {
        let Some((views, total)) = &self.inventory else {
            return;
        };
        println!("inventory then:");
        for v in views {
            if let View::Inventory(p) = v {
                println!(
                    "  {:<24} available {:>10}  price {:>10}  (version {})",
                    p.product_id.as_str(),
                    p.available,
                    p.price.to_string(),
                    p.version
                );
            }
        }
        if *total > views.len() {
            println!("  ... and {} more", total - views.len());
        }
    }
}

impl Observer for Progress {
    fn progress(&mut self, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(events);
        } else if self.last_line.elapsed() >= Duration::from_secs(5) {
            self.last_line = Instant::now();
            eprintln!(
                "replay: {} of {} events ({:.0} s)",
                grouped(events),
                grouped(self.total),
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn view(&mut self, view: &View) {
        if let (Some((views, total)), View::Inventory(_)) = (&mut self.inventory, view) {
            *total += 1;
            if views.len() < LISTED_PRODUCTS {
                views.push(view.clone());
            }
        }
    }
}
