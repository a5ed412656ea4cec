//! `orders replay`: the audit replay of a data directory (see the `order-replay` crate).
//!
//! Results go to stdout; progress goes to stderr, as a bar on a terminal and as plain lines
//! otherwise. Exit codes: 0 the read models match the log (after `--rebuild`: now match), 1 they
//! differ, 2 bad arguments, 3 the log fails verification (a changed, removed or inserted event,
//! or one that cannot be decoded), 4 the replay could not run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use order_domain::{OrderId, Timestamp};
use order_replay::sqlite::{count_events, database_path, order_report, replay};
use order_replay::summary::grouped;
use order_replay::{Observer, ReplayOptions, View};

/// Exit code when the replay could not run at all.
const COULD_NOT_RUN: u8 = 4;
/// Inventory rows listed with `--as-of`.
const LISTED_PRODUCTS: usize = 50;

#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 match, 1 the read models differ, 2 bad arguments, \
    3 the log fails verification, 4 could not run."
)]
pub struct ReplayArgs {
    /// The data directory of the pipeline (its database is DIR/orders.db).
    #[arg(long, default_value = "./.orders-data", env = "ORDERS_DATA_DIR")]
    data_dir: PathBuf,
    /// Also check every stream's hash chain and version sequence.
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
}

fn parse_order_id(text: &str) -> Result<OrderId, String> {
    OrderId::parse(text).map_err(|e| e.to_string())
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

/// Runs the command and returns the process's exit code.
pub fn run(args: &ReplayArgs) -> ExitCode {
    let options = ReplayOptions {
        verify: args.verify,
        as_of: args.as_of,
        rebuild: args.rebuild,
    };
    let path = database_path(&args.data_dir);
    let result = if let Some(id) = args.order {
        one_order(&path, id, &options)
    } else {
        whole_log(&path, &options)
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
    match order_report(path, id, options) {
        Ok(Some(report)) => {
            print!("{report}");
            Ok(report.outcome().exit_code())
        }
        Ok(None) => Err(format!("no order {id} in the log at {}", path.display())),
        Err(e) => Err(e.to_string()),
    }
}

/// The whole log: summary, differences, and with `--as-of` the inventory then.
fn whole_log(path: &Path, options: &ReplayOptions) -> Result<u8, String> {
    let total = count_events(path).unwrap_or(0);
    let mut progress = Progress::new(total, options.as_of.is_some());
    let result = replay(path, options, &mut progress);
    progress.finish();
    let summary = result.map_err(|e| e.to_string())?;
    print!("{summary}");
    progress.print_inventory();
    Ok(summary.outcome().exit_code())
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
