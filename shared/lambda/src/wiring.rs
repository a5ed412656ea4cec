//! What each binary's `main` wires: one `SdkConfig` loaded once, only the clients the function
//! uses, adapters named by the environment variables of `docs/aws-contract.md`, then the
//! Lambda runtime around the shared handler. Clients are built before the first poll (no lazy
//! init), so the first invocation pays no set-up. The runtime's future is boxed so the
//! binaries' `main` futures stay small (the SDK's futures nest deeply).

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use order_api::Backend;
use order_app::gateway::SimulatedGateway;
use order_app::seed::SeedProduct;
use order_aws::config::require_env;
use order_aws::projector::decode_lambda_record;
use order_aws::{
    DynamoDedup, DynamoEventStore, DynamoIdempotency, DynamoReadModels, EventBridgeBus,
    InventoryTable, OrderStatusTable, Projector, SfnWorkflow, SnsNotifier, SqsQueue, Target,
    TopicArns,
};
use serde_json::Value;

use crate::forward::{StreamItem, forward};
use crate::seed::{DEFAULT_SEED, HttpSender};
use crate::task::{TaskFunction, run_task};

/// Loads the shared SDK configuration (honours `AWS_ENDPOINT_URL` for an emulator).
pub async fn sdk_config() -> SdkConfig {
    order_aws::config::load_sdk_config().await
}

/// The event store on `EVENTS_TABLE`.
pub fn event_store(config: &SdkConfig) -> Result<DynamoEventStore, Error> {
    Ok(DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(config),
        require_env("EVENTS_TABLE")?,
    ))
}

/// The API's ports on AWS.
pub struct AwsBackend {
    pub store: DynamoEventStore,
    pub queue: SqsQueue,
    pub idempotency: DynamoIdempotency,
    pub reads: DynamoReadModels,
}

impl AwsBackend {
    pub fn from_env(config: &SdkConfig) -> Result<Self, Error> {
        let dynamodb = aws_sdk_dynamodb::Client::new(config);
        Ok(Self {
            store: DynamoEventStore::new(dynamodb.clone(), require_env("EVENTS_TABLE")?),
            queue: SqsQueue::new(
                aws_sdk_sqs::Client::new(config),
                require_env("ORDERS_QUEUE_URL")?,
            ),
            idempotency: DynamoIdempotency::new(
                dynamodb.clone(),
                require_env("IDEMPOTENCY_TABLE")?,
            ),
            reads: DynamoReadModels::new(
                &dynamodb,
                &require_env("ORDER_STATUS_TABLE")?,
                &require_env("INVENTORY_TABLE")?,
            ),
        })
    }
}

impl Backend for AwsBackend {
    type Store = DynamoEventStore;
    type Queue = SqsQueue;
    type Idempotency = DynamoIdempotency;
    type Reads = DynamoReadModels;

    fn store(&self) -> &DynamoEventStore {
        &self.store
    }
    fn queue(&self) -> &SqsQueue {
        &self.queue
    }
    fn idempotency(&self) -> &DynamoIdempotency {
        &self.idempotency
    }
    fn reads(&self) -> &DynamoReadModels {
        &self.reads
    }
}

/// API Gateway REST requests arrive with the stage in the path (`/prod/orders`); the router
/// serves `/orders`, as locally. The stage comes from the request context, so this holds for
/// any stage name without configuration.
pub fn strip_stage(mut request: lambda_http::Request) -> lambda_http::Request {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return request;
    };
    let Some(stage) = context.stage.clone() else {
        return request;
    };
    let prefix = format!("/{stage}");
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let Some(rest) = path_and_query.strip_prefix(&prefix) else {
        return request;
    };
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
        return request;
    }
    let rest = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(pq) = rest.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = lambda_http::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// order-placement: API Gateway (REST proxy) → the same axum router as the local server.
pub async fn order_placement_main() -> Result<(), Error> {
    crate::init_tracing();
    let backend = Arc::new(AwsBackend::from_env(&sdk_config().await)?);
    let app = tower::ServiceBuilder::new()
        .map_request(strip_stage)
        .map_request(crate::deadline::with_invocation_deadline)
        .service(order_api::router(backend));
    Box::pin(lambda_http::run(app)).await
}

/// The Step Functions task functions.
pub async fn task_main(function: TaskFunction) -> Result<(), Error> {
    crate::init_tracing();
    let store = event_store(&sdk_config().await)?;
    let store = &store;
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Value>| async move {
            // Boxed: the task futures over the SDK nest too deeply for the default layout limit.
            Box::pin(run_task(function, store, &SimulatedGateway, event.payload)).await
        },
    )))
    .await
}

/// start-order-processing: OrdersQueue batches → StartExecution.
pub async fn start_order_processing_main() -> Result<(), Error> {
    crate::init_tracing();
    let config = sdk_config().await;
    let workflow = SfnWorkflow::new(
        aws_sdk_sfn::Client::new(&config),
        require_env("STATE_MACHINE_ARN")?,
    );
    let workflow = &workflow;
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<SqsEvent>| async move {
            Ok::<_, Diagnostic>(crate::start::handle_batch(workflow, event.payload).await)
        },
    )))
    .await
}

/// order-success-handler: OrderConfirmationRule → confirmation email through OrderAlertsTopic.
pub async fn order_success_handler_main() -> Result<(), Error> {
    crate::init_tracing();
    let config = sdk_config().await;
    let store = event_store(&config)?;
    let topics = TopicArns::from_env();
    let dedup = DynamoDedup::new(
        aws_sdk_dynamodb::Client::new(&config),
        require_env(order_aws::config::NOTIFICATION_DEDUP_TABLE)?,
    );
    let notifier = SnsNotifier::new(aws_sdk_sns::Client::new(&config), topics, dedup);
    let (store, notifier) = (&store, &notifier);
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            crate::confirm::handle_event(store, notifier, event.payload)
                .await
                .map_err(|e| Diagnostic {
                    error_type: "ConfirmationFailed".into(),
                    error_message: e.to_string(),
                })
        },
    )))
    .await
}

/// seed-inventory: the SeedInventory custom resource.
pub async fn seed_inventory_main() -> Result<(), Error> {
    crate::init_tracing();
    let store = event_store(&sdk_config().await)?;
    let seed: Vec<SeedProduct> = serde_json::from_str(DEFAULT_SEED)?;
    let sender = HttpSender(reqwest::Client::new());
    let (store, seed, sender) = (&store, &seed, &sender);
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CloudFormationCustomResourceRequest>| async move {
            crate::seed::handle(store, sender, event.payload, seed)
                .await
                .map_err(|e| Diagnostic {
                    error_type: "CustomResourceResponseFailed".into(),
                    error_message: e,
                })
        },
    )))
    .await
}

/// Which read model a projector binary keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    OrderStatus,
    Inventory,
}

/// order-status-projector and inventory-projector: the events stream → a read model.
pub async fn projector_main(view: View) -> Result<(), Error> {
    crate::init_tracing();
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let store = DynamoEventStore::new(dynamodb.clone(), require_env("EVENTS_TABLE")?);
    let target = match view {
        View::OrderStatus => Target::OrderStatus(OrderStatusTable::new(
            dynamodb,
            require_env("ORDER_STATUS_TABLE")?,
        )),
        View::Inventory => Target::Inventory(InventoryTable::new(
            dynamodb,
            require_env("INVENTORY_TABLE")?,
        )),
    };
    let projector = Projector::new(store, target);
    let projector = &projector;
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<_, Diagnostic>(projector.handle(&event.payload).await)
        },
    )))
    .await
}

/// Decodes a Lambda stream batch into forwarder items (INSERTs only: the log is append-only).
pub fn stream_items(event: &StreamEvent) -> Vec<StreamItem> {
    event
        .records
        .iter()
        .filter_map(decode_lambda_record)
        .map(|r| StreamItem {
            sequence_number: r.sequence_number,
            event: r.event.map_err(|e| e.to_string()),
        })
        .collect()
}

/// terminal-event-forwarder: the events stream → EventBridge.
pub async fn forwarder_main() -> Result<(), Error> {
    crate::init_tracing();
    let config = sdk_config().await;
    let bus_name = std::env::var("EVENT_BUS_NAME").unwrap_or_else(|_| "default".into());
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&config), bus_name);
    let bus = &bus;
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<_, Diagnostic>(forward(bus, stream_items(&event.payload)).await)
        },
    )))
    .await
}
