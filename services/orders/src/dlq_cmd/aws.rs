//! `orders dlq --backend aws`: every dead-letter queue of the stack as one list. OrdersQueue's
//! DLQ is found through its redrive policy; the others are named by their variables
//! ([`VARIABLES`]; an unset one leaves its queue out, with a note). A redrive of an id tries
//! each queue until one holds it.

use order_app::forward::forward_events;
use order_app::notify::{confirm_order, notify_failure};
use order_app::notify_update::notify_order_update;
use order_aws::dead_letters::dead_letter_queue_of;
use order_aws::dead_letters::sources::{DeadLetterQueue, ToBus, ToTopic};
use order_aws::dead_letters::streams::{ReRead, Reproject};
use order_aws::{
    AwsClients, AwsKeys, ChangeRecord, DynamoEventStore, EventBridgeBus, InventoryTable,
    OrderStatusTable, Projector, SnsNotifier, SqsPolled, SqsQueue, Target,
};
use order_domain::ports::{BusEvent, DeadLetter, DeadLetters, EventBus, PortError, Redrive};
use order_runtime::bus::{RULES, Target as RuleTarget};

use super::{RedriveVia, Source};

/// The DLQs beyond OrdersQueue's: source, logical name, the variable holding its URL.
pub const VARIABLES: [(Source, &str, &str); 6] = [
    (
        Source::Rules,
        "OrderConfirmationDeadLetterQueue",
        "ORDER_CONFIRMATION_DLQ_URL",
    ),
    (
        Source::Rules,
        "OrderFailureDeadLetterQueue",
        "ORDER_FAILURE_DLQ_URL",
    ),
    (
        Source::Rules,
        "OrderUpdateDeadLetterQueue",
        "ORDER_UPDATE_DLQ_URL",
    ),
    (
        Source::Rules,
        "RefundRequestedDeadLetterQueue",
        "REFUND_REQUESTED_DLQ_URL",
    ),
    (
        Source::Streams,
        "StreamProcessingDeadLetterQueue",
        "STREAM_PROCESSING_DLQ_URL",
    ),
    (
        Source::Notifications,
        "NotificationDeadLetterQueue",
        "NOTIFICATION_DLQ_URL",
    ),
];

/// Where a rule DLQ's event goes back to.
#[derive(Clone)]
pub enum Via {
    /// EventBridge: the rule invokes its target again, with its retries and DLQ.
    Bus(EventBridgeBus),
    /// The rules' targets run here (the handlers' use cases, emailing through SNS).
    Targets(Targets),
}

/// The rules' targets in this process: what the handler Lambdas run.
#[derive(Clone)]
pub struct Targets {
    store: DynamoEventStore,
    notifier: SnsNotifier,
    keys: AwsKeys,
}

impl Targets {
    async fn deliver(&self, event: &BusEvent) -> Result<(), PortError> {
        for rule in RULES.iter().filter(|r| r.matches(event)) {
            let failed = |e: &dyn std::fmt::Display| PortError(format!("{}: {e}", rule.name));
            match rule.target {
                RuleTarget::OrderSuccessHandler => {
                    confirm_order(&self.store, &self.notifier, &self.keys, event)
                        .await
                        .map_err(|e| failed(&e))?;
                }
                RuleTarget::OrderFailureHandler => {
                    notify_failure(&self.store, &self.notifier, event)
                        .await
                        .map_err(|e| failed(&e))?;
                }
                RuleTarget::OrderUpdateHandler => {
                    notify_order_update(&self.store, &self.notifier, &self.keys, event)
                        .await
                        .map_err(|e| failed(&e))?;
                }
                RuleTarget::RefundProcessing => {
                    return Err(failed(
                        &"its target is the refund state machine: redrive with --redrive-via bus",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl EventBus for Via {
    async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
        match self {
            Self::Bus(bus) => bus.put(events).await,
            Self::Targets(targets) => {
                for event in &events {
                    targets.deliver(event).await?;
                }
                Ok(())
            }
        }
    }
}

/// EventProjectorLambda's work on a range read again: both views, then the bus events.
pub struct Views {
    order_status: Projector,
    inventory: Projector,
    bus: Via,
    store: DynamoEventStore,
}

impl Reproject for Views {
    async fn reproject(&self, records: &[ChangeRecord]) -> Result<(), PortError> {
        for projector in [&self.order_status, &self.inventory] {
            let report = projector.apply_batch(records).await;
            if let Some(first) = report.failed.first() {
                let why = report.error.map(|e| e.to_string()).unwrap_or_default();
                return Err(PortError(format!("projecting {first}: {why}")));
            }
        }
        let items = records
            .iter()
            .map(|r| {
                (
                    r.sequence_number.as_str(),
                    r.event.as_ref().map_err(ToString::to_string),
                )
            })
            .collect();
        match forward_events(&self.bus, &self.store, items).await {
            Some(first) => Err(PortError(format!("forwarding from {first} failed"))),
            None => Ok(()),
        }
    }
}

/// One of the stack's dead-letter queues.
pub enum Queue {
    Orders(SqsPolled),
    Rule(Box<DeadLetterQueue<ToBus<Via>>>),
    Streams(Box<DeadLetterQueue<ReRead<Views>>>),
    Notifications(DeadLetterQueue<ToTopic<order_aws::AwsKeys>>),
}

impl Queue {
    async fn list(&self) -> Result<Vec<DeadLetter>, PortError> {
        match self {
            Self::Orders(q) => q.list().await,
            Self::Rule(q) => q.list().await,
            Self::Streams(q) => q.list().await,
            Self::Notifications(q) => q.list().await,
        }
    }

    async fn redrive(&self, id: &str) -> Result<Redrive, PortError> {
        match self {
            Self::Orders(q) => q.redrive(id).await,
            Self::Rule(q) => q.redrive(id).await,
            Self::Streams(q) => q.redrive(id).await,
            Self::Notifications(q) => q.redrive(id).await,
        }
    }
}

/// The selected queues, as one.
pub struct AllQueues(pub Vec<Queue>);

impl DeadLetters for AllQueues {
    async fn list(&self) -> Result<Vec<DeadLetter>, PortError> {
        let mut all = Vec::new();
        for q in &self.0 {
            all.extend(q.list().await?);
        }
        Ok(all)
    }

    async fn show(&self, id: &str) -> Result<Option<DeadLetter>, PortError> {
        Ok(self.list().await?.into_iter().find(|l| l.id == id))
    }

    async fn redrive(&self, id: &str) -> Result<Redrive, PortError> {
        for q in &self.0 {
            let outcome = q.redrive(id).await?;
            if outcome != Redrive::NotDeadLettered {
                return Ok(outcome);
            }
        }
        Ok(Redrive::NotDeadLettered)
    }
}

/// The queues of `source` (all when `None`), from the environment.
pub async fn queues(source: Option<Source>, via: RedriveVia) -> anyhow::Result<AllQueues> {
    let clients = AwsClients::load().await?;
    let wanted = |s: Source| source.is_none_or(|w| w == s);
    let mut out = Vec::new();
    if wanted(Source::Orders) {
        let queue = SqsQueue::from_env(&clients)?;
        match dead_letter_queue_of(clients.sqs(), queue.url()).await? {
            Some(dlq) => out.push(Queue::Orders(SqsPolled::new(
                clients.sqs().clone(),
                queue.url(),
                Some(dlq),
            ))),
            None => anyhow::bail!(
                "{} has no redrive policy, so no dead-letter queue",
                queue.url()
            ),
        }
    }
    let bus = || -> anyhow::Result<Via> {
        Ok(match via {
            RedriveVia::Bus => Via::Bus(EventBridgeBus::from_env(&clients)),
            RedriveVia::Targets => Via::Targets(Targets {
                store: DynamoEventStore::from_env(&clients)?,
                notifier: SnsNotifier::from_env(&clients)?,
                keys: order_aws::keys_from_env(&clients)?,
            }),
        })
    };
    for (s, name, var) in VARIABLES {
        if !wanted(s) {
            continue;
        }
        let Ok(url) = std::env::var(var) else {
            eprintln!("note: {var} is not set, so {name} is left out");
            continue;
        };
        let dlq = SqsQueue::new(clients.sqs().clone(), url);
        out.push(match s {
            Source::Orders | Source::Rules => {
                Queue::Rule(Box::new(DeadLetterQueue::new(dlq, name, ToBus(bus()?))))
            }
            Source::Notifications => Queue::Notifications(DeadLetterQueue::new(
                dlq,
                name,
                ToTopic {
                    sns: clients.sns().clone(),
                    keys: order_aws::keys_from_env(&clients)?,
                },
            )),
            Source::Streams => {
                let store = DynamoEventStore::from_env(&clients)?;
                let views = Views {
                    order_status: Projector::new(
                        store.clone(),
                        Target::OrderStatus(OrderStatusTable::from_env(&clients)?),
                    ),
                    inventory: Projector::new(
                        store.clone(),
                        Target::Inventory(InventoryTable::from_env(&clients)?),
                    ),
                    bus: bus()?,
                    store,
                };
                let reread = ReRead {
                    streams: clients.streams().clone(),
                    consumer: views,
                };
                Queue::Streams(Box::new(DeadLetterQueue::new(dlq, name, reread)))
            }
        });
    }
    Ok(AllQueues(out))
}
