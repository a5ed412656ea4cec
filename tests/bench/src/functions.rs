//! The function binaries of `docs/aws-contract.md`, and for each one a real first
//! invocation: its repo fixture event, with the ids swapped for a fresh order that the
//! emulator holds in the state the function expects (so every repetition does the real work,
//! not an idempotent replay).

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use order_app::after::request_refund;
use order_app::gateway::SimulatedGateway;
use order_app::place::{AppendThenEnqueue, PlaceOrder, place_order};
use order_app::seed::{SeedProduct, seed_inventory};
use order_app::tasks::{self, TaskError, TaskInput};
use order_aws::provision::{ensure_state_machine, provision};
use order_aws::{
    AwsClients, AwsResources, DynamoEventStore, DynamoIdempotency, DynamoReadModels,
    InventoryTable, SqsQueue,
};
use order_domain::events::OrderLine;
use order_domain::order::RefundRequest;
use order_domain::ports::EventStore;
use order_domain::{CustomerId, Email, OrderId, PaymentToken, ProductId, Quantity};
use order_read_models::{InventoryView, View as _};
use serde_json::{Value, json};

/// The order id every fixture uses; swapped for a fresh one per invocation.
pub const FIXTURE_ORDER_ID: &str = "01JDQ5Z8M7X3K9V2N4B6C8D0EF";
/// The product the fixtures order.
pub const FIXTURE_PRODUCT: &str = "MUG";

const API_POST: &str =
    include_str!("../../../services/order-placement/fixtures/apigw-post-orders.json");
const SQS_BATCH: &str =
    include_str!("../../../services/start-order-processing/fixtures/sqs-batch.json");
const TASK_INPUT: &str = include_str!("../../../services/validate-order/fixtures/task-input.json");
const REFUND_INPUT: &str =
    include_str!("../../../services/process-refund/fixtures/task-input.json");
const ORDER_COMPLETED: &str =
    include_str!("../../../services/order-success-handler/fixtures/order-completed.json");
const ORDER_FAILED: &str =
    include_str!("../../../services/order-failure-handler/fixtures/order-failed.json");
const ORDER_PLACED: &str =
    include_str!("../../../services/order-update-handler/fixtures/order-placed.json");
const SEED_CREATE: &str = include_str!("../../../services/seed-inventory/fixtures/create.json");
const SCHEDULED: &str =
    include_str!("../../../services/order-sweeper/fixtures/scheduled-event.json");
const STREAM_BATCH: &str =
    include_str!("../../../projections/event-projector/fixtures/stream-batch.json");

mod list;
pub use list::{EventKind, FUNCTIONS, Function, Task};

/// The benchmark's slice of the emulator: freshly provisioned resources, plus a state machine
/// for StartOrderProcessing to start (moto does not run it unless asked to).
pub struct Emulator {
    pub endpoint: String,
    /// The PEM bundle that vouches for an HTTPS endpoint, given to every function as
    /// `AWS_CA_BUNDLE` (`None`: plain HTTP).
    pub ca_bundle: Option<std::path::PathBuf>,
    pub clients: AwsClients,
    pub resources: AwsResources,
}

impl Emulator {
    /// Provisions `<prefix>…` resources on the emulator at `endpoint` and seeds the fixtures'
    /// product (its events, and its row in the inventory view). An `https` endpoint needs the
    /// bundle of the authority that signed its certificate.
    pub async fn provision(
        endpoint: &str,
        prefix: &str,
        ca_bundle: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let mut config = aws_config::defaults(BehaviorVersion::latest());
        if let Some(bundle) = ca_bundle {
            config = config.http_client(order_aws::tls::Trusted::from_file(bundle)?.http_client());
        }
        let config = config
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
            .load()
            .await;
        let clients = AwsClients::new(&config);
        let mut resources = provision(&clients, prefix).await?;
        let definition = json!({
            "Comment": "order-bench: started, never run (moto executes only when configured to)",
            "StartAt": "Done",
            "States": { "Done": { "Type": "Succeed" } }
        });
        let arn = ensure_state_machine(
            &clients,
            &format!("{prefix}OrderProcessingStateMachine"),
            &definition.to_string(),
            "arn:aws:iam::123456789012:role/order-bench-states",
        )
        .await?;
        resources.state_machine_arn = Some(arn);
        let emulator = Self {
            endpoint: endpoint.to_owned(),
            ca_bundle: ca_bundle.map(std::path::Path::to_path_buf),
            clients,
            resources,
        };
        emulator.seed_product().await?;
        Ok(emulator)
    }

    /// The value of a contract variable for the function's environment.
    pub fn env_value(&self, var: &str) -> Option<String> {
        self.resources
            .env_pairs()
            .into_iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v)
    }

    /// A function's environment: its contract variables, the emulator's endpoint and the
    /// bundle that vouches for it.
    pub fn function_env(&self, f: &Function) -> anyhow::Result<Vec<(String, String)>> {
        let mut env = vec![("AWS_ENDPOINT_URL".to_owned(), self.endpoint.clone())];
        if let Some(bundle) = &self.ca_bundle {
            env.push((
                order_aws::tls::CA_BUNDLE.to_owned(),
                bundle.display().to_string(),
            ));
        }
        for var in f.env {
            let value = self
                .env_value(var)
                .ok_or_else(|| anyhow::anyhow!("{}: no value for {var}", f.name))?;
            env.push(((*var).to_owned(), value));
        }
        Ok(env)
    }

    fn store(&self) -> DynamoEventStore {
        DynamoEventStore::new(
            self.clients.dynamodb().clone(),
            &self.resources.events_table,
        )
    }

    fn keys(&self) -> order_aws::DynamoKeys {
        order_aws::DynamoKeys::new(
            self.clients.dynamodb().clone(),
            self.clients.kms().clone(),
            &self.resources.customer_keys_table,
            &self.resources.kms_key_id,
        )
    }

    async fn seed_product(&self) -> anyhow::Result<()> {
        let product: SeedProduct = serde_json::from_value(json!({
            "productId": FIXTURE_PRODUCT, "name": "Mug", "price": 900, "stock": 1_000_000
        }))?;
        let store = self.store();
        seed_inventory(&store, std::slice::from_ref(&product)).await?;
        let history = store.read_stream(&product.product_id.stream(), 0).await?;
        let view = InventoryView::fold(None, &history)?
            .ok_or_else(|| anyhow::anyhow!("the seeded product has no view"))?;
        InventoryTable::new(
            self.clients.dynamodb().clone(),
            &self.resources.inventory_table,
        )
        .put(&view)
        .await?;
        Ok(())
    }

    /// Places an order for one fixture product paid with `token`.
    async fn place(&self, token: &str) -> anyhow::Result<OrderId> {
        let request = PlaceOrder {
            customer_id: CustomerId::parse("c-bench")?,
            email: Email::parse("jane@example.com")?,
            items: vec![OrderLine {
                product_id: ProductId::parse(FIXTURE_PRODUCT)?,
                quantity: Quantity::new(1)?,
            }],
            payment_token: PaymentToken::parse(token)?,
        };
        let queue = SqsQueue::new(self.clients.sqs().clone(), &self.resources.orders_queue_url);
        let idempotency = DynamoIdempotency::new(
            self.clients.dynamodb().clone(),
            &self.resources.idempotency_table,
        );
        let reads = DynamoReadModels::new(
            self.clients.dynamodb(),
            &self.resources.order_status_table,
            &self.resources.inventory_table,
        );
        let placed = place_order(
            &AppendThenEnqueue {
                store: &self.store(),
                queue: &queue,
            },
            &idempotency,
            &reads,
            &self.keys(),
            request,
            None,
            "order-bench",
        )
        .await?;
        Ok(placed.order_id)
    }

    /// A fresh order, advanced (in-process, on the emulator) to where `task` takes over.
    async fn order_for(&self, task: Task) -> anyhow::Result<OrderId> {
        let token = if task == Task::Fail {
            "tok_decline"
        } else {
            "tok_visa"
        };
        let id = self.place(token).await?;
        let store = self.store();
        let input = || -> anyhow::Result<TaskInput> {
            Ok(TaskError::parse_input(
                json!({ "orderId": id.to_string() }),
            )?)
        };
        if task == Task::Validate {
            return Ok(id);
        }
        tasks::validate_order(&store, input()?).await?;
        if task == Task::Pay {
            return Ok(id);
        }
        let paid = tasks::process_payment(&store, &SimulatedGateway, &self.keys(), input()?).await;
        match (task, paid) {
            (Task::Fail, Err(TaskError::PaymentDeclined(_))) | (Task::Reserve, Ok(_)) => Ok(id),
            (_, other) => anyhow::bail!("preparing {task:?}: payment answered {other:?}"),
        }
    }

    /// A failed order (placed, validated, declined, closed by OrderFailed).
    async fn failed_order(&self) -> anyhow::Result<OrderId> {
        let id = self.order_for(Task::Fail).await?;
        let input = TaskError::parse_input(json!({ "orderId": id.to_string() }))?;
        tasks::order_failed(&self.store(), &SimulatedGateway, input).await?;
        Ok(id)
    }

    /// A completed order (placed, validated, paid, stock reserved).
    async fn completed_order(&self) -> anyhow::Result<OrderId> {
        let id = self.order_for(Task::Reserve).await?;
        let input = TaskError::parse_input(json!({ "orderId": id.to_string() }))?;
        tasks::update_inventory(&self.store(), input).await?;
        Ok(id)
    }

    /// A completed order with one line's refund requested (pending): the refund workflow's
    /// input, `{"orderId","refundId"}`.
    async fn refund_requested(&self) -> anyhow::Result<(OrderId, String)> {
        let id = self.completed_order().await?;
        let request = RefundRequest {
            idempotency_key: format!("bench-{}", ulid::Ulid::generate()),
            items: vec![OrderLine {
                product_id: ProductId::parse(FIXTURE_PRODUCT)?,
                quantity: Quantity::new(1)?,
            }],
            restock: true,
            reason: "order-bench".to_owned(),
        };
        let (_, refund) = request_refund(&self.store(), id, request).await?;
        Ok((id, refund.request.refund_id))
    }

    /// The first event for `kind`. `response_url` is where a custom resource answers.
    pub async fn event(&self, kind: EventKind, response_url: &str) -> anyhow::Result<Vec<u8>> {
        let text = match kind {
            EventKind::ApiPost => {
                let key = format!("bench-{}", ulid::Ulid::generate());
                API_POST.replace("fixture-key-1", &key)
            }
            EventKind::SqsBatch => {
                SQS_BATCH.replace(FIXTURE_ORDER_ID, &ulid::Ulid::generate().to_string())
            }
            EventKind::Task(task) => {
                let id = self.order_for(task).await?;
                let mut input: Value = serde_json::from_str(TASK_INPUT)?;
                input["orderId"] = json!(id.to_string());
                if task == Task::Fail {
                    input["error"] = json!({
                        "Error": "PaymentDeclined",
                        "Cause": "card_declined: the card was declined"
                    });
                }
                input.to_string()
            }
            EventKind::Refund { caught } => {
                let (id, refund_id) = self.refund_requested().await?;
                let mut input: Value = serde_json::from_str(REFUND_INPUT)?;
                input["orderId"] = json!(id.to_string());
                input["refundId"] = json!(refund_id);
                if caught {
                    input["error"] = json!({
                        "Error": "PaymentGatewayUnavailable",
                        "Cause": "the gateway did not answer"
                    });
                }
                input.to_string()
            }
            EventKind::OrderCompleted => {
                let id = self.completed_order().await?;
                ORDER_COMPLETED.replace(FIXTURE_ORDER_ID, &id.to_string())
            }
            EventKind::OrderFailed => {
                let id = self.failed_order().await?;
                ORDER_FAILED.replace(FIXTURE_ORDER_ID, &id.to_string())
            }
            EventKind::OrderPlaced => {
                let id = self.place("tok_visa").await?;
                ORDER_PLACED.replace(FIXTURE_ORDER_ID, &id.to_string())
            }
            EventKind::SeedCreate => {
                let mut request: Value = serde_json::from_str(SEED_CREATE)?;
                request["ResponseURL"] = json!(response_url);
                request.to_string()
            }
            EventKind::StreamBatch => {
                let id = self.place("tok_visa").await?;
                STREAM_BATCH.replace(FIXTURE_ORDER_ID, &id.to_string())
            }
            EventKind::Scheduled => SCHEDULED.to_owned(),
        };
        Ok(text.into_bytes())
    }
}

/// The event for a baseline (any JSON: it is echoed).
pub fn hello_event() -> Vec<u8> {
    br#"{"hello":"world"}"#.to_vec()
}
