//! What each binary's `main` wires: one `SdkConfig` loaded once, the clients built from it
//! ([`AwsClients`]: only those the function's adapters ask for; building one opens no
//! connection), the adapters named by the environment
//! variables of `docs/aws-contract.md` through their own `from_env` (the one place each
//! variable is read), then the Lambda runtime around the shared handler ([`crate::emf::run`]:
//! `lambda_runtime::run` with the business metrics flushed as EMF per invocation). Clients are built
//! before the first poll (no lazy init), so the first invocation pays no set-up. The runtime's
//! future is boxed so the binaries' `main` futures stay small (the SDK's futures nest deeply).

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use order_app::gateway::SimulatedGateway;
use order_app::seed::{DEFAULT_SEED, SeedProduct};
use order_app::sweep::{SweepPolicy, Sweeper};
use order_app::vault::NoKeys;
use order_aws::{
    AwsBackend, AwsClients, DynamoEventStore, EventBridgeBus, InventoryTable, OrderStatusTable,
    Projector, SfnWorkflow, SnsNotifier, SqsQueue, Target,
};
use order_domain::Timestamp;
use serde_json::Value;

use crate::project::EventProjector;
use crate::seed::HttpSender;
use crate::task::{TaskFunction, run_task};

pub use crate::claims::with_gateway_claims;
pub use crate::stage::strip_stage;

/// Loads the shared SDK configuration (honours `AWS_ENDPOINT_URL` for an emulator, and
/// `AWS_CA_BUNDLE`: `order_aws::tls`) and builds the clients from it.
pub async fn clients() -> Result<AwsClients, order_aws::ConfigError> {
    AwsClients::load().await
}

/// order-placement: API Gateway (REST proxy) → the same axum router as the local server, its
/// callers those API Gateway's Cognito authorizer verified.
pub async fn order_placement_main() -> Result<(), Error> {
    crate::init_tracing();
    let backend = Arc::new(AwsBackend::from_env(&clients().await?)?);
    let auth = Arc::new(order_api::auth::Authenticator::Gateway);
    let app = tower::ServiceBuilder::new()
        .map_request(strip_stage)
        .map_request(with_gateway_claims)
        .map_request(crate::deadline::with_invocation_deadline)
        .service(order_api::router(backend, auth));
    Box::pin(crate::emf::run(lambda_http::Adapter::from(app))).await
}

/// The Step Functions task functions of both state machines.
pub async fn task_main(function: TaskFunction) -> Result<(), Error> {
    crate::init_tracing();
    let clients = clients().await?;
    let store = DynamoEventStore::from_env(&clients)?;
    let store = &store;
    // Only ProcessPayment opens personal data (the payment token); the other tasks get no key
    // store, and their roles no access to the keys table or the KMS key.
    if function == TaskFunction::ProcessPayment {
        let keys = order_aws::keys_from_env(&clients)?;
        let keys = &keys;
        Box::pin(crate::emf::run(service_fn(
            move |event: LambdaEvent<Value>| async move {
                // Boxed: the task futures over the SDK nest too deeply for the default layout.
                Box::pin(run_task(
                    function,
                    store,
                    &SimulatedGateway,
                    keys,
                    event.payload,
                ))
                .await
            },
        )))
        .await
    } else {
        Box::pin(crate::emf::run(service_fn(
            move |event: LambdaEvent<Value>| async move {
                Box::pin(run_task(
                    function,
                    store,
                    &SimulatedGateway,
                    &NoKeys,
                    event.payload,
                ))
                .await
            },
        )))
        .await
    }
}

/// start-order-processing: OrdersQueue batches → StartExecution.
pub async fn start_order_processing_main() -> Result<(), Error> {
    crate::init_tracing();
    let workflow = SfnWorkflow::from_env(&clients().await?)?;
    let workflow = &workflow;
    Box::pin(crate::emf::run(service_fn(
        move |event: LambdaEvent<SqsEvent>| async move {
            Ok::<_, Diagnostic>(crate::start::handle_batch(workflow, event.payload).await)
        },
    )))
    .await
}

/// order-success-handler: OrderConfirmationRule → confirmation email through OrderAlertsTopic.
pub async fn order_success_handler_main() -> Result<(), Error> {
    crate::init_tracing();
    let clients = clients().await?;
    let store = DynamoEventStore::from_env(&clients)?;
    let notifier = SnsNotifier::from_env(&clients)?;
    let keys = order_aws::keys_from_env(&clients)?;
    let (store, notifier, keys) = (&store, &notifier, &keys);
    Box::pin(crate::emf::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            crate::confirm::handle_event(store, notifier, keys, event.payload)
                .await
                .map_err(|e| Diagnostic {
                    error_type: "ConfirmationFailed".into(),
                    error_message: e.to_string(),
                })
        },
    )))
    .await
}

/// order-update-handler: OrderUpdateRule → the customer's emails of the order's life (received,
/// cancelled, shipped, refunded) through OrderAlertsTopic.
pub async fn order_update_handler_main() -> Result<(), Error> {
    crate::init_tracing();
    let clients = clients().await?;
    let store = DynamoEventStore::from_env(&clients)?;
    let notifier = SnsNotifier::from_env(&clients)?;
    let keys = order_aws::keys_from_env(&clients)?;
    let (store, notifier, keys) = (&store, &notifier, &keys);
    Box::pin(crate::emf::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            crate::confirm::handle_update_event(store, notifier, keys, event.payload)
                .await
                .map_err(|e| Diagnostic {
                    error_type: "OrderUpdateFailed".into(),
                    error_message: e.to_string(),
                })
        },
    )))
    .await
}

/// order-failure-handler: OrderFailureRule → failure notice through OrderErrorNotificationTopic.
/// No key store: the notice holds no personal data.
pub async fn order_failure_handler_main() -> Result<(), Error> {
    crate::init_tracing();
    let clients = clients().await?;
    let store = DynamoEventStore::from_env(&clients)?;
    let notifier = SnsNotifier::from_env(&clients)?;
    let (store, notifier) = (&store, &notifier);
    Box::pin(crate::emf::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            crate::confirm::handle_failure_event(store, notifier, event.payload)
                .await
                .map_err(|e| Diagnostic {
                    error_type: "FailureNoticeFailed".into(),
                    error_message: e.to_string(),
                })
        },
    )))
    .await
}

/// seed-inventory: the SeedInventory custom resource. Takes raw JSON and builds its store
/// without `?`, so a malformed request or a missing environment variable is answered FAILED
/// on the ResponseURL instead of leaving the stack waiting (see `crate::seed::answer`).
pub async fn seed_inventory_main() -> Result<(), Error> {
    crate::init_tracing();
    let store = clients()
        .await
        .and_then(|c| DynamoEventStore::from_env(&c))
        .map_err(|e| e.to_string());
    let seed: Result<Vec<SeedProduct>, String> =
        serde_json::from_str(DEFAULT_SEED).map_err(|e| format!("the seed file: {e}"));
    let sender = HttpSender(reqwest::Client::new());
    let (store, seed, sender) = (&store, &seed, &sender);
    Box::pin(crate::emf::run(service_fn(
        move |event: LambdaEvent<Value>| async move {
            let setup = match (store, seed) {
                (Ok(store), Ok(seed)) => Ok((store, seed.as_slice())),
                (Err(e), _) | (_, Err(e)) => Err(e.as_str()),
            };
            crate::seed::answer(setup, sender, event.payload)
                .await
                .map_err(|e| Diagnostic {
                    error_type: "CustomResourceResponseFailed".into(),
                    error_message: e,
                })
        },
    )))
    .await
}

/// event-projector: the events table's stream → both read models and the order events to
/// EventBridge (`crate::project`: the stream's one reader).
pub async fn event_projector_main() -> Result<(), Error> {
    crate::init_tracing();
    let clients = clients().await?;
    let store = DynamoEventStore::from_env(&clients)?;
    let projector = EventProjector {
        order_status: Projector::new(
            store.clone(),
            Target::OrderStatus(OrderStatusTable::from_env(&clients)?),
        ),
        inventory: Projector::new(
            store.clone(),
            Target::Inventory(InventoryTable::from_env(&clients)?),
        ),
        bus: EventBridgeBus::from_env(&clients),
        store,
    };
    let projector = &projector;
    Box::pin(crate::emf::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<_, Diagnostic>(Box::pin(projector.handle(&event.payload)).await)
        },
    )))
    .await
}

/// order-sweeper: OrderSweeperSchedule (every minute) → one run of the sweeper over the
/// order-status table's sweep index, the events table and OrdersQueue.
pub async fn order_sweeper_main() -> Result<(), Error> {
    crate::init_tracing();
    let clients = clients().await?;
    let store = DynamoEventStore::from_env(&clients)?;
    let reads = OrderStatusTable::from_env(&clients)?;
    let queue = SqsQueue::from_env(&clients)?;
    let ports = Sweeper {
        reads: &reads,
        store: &store,
        gateway: &SimulatedGateway,
        queue: &queue,
    };
    let policy = &SweepPolicy::default();
    Box::pin(crate::emf::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            Box::pin(crate::sweep::handle_scheduled(
                ports,
                policy,
                &event.payload,
                Timestamp::now(),
            ))
            .await
            .map_err(|e| Diagnostic {
                error_type: "SweepFailed".into(),
                error_message: e.to_string(),
            })
        },
    )))
    .await
}
