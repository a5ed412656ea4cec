//! Two executions of one order at once. Express workflows run at least once and never dedupe
//! by execution name, so this is what a repeated queue message or a redriven order does on AWS;
//! the local runner would refuse the second execution by name, so the test drives the ASL
//! interpreter itself, twice, with the local runtime's task invoker. Each effect must happen
//! once: every task re-reads the order's stream and decides on its state, and the conditional
//! append on (stream, version) arbitrates the race.

use std::collections::BTreeMap;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::dispatch::TaskFunction;
use order_app::forward::forward_events;
use order_app::seed::seed_inventory;
use order_app::vault::NoKeys;
use order_aws::{ChangeRecord, DynamoReadModels, Projector, SnsNotifier, Target, TopicArns};
use order_domain::ports::{BusEvent, EventBus, EventStore, PortError, Topic};
use order_domain::{Email, OrderId};
use order_embedded::db::{Db, Durability};
use order_embedded::outbox::OutboxNotifier;
use order_embedded::store::SqliteEventStore;
use order_lambda::confirm::{handle_event, handle_failure_event, handle_update_event};
use order_lambda::project::EventProjector;
use order_lambda::task::run_task;
use order_runtime::bus::LocalBus;
use order_runtime::functions::{LocalFunctions, substitutions};
use order_runtime::workflow::DEFINITION;
use order_testkit::emulator_or_skip;
use order_testkit::events::{place, seed_product};
use order_testkit::notifier::SnsDeliveries;
use order_testkit::support::Emulator;
use order_workflow::{
    ExecutionContext, RunOptions, StateMachine, TaskFailure, TaskInvoker, Transition, run,
};
use serde_json::{Value, json};

use crate::support::{order_event_counts, reservations, terminal_event};
use order_testkit::gateway::RecordingGateway;

/// What the tests order: one that completes (two products), one that is declined.
const COMPLETES: &[(&str, i64)] = &[("MUG", 2), ("PEN", 1)];
const DECLINED: &[(&str, i64)] = &[("MUG", 1)];

/// Two executions of `order` on `machine` at once (both named by the order id, as
/// StartOrderProcessing names them), without retry pauses.
async fn run_twice<I: TaskInvoker>(
    machine: &StateMachine,
    invoker: &I,
    order: OrderId,
) -> [Transition; 2] {
    let ctx = |n: usize| ExecutionContext {
        execution_id: format!(
            "arn:aws:states:us-east-1:123456789012:express:OrderProcessing:{order}:{n}"
        ),
        execution_name: order.to_string(),
        state_machine_name: "OrderProcessingStateMachine".into(),
        start_time: "2026-01-01T00:00:00Z".into(),
    };
    let (c1, c2) = (ctx(1), ctx(2));
    let opts = RunOptions {
        interval_scale: 0.0,
    };
    let input = json!({ "orderId": order.to_string() });
    let (a, b) = tokio::join!(
        run(machine, input.clone(), &c1, invoker, &opts, |_, _| {}),
        run(machine, input.clone(), &c2, invoker, &opts, |_, _| {}),
    );
    [a, b]
}

/// Both executions end as a success (a declined order closes as failed with a Succeed state).
fn assert_both_succeeded(order: OrderId, ends: &[Transition; 2]) {
    for end in ends {
        assert!(
            matches!(end, Transition::Succeeded { .. }),
            "{order}: an execution ended {end:?}"
        );
    }
}

/// One charge, one reservation per product, one terminal event: the effects of the two
/// concurrent executions of each order.
async fn assert_effects_once<S: EventStore>(
    store: &S,
    gateway: &RecordingGateway,
    completed: OrderId,
    declined: OrderId,
) {
    let counts = order_event_counts(store, completed).await;
    assert_eq!(counts.get("PaymentCaptured"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("InventoryReserved"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("OrderCompleted"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("OrderFailed"), None, "{counts:?}");
    for (product, _) in COMPLETES {
        assert_eq!(
            reservations(store, product, completed).await,
            1,
            "{product}"
        );
    }
    let counts = order_event_counts(store, declined).await;
    assert_eq!(counts.get("PaymentDeclined"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("OrderFailed"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("PaymentCaptured"), None, "{counts:?}");
    assert_eq!(reservations(store, "MUG", declined).await, 0);
    // A real gateway charges once per idempotency key; both executions charge under the
    // order id, so the customer sees one charge however many calls raced.
    let mut want = vec![completed.to_string(), declined.to_string()];
    want.sort();
    assert_eq!(
        gateway.charged_keys(),
        want,
        "one charge per order, none under any other key"
    );
}

#[tokio::test]
async fn two_concurrent_executions_of_one_order_on_the_local_runtime_take_each_effect_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    seed_inventory(
        &store,
        &[seed_product("MUG", 900, 10), seed_product("PEN", 150, 10)],
    )
    .await
    .unwrap();
    let completed = place(&store, COMPLETES, "tok_visa").await;
    let declined = place(&store, DECLINED, "tok_decline").await;

    let gateway = RecordingGateway::default();
    let functions = LocalFunctions {
        store: store.clone(),
        gateway: gateway.clone(),
        keys: NoKeys,
    };
    let machine = StateMachine::from_json(
        DEFINITION,
        &substitutions(order_app::dispatch::Workflow::OrderProcessing),
    )
    .unwrap();
    for order in [completed, declined] {
        assert_both_succeeded(order, &run_twice(&machine, &functions, order).await);
    }
    assert_effects_once(&store, &gateway, completed, declined).await;

    // The forwarder's batch delivered twice at once and once more: one email per event.
    let ops = Email::parse("ops@example.com").unwrap();
    let outbox = OutboxNotifier::new(&dir.path().join("outbox"), &ops).unwrap();
    // The refund workflow's starter (no refund is requested here).
    let (workflow, _runner) = order_runtime::workflow::local_workflow(
        db.clone(),
        (store.clone(), outbox.clone(), NoKeys),
        0.0,
        4,
    )
    .unwrap();
    let bus = LocalBus {
        store: store.clone(),
        notifier: outbox.clone(),
        keys: NoKeys,
        refunds: workflow.of(order_app::dispatch::Workflow::RefundProcessing),
    };
    let batch = store.read_after(0, 1000).await.unwrap();
    let records = || batch.iter().map(|(p, e)| (*p, Ok(e))).collect();
    let (a, b) = tokio::join!(
        forward_events(&bus, &store, records()),
        forward_events(&bus, &store, records()),
    );
    assert_eq!((a, b), (None, None));
    assert_eq!(forward_events(&bus, &store, records()).await, None);
    let alerts = outbox.messages(Topic::OrderAlerts);
    let received = |order: OrderId| {
        let subject = format!("Subject: Order {order} received");
        alerts.iter().filter(|m| m.contains(&subject)).count()
    };
    assert_eq!(
        (received(completed), received(declined)),
        (1, 1),
        "one \"order received\" per order"
    );
    assert_eq!(alerts.len(), 3, "and one confirmation");
    let failures = outbox.messages(Topic::OrderErrors);
    assert_eq!(failures.len(), 1, "one failure notice");
    assert!(failures[0].contains("PAYMENT_DECLINED"), "{}", failures[0]);
    db.close();
}

/// The task Lambdas as the state machine invokes them: `lambda:invoke` with the function's ARN
/// and payload → `run_task` (the entry point of each task binary's `main`), its `Diagnostic`
/// the Lambda error whose `errorType` Retry and Catch match.
struct TaskLambdas<S> {
    store: S,
    gateway: RecordingGateway,
}

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

fn lambda_substitutions() -> BTreeMap<String, String> {
    TaskFunction::ALL
        .iter()
        .map(|f| {
            (
                f.arn_placeholder(),
                format!("{FUNCTION_ARN}{}", f.function_name()),
            )
        })
        .collect()
}

impl<S: EventStore> TaskInvoker for TaskLambdas<S> {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        assert_eq!(
            resource, "arn:aws:states:::lambda:invoke",
            "the definition only invokes Lambdas"
        );
        let function = input["FunctionName"]
            .as_str()
            .and_then(|arn| arn.strip_prefix(FUNCTION_ARN))
            .and_then(TaskFunction::from_function_name)
            .expect("a task function's ARN");
        let payload = input["Payload"].clone();
        match Box::pin(run_task(
            function,
            &self.store,
            &self.gateway,
            &NoKeys,
            payload,
        ))
        .await
        {
            Ok(out) => Ok(json!({ "Payload": out, "StatusCode": 200 })),
            Err(d) => Err(TaskFailure::new(
                d.error_type.clone(),
                json!({ "errorType": d.error_type, "errorMessage": d.error_message }).to_string(),
            )),
        }
    }
}

/// EventBridge with the template's rules, whose targets are the handler Lambdas' entry points:
/// each bus event is delivered as EventBridge shapes it.
struct RuleTargets<S> {
    store: S,
    notifier: SnsNotifier,
}

/// A bus event as EventBridge delivers it to a rule's target (its own id, the detail as put).
pub fn eventbridge_event(e: &BusEvent) -> EventBridgeEvent<Value> {
    serde_json::from_value(json!({
        "version": "0",
        "id": ulid::Ulid::generate().to_string(),
        "detail-type": e.detail_type,
        "source": e.source,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": e.detail,
    }))
    .unwrap()
}

impl<S: EventStore> EventBus for RuleTargets<S> {
    async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
        for e in &events {
            let delivered = eventbridge_event(e);
            let result = match e.detail_type.as_str() {
                "OrderCompleted" => handle_event(&self.store, &self.notifier, &NoKeys, delivered)
                    .await
                    .map(|_| ()),
                "OrderFailed" => handle_failure_event(&self.store, &self.notifier, delivered)
                    .await
                    .map(|_| ()),
                "OrderPlaced" => {
                    handle_update_event(&self.store, &self.notifier, &NoKeys, delivered)
                        .await
                        .map(|_| ())
                }
                other => panic!("no rule matches {other}"),
            };
            result.map_err(|e| PortError(e.to_string()))?;
        }
        Ok(())
    }
}

pub fn sns(env: &Emulator) -> SnsNotifier {
    SnsNotifier::new(
        env.clients.sns().clone(),
        TopicArns {
            order_alerts: Some(env.resources.order_alerts_topic_arn.clone()),
            order_errors: Some(env.resources.order_errors_topic_arn.clone()),
            critical_alerts: None,
        },
        order_aws::DynamoDedup::new(
            env.clients.dynamodb().clone(),
            &env.resources.notification_dedup_table,
        ),
    )
}

#[tokio::test]
async fn two_concurrent_executions_of_one_order_on_the_task_lambdas_take_each_effect_once() {
    let env = emulator_or_skip!("two_concurrent_executions_on_the_task_lambdas");
    let store = env.store();
    seed_inventory(
        &store,
        &[seed_product("MUG", 900, 10), seed_product("PEN", 150, 10)],
    )
    .await
    .unwrap();
    let completed = place(&store, COMPLETES, "tok_visa").await;
    let declined = place(&store, DECLINED, "tok_decline").await;

    let gateway = RecordingGateway::default();
    let lambdas = TaskLambdas {
        store: store.clone(),
        gateway: gateway.clone(),
    };
    let machine = StateMachine::from_json(DEFINITION, &lambda_substitutions()).unwrap();
    for order in [completed, declined] {
        assert_both_succeeded(order, &run_twice(&machine, &lambdas, order).await);
    }
    assert_effects_once(&store, &gateway, completed, declined).await;

    // The stream's records through the event projector twice at once (a redelivered batch
    // racing its first delivery), its bus the rules' handlers: one email per order event.
    let inbox = SnsDeliveries::subscribe(&env).await;
    let views = DynamoReadModels::new(
        env.clients.dynamodb(),
        &env.resources.order_status_table,
        &env.resources.inventory_table,
    );
    let projector = EventProjector {
        order_status: Projector::new(store.clone(), Target::OrderStatus(views.orders)),
        inventory: Projector::new(store.clone(), Target::Inventory(views.inventory)),
        bus: RuleTargets {
            store: store.clone(),
            notifier: sns(&env),
        },
        store: store.clone(),
    };
    let mut records = Vec::new();
    for order in [completed, declined] {
        for e in store.read_stream(&order.stream(), 0).await.unwrap() {
            records.push(ChangeRecord {
                shard_id: None,
                sequence_number: format!("{}", records.len() + 1),
                event: Ok(e),
            });
        }
    }
    let (a, b) = tokio::join!(
        projector.handle_records(&records),
        projector.handle_records(&records)
    );
    // A delivery that found the other's dedup claim in flight is reported for redelivery, as
    // Lambda would retry it: it must then publish nothing new.
    for failed in [a, b].into_iter().flatten() {
        let from = records
            .iter()
            .position(|r| r.sequence_number == failed)
            .unwrap();
        assert_eq!(projector.handle_records(&records[from..]).await, None);
    }
    for (order, topic) in [
        (completed, Topic::OrderAlerts),
        (declined, Topic::OrderErrors),
    ] {
        let id = terminal_event(&store, order).await.event_id.to_string();
        assert_eq!(
            inbox.count(topic, &id).await,
            1,
            "{order}: one email on {}",
            topic.name()
        );
        let placed = store.read_stream(&order.stream(), 0).await.unwrap()[0]
            .event_id
            .to_string();
        assert_eq!(
            inbox.count(Topic::OrderAlerts, &placed).await,
            1,
            "{order}: one \"order received\""
        );
    }
}
