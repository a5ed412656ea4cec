//! `orders dlq`: dead letters, listed, shown and redriven by an operator. Every redrive is
//! logged as an operator action, and is idempotent (an id no longer dead-lettered is reported
//! `not_dead_lettered`, and nothing is sent).
//!
//! Embedded: the data directory's OrdersQueue (safe beside a running server: the redriven
//! message is consumed within a second). That is the embedded host's only dead-letter queue:
//! its bus, change feed and outbox run in process from the log, and a failing rule target or
//! projection is retried from its checkpoint rather than set aside, so `--source rules`,
//! `streams` and `notifications` have nothing to show there.
//!
//! `--backend aws`: OrdersDeadLetterQueue (named by ORDERS_QUEUE_URL's redrive policy), the
//! rules' DLQs, StreamProcessingDeadLetterQueue and NotificationDeadLetterQueue ([`aws`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use order_app::dead_letters::{self, CLI_OPERATOR, Redriven, Selection};
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

mod aws;

/// Which dead-letter queues.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Source {
    /// OrdersDeadLetterQueue (OrdersQueue's).
    Orders,
    /// The rules' target DLQs: OrderConfirmation-, OrderFailure-, OrderUpdate- and
    /// RefundRequestedDeadLetterQueue.
    Rules,
    /// StreamProcessingDeadLetterQueue (the event projector's on-failure records).
    Streams,
    /// NotificationDeadLetterQueue (email deliveries SNS gave up on).
    Notifications,
}

/// Where a redriven rule event goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum RedriveVia {
    /// Back on the bus (EVENT_BUS_NAME): the rule invokes its target again.
    Bus,
    /// To the rule's target run here (the handler's use case through SNS): for a host with no
    /// EventBridge rules, such as `orders serve --backend aws`.
    Targets,
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
    /// Only these dead letters (default: every queue there is).
    #[arg(long, global = true, value_enum)]
    source: Option<Source>,
    /// With --backend aws: where a rule DLQ's event (and a stream range's bus events) go.
    #[arg(long, global = true, value_enum, default_value = "bus")]
    redrive_via: RedriveVia,
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
            if args.source.is_some_and(|s| s != Source::Orders) {
                eprintln!(
                    "note: the embedded host's only dead-letter queue is OrdersQueue's: its rule \
                     targets, projections and emails are retried in process from the log"
                );
                return act(&NoLetters, args).await;
            }
            let db = open(&args.data_dir)?;
            let result = act(&SqliteQueue::orders(db.clone()), args).await;
            db.close();
            result
        }
        DlqBackend::Aws => act(&aws::queues(args.source, args.redrive_via).await?, args).await,
    }
}

/// No dead letters (a source the host does not have).
struct NoLetters;

impl DeadLetters for NoLetters {
    async fn list(&self) -> Result<Vec<DeadLetter>, order_domain::ports::PortError> {
        Ok(Vec::new())
    }
    async fn show(&self, _: &str) -> Result<Option<DeadLetter>, order_domain::ports::PortError> {
        Ok(None)
    }
    async fn redrive(&self, _: &str) -> Result<Redrive, order_domain::ports::PortError> {
        Ok(Redrive::NotDeadLettered)
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
            let all: Vec<DeadLetter> = dead_letters::list(letters)
                .await?
                .into_iter()
                .map(for_display)
                .collect();
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
            let found = dead_letters::show(letters, id).await?.map(for_display);
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

/// A dead letter as an operator sees it: an email SNS gave up on keeps the customer's address
/// in its `recipients` attribute (NotificationDeadLetterQueue), shown masked (`j***@example.com`)
/// like the order history's. A redrive works on the message as it was kept.
fn for_display(mut l: DeadLetter) -> DeadLetter {
    l.body = recipients_masked(&l.body);
    l
}

/// `body` with the addresses of an SNS message's `recipients` attribute masked; any other body
/// as it is.
fn recipients_masked(body: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_owned();
    };
    let Some(attribute) = value
        .pointer_mut("/MessageAttributes/recipients/Value")
        .filter(|v| v.is_string())
    else {
        return body.to_owned();
    };
    let list: Vec<String> = attribute
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let masked: Vec<String> = list
        .iter()
        .map(|a| order_domain::personal::mask_email(a))
        .collect();
    *attribute = serde_json::Value::String(
        serde_json::to_string(&masked).unwrap_or_else(|_| "[]".to_owned()),
    );
    value.to_string()
}

fn receives(l: &DeadLetter) -> String {
    l.receive_count
        .map_or_else(|| "?".to_owned(), |n| n.to_string())
}

fn line(l: &DeadLetter) -> String {
    format!(
        "{}  receives {}  {} -> {}  {}",
        l.id,
        receives(l),
        l.queue,
        l.source_queue,
        l.body
    )
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
        Redrive::Erased => format!(
            "{}: the customer was forgotten since: deleted, not sent",
            d.id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An email SNS could not deliver keeps its recipients in clear in the queue; the
    /// operator's listing shows them masked, and nothing else of the message changes.
    #[test]
    fn a_dead_lettered_emails_recipients_are_shown_masked() {
        let body = serde_json::json!({
            "Type": "Notification",
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:OrderAlertsTopic",
            "Message": "Your order O1 is confirmed.",
            "MessageAttributes": {
                "recipients": {"Type": "String.Array", "Value": "[\"jane@example.com\",\"bo@shop.test\"]"},
                "dedupId": {"Type": "String", "Value": "E1"}
            }
        })
        .to_string();
        let shown = for_display(DeadLetter {
            id: "m1".into(),
            body,
            queue: "NotificationDeadLetterQueue".into(),
            source_queue: "OrderAlertsTopic".into(),
            sent_at_ms: None,
            receive_count: Some(1),
        });
        assert!(!shown.body.contains("jane@example.com"), "{}", shown.body);
        assert!(!shown.body.contains("bo@shop.test"), "{}", shown.body);
        let value: serde_json::Value = serde_json::from_str(&shown.body).unwrap();
        assert_eq!(
            value["MessageAttributes"]["recipients"]["Value"],
            "[\"j***@example.com\",\"b***@shop.test\"]"
        );
        assert_eq!(value["MessageAttributes"]["dedupId"]["Value"], "E1");
        assert_eq!(value["Message"], "Your order O1 is confirmed.");

        for other in ["{\"orderId\":\"O1\"}", "not json"] {
            assert_eq!(recipients_masked(other), other);
        }
    }
}
