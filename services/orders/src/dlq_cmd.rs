//! `orders dlq`: OrdersQueue's dead letters, listed, shown and redriven by an operator.
//! Embedded: the data directory's queue (safe beside a running server: the redriven message is
//! consumed within a second). `--backend aws`: the DLQ that ORDERS_QUEUE_URL's redrive policy
//! names (OrdersDeadLetterQueue). Every redrive is logged as an operator action.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use order_app::dead_letters::{self, CLI_OPERATOR, Redriven, Selection};
use order_aws::dead_letters::dead_letter_queue_of;
use order_aws::{AwsClients, SqsPolled, SqsQueue};
use order_domain::ports::{DeadLetter, DeadLetters, Redrive};
use order_embedded::db::{Db, Durability};
use order_embedded::queue::SqliteQueue;

/// Where the queue is.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DlqBackend {
    /// The SQLite database of the data directory.
    Embedded,
    /// SQS: ORDERS_QUEUE_URL and the DLQ its redrive policy names (AWS_ENDPOINT_URL points
    /// them at an emulator).
    Aws,
}

#[derive(clap::Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    command: DlqCommand,
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "embedded",
        env = "ORDERS_BACKEND"
    )]
    backend: DlqBackend,
    /// The data directory of the pipeline (its database is DIR/orders.db; embedded only).
    #[arg(
        long,
        global = true,
        default_value = "./.orders-data",
        env = "ORDERS_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum DlqCommand {
    /// Every dead letter: id, receives, body.
    List,
    /// One dead letter (exit 1 if there is none with that id).
    Show { id: String },
    /// Moves dead letters back to their source queue. An id that is no longer dead-lettered is
    /// reported and left alone: a redrive never sends a message twice.
    Redrive {
        /// Every dead letter there is now.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// The ids to redrive (as `list` prints them).
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
    },
}

/// Runs the command; false when `show` found nothing.
pub async fn run(args: &DlqArgs) -> anyhow::Result<bool> {
    match args.backend {
        DlqBackend::Embedded => {
            let db = open(&args.data_dir)?;
            let result = act(&SqliteQueue::orders(db.clone()), args).await;
            db.close();
            result
        }
        DlqBackend::Aws => {
            let clients = AwsClients::load().await;
            let queue = SqsQueue::from_env(&clients)?;
            let dlq = dead_letter_queue_of(&clients.sqs, queue.url()).await?;
            if dlq.is_none() {
                bail!(
                    "{} has no redrive policy, so no dead-letter queue",
                    queue.url()
                );
            }
            act(&SqsPolled::new(clients.sqs.clone(), queue.url(), dlq), args).await
        }
    }
}

fn open(dir: &Path) -> anyhow::Result<Db> {
    let path = dir.join("orders.db");
    if !path.exists() {
        bail!("no database at {} (is --data-dir right?)", path.display());
    }
    Db::open(&path, Durability::Full).with_context(|| path.display().to_string())
}

async fn act<D: DeadLetters>(letters: &D, args: &DlqArgs) -> anyhow::Result<bool> {
    match &args.command {
        DlqCommand::List => {
            let all = dead_letters::list(letters).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("no dead letters");
            } else {
                for l in &all {
                    println!("{}", line(l));
                }
            }
            Ok(true)
        }
        DlqCommand::Show { id } => {
            let found = dead_letters::show(letters, id).await?;
            match (&found, args.json) {
                (_, true) => println!("{}", serde_json::to_string_pretty(&found)?),
                (Some(l), false) => println!("{}", details(l)),
                (None, false) => println!("no dead letter {id}"),
            }
            Ok(found.is_some())
        }
        DlqCommand::Redrive { all, ids } => {
            let selection = if *all {
                Selection::All
            } else {
                Selection::Ids(ids.clone())
            };
            let done = dead_letters::redrive(letters, selection, CLI_OPERATOR).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                for d in &done {
                    println!("{}", outcome(d));
                }
                let moved = done.iter().filter(|d| d.outcome == Redrive::Redriven);
                println!("{} of {} redriven", moved.count(), done.len());
            }
            Ok(true)
        }
    }
}

fn receives(l: &DeadLetter) -> String {
    l.receive_count
        .map_or_else(|| "?".to_owned(), |n| n.to_string())
}

fn line(l: &DeadLetter) -> String {
    format!("{}  receives {}  {}", l.id, receives(l), l.body)
}

fn details(l: &DeadLetter) -> String {
    let sent = l
        .sent_at_ms
        .and_then(|ms| u64::try_from(ms).ok())
        .map_or_else(
            || "unknown".to_owned(),
            |ms| order_domain::Timestamp::from_millis(ms).to_string(),
        );
    format!(
        "id:           {}\nqueue:        {} (source {})\nsent:         {sent}\nreceives:     {}\nbody:         {}",
        l.id,
        l.queue,
        l.source_queue,
        receives(l),
        l.body
    )
}

fn outcome(d: &Redriven) -> String {
    match d.outcome {
        Redrive::Redriven => format!("{}: redriven", d.id),
        Redrive::NotDeadLettered => format!("{}: not dead-lettered (nothing sent)", d.id),
    }
}
