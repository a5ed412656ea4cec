//! The cost model's arithmetic: what one order makes each AWS service do (counted in a local
//! run, derived from the code paths the Lambdas take, or assumed), times the list prices.
//!
//! Every line says which: **counted** (read from the local run's database, outbox or logs),
//! **derived** (a counted number mapped to AWS requests by the code path the AWS host takes,
//! e.g. one conditional PutItem per single-event append), or **assumed** (a number this model
//! cannot observe locally, such as client polling or in-region latency).

/// Where a number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Counted,
    Derived,
    Assumed,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Counted => "counted",
            Basis::Derived => "derived",
            Basis::Assumed => "assumed",
        }
    }
}

/// The state machine's type (template parameter `WorkflowType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workflow {
    Express,
    Standard,
}

/// What the local run counted, per order (averages over the run).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub orders: u64,
    /// POST /orders accepted (202).
    pub posts: f64,
    /// Order lines (products) per order.
    pub lines: f64,
    pub executions: f64,
    /// States executed (the runner saves one transition per state).
    pub transitions: f64,
    /// Events appended to order streams, and to product streams (seeding excluded).
    pub order_events: f64,
    pub product_events: f64,
    /// Runs the projector applies: one per append per stream it appended to (an append's
    /// records of one stream arrive together and are read and written once), on order streams
    /// and on product streams.
    pub order_runs: f64,
    pub product_runs: f64,
    /// OrderValidated, PaymentCaptured, OrderCompleted, OrderFailed.
    pub validated: f64,
    pub captured: f64,
    pub completed: f64,
    pub failed: f64,
    /// Appends that are one event on one stream (a conditional PutItem), and their WRUs.
    pub event_puts: f64,
    pub event_put_wru: f64,
    /// Appends that are a TransactWriteItems, and their WRUs (condition checks included).
    pub event_transactions: f64,
    pub event_transact_wru: f64,
    /// RRUs of one strongly consistent Query of an order's whole stream.
    pub order_stream_rru: f64,
    /// WRUs of one PutItem of an order's status view.
    pub order_view_wru: f64,
    /// Messages sent to OrdersQueue.
    pub queue_sends: f64,
    /// Customers' data keys created (a customer's first order makes one).
    pub new_keys: f64,
    /// Notifications published (outbox emails, all topics).
    pub publishes: f64,
    /// Application log bytes (JSON lines at INFO).
    pub log_bytes: f64,
    /// EMF metric bytes one invocation of each function writes (`cost::emf`, measured from the
    /// Lambdas' recorder), keyed by the names of [`functions`].
    pub emf_bytes: std::collections::BTreeMap<&'static str, f64>,
}

/// What the model cannot observe locally. The defaults are stated in the printed table.
#[derive(Debug, Clone)]
pub struct Assumptions {
    /// GET /orders/{id} polls per order by the client.
    pub gets_per_order: f64,
    /// Share of POSTs sent with an Idempotency-Key (two idempotency-table writes each).
    pub idempotency_key_share: f64,
    /// SQS messages per StartOrderProcessing invocation (1 = a quiet queue; up to 10 busy).
    pub sqs_messages_per_batch: f64,
    /// Runs (one append's records of one stream, which arrive together) per projector
    /// invocation (1 = quiet; more when busy, up to 100 records).
    pub stream_records_per_invocation: f64,
    /// Email subscriptions per topic (the template subscribes NotificationEmailName once).
    pub email_subscribers: f64,
    /// In-region latency of one AWS call from a Lambda, in ms.
    pub call_ms: f64,
    /// A handler's own CPU time per invocation, in ms.
    pub cpu_ms: f64,
    /// Step Functions' own time per state (scheduling, the Lambda invoke), in ms.
    pub state_overhead_ms: f64,
    /// Express execution memory (definition + payload, billed in 64 MB chunks).
    pub express_memory_mb: f64,
    /// Step Functions log bytes per history event logged (no execution data). The template
    /// logs at level ERROR: one `TaskFailed` per order that ends FAILED (no transient retries).
    pub sfn_log_bytes_per_event: f64,
    /// API Gateway access-log bytes per request (the template's 17-field JSON format).
    pub access_log_bytes: f64,
    /// The share of API requests X-Ray records (the template's ApiTraceSamplingRule: 5 %, no
    /// reservoir).
    pub xray_sample_rate: f64,
    /// Orders a month, to spread the sweeper's fixed cost (it runs every minute whatever the
    /// traffic) over the orders.
    pub orders_per_month: f64,
    /// Lines of a priced refund, each returned to stock (`cost::refund`).
    pub refund_lines: f64,
    /// New containers an hour of each function that opens customers' keys, each unwrapping
    /// the stack's wrapping key once (`cost::keys`): Lambda replaces a busy function's
    /// execution environments every few hours, and a month's steady traffic keeps one warm.
    pub key_container_starts_per_hour: f64,
}

/// OrderSweeperSchedule's runs in a 30-day month (`rate(1 minute)`).
pub const SWEEPER_RUNS_PER_MONTH: f64 = 60.0 * 24.0 * 30.0;
/// The sweep index's Queries per run: every shard (`order_aws` `SWEEP_SHARDS`), once for
/// orders left PLACED and once for orders stuck VALIDATED or PAID.
pub const SWEEPER_QUERIES_PER_RUN: f64 = 2.0 * 16.0;
/// The round trips a run waits on: its two questions one after the other, each asking every
/// shard at once.
pub const SWEEPER_ROUND_TRIPS_PER_RUN: f64 = 2.0;

impl Default for Assumptions {
    fn default() -> Self {
        Self {
            gets_per_order: 1.0,
            idempotency_key_share: 1.0,
            sqs_messages_per_batch: 1.0,
            stream_records_per_invocation: 1.0,
            email_subscribers: 1.0,
            call_ms: 8.0,
            cpu_ms: 3.0,
            state_overhead_ms: 20.0,
            express_memory_mb: 64.0,
            sfn_log_bytes_per_event: 300.0,
            access_log_bytes: 650.0,
            xray_sample_rate: 0.05,
            orders_per_month: 1_000_000.0,
            key_container_starts_per_hour: 1.0,
            refund_lines: 1.0,
        }
    }
}

/// WRUs of one PutItem (or UpdateItem) of an item of `bytes`: one per started KB.
pub fn put_wru(bytes: u64) -> u64 {
    bytes.div_ceil(1024).max(1)
}

/// WRUs of one TransactWriteItems over items of these sizes: two per started KB per item.
pub fn transact_wru(items: &[u64]) -> u64 {
    items.iter().map(|&b| 2 * put_wru(b)).sum()
}

/// RRUs of one strongly consistent read (GetItem or Query) returning `bytes`: one per
/// started 4 KB, and at least one.
pub fn consistent_read_rru(bytes: u64) -> u64 {
    bytes.div_ceil(4096).max(1)
}

/// One Lambda function's use per order.
#[derive(Debug, Clone)]
pub struct FunctionUse {
    pub name: &'static str,
    pub memory_mb: f64,
    pub invocations: f64,
    /// Sequential AWS calls per invocation (the code path of its handler).
    pub calls_per_invocation: f64,
    pub basis: Basis,
    pub how: &'static str,
}

impl FunctionUse {
    /// Billed duration of one invocation (assumed latency × calls + CPU, per started ms).
    pub fn billed_ms(&self, a: &Assumptions) -> f64 {
        (self.calls_per_invocation * a.call_ms + a.cpu_ms).ceil()
    }

    /// GB-seconds per order.
    pub fn gb_seconds(&self, a: &Assumptions) -> f64 {
        self.invocations * self.billed_ms(a) / 1000.0 * self.memory_mb / 1024.0
    }
}

/// Round trips one event-projector invocation waits for. Its two views and the forwarder run
/// side by side (`EventProjector::handle_records`), and each view applies up to
/// [`RUNS_AT_ONCE`](order_aws::projector::RUNS_AT_ONCE) of its runs at once, so an invocation
/// waits for the longest of the three, not for their sum: a view's waves of runs, each
/// `view_calls_per_run` deep, against the forwarder's `forwarder_calls` (none when the batch
/// holds no bus event).
pub fn projector_round_trips(
    runs_per_invocation: f64,
    view_calls_per_run: f64,
    forwarder_calls: f64,
) -> f64 {
    #[allow(clippy::cast_precision_loss)] // 16
    let at_once = order_aws::projector::RUNS_AT_ONCE as f64;
    let waves = (runs_per_invocation / at_once).ceil().max(1.0);
    (waves * view_calls_per_run).max(forwarder_calls)
}

fn per(total: f64, batch: f64) -> f64 {
    if batch > 0.0 { total / batch } else { total }
}

/// The functions' invocations per order (seed-inventory runs only at deploy time; the
/// sweeper's runs are a fixed number a month, spread over [`Assumptions::orders_per_month`]).
#[allow(clippy::too_many_lines)] // one entry per function: a table, not logic
pub fn functions(o: &Observed, a: &Assumptions) -> Vec<FunctionUse> {
    // The stream's one reader gets every INSERT (template.yaml: both views and the
    // forwarder in one function), an append's records of one stream together.
    let runs = o.order_runs + o.product_runs;
    let projector_invocations = per(runs, a.stream_records_per_invocation);
    // The order events the projector puts on the bus: each order's OrderPlaced and its end.
    let bus_events = 1.0 + o.completed + o.failed;
    let f = |name, memory_mb, invocations, calls_per_invocation, basis, how| FunctionUse {
        name,
        memory_mb,
        invocations,
        calls_per_invocation,
        basis,
        how,
    };
    vec![
        f(
            "order-placement (POST)",
            512.0,
            o.posts,
            // The lines' product lookups go out together: one round trip however many.
            6.0,
            Basis::Counted,
            "one per POST; calls: GetItem per line (all at once: one round trip), idempotency claim, the customer's key (GetItem; a new customer's is made and wrapped in the function), PutItem (a new customer's key and the OrderPlaced: one TransactWriteItems), SendMessage, complete",
        ),
        f(
            "order-placement (GET)",
            512.0,
            a.gets_per_order,
            1.0,
            Basis::Assumed,
            "client polls; calls: GetItem of the status view",
        ),
        f(
            "start-order-processing",
            256.0,
            per(o.queue_sends, a.sqs_messages_per_batch),
            // A batch's starts go out together: one round trip however many messages.
            1.0,
            Basis::Derived,
            "queue messages ÷ batch size; calls: StartExecution per message, a batch's all at once (one round trip)",
        ),
        f(
            "validate-order",
            256.0,
            o.executions,
            3.0,
            Basis::Counted,
            "one per execution; calls: Query, heads, PutItem",
        ),
        f(
            "process-payment",
            256.0,
            o.validated,
            3.0,
            Basis::Derived,
            "one per OrderValidated; calls: Query, the customer's key (GetItem) for the payment token, PutItem",
        ),
        f(
            "update-inventory",
            256.0,
            o.captured,
            3.0,
            Basis::Derived,
            "one per PaymentCaptured; calls: Query, product heads, TransactWriteItems",
        ),
        f(
            "order-failed",
            256.0,
            o.failed,
            3.0,
            Basis::Derived,
            "one per OrderFailed; calls: Query, Query, PutItem or transaction",
        ),
        f(
            "event-projector",
            256.0,
            projector_invocations,
            // A warm container remembers the view it wrote: one PutItem per run. The batch's
            // bus events go out in one PutEvents beside the views' puts.
            projector_round_trips(
                per(runs, projector_invocations.max(f64::EPSILON)),
                1.0,
                if bus_events > 0.0 { 1.0 } else { 0.0 },
            ),
            Basis::Derived,
            "every run (an append's records of one stream) ÷ batch (the stream's one reader); calls: PutItem per run on its view (a warm container remembers the view it wrote: no GetItem), up to 16 runs at once, and PutEvents per batch with an order event, beside them (round trips: the longest of the two views and the forwarder)",
        ),
        f(
            "order-success-handler",
            256.0,
            o.completed,
            5.0,
            Basis::Derived,
            "one per OrderCompleted (the rule); calls: Query, dedup claim, the customer's key (GetItem) for the email, Publish, dedup mark",
        ),
        f(
            "order-failure-handler",
            256.0,
            o.failed,
            4.0,
            Basis::Derived,
            "one per OrderFailed (the rule); calls: Query, dedup claim, Publish, dedup mark (no personal data: no key)",
        ),
        f(
            "order-update-handler",
            256.0,
            1.0,
            5.0,
            Basis::Derived,
            "one per OrderPlaced (the rule; cancellations, shipments and refunds are not in the run's mix); calls: Query, dedup claim, the customer's key (GetItem) for the email, Publish, dedup mark",
        ),
        f(
            "order-sweeper",
            256.0,
            SWEEPER_RUNS_PER_MONTH / a.orders_per_month.max(1.0),
            SWEEPER_ROUND_TRIPS_PER_RUN,
            Basis::Assumed,
            "one a minute whatever the traffic, spread over the assumed orders a month; calls: a Query per shard and kind, the shards' at once (two round trips; an idle run finds nothing to read back)",
        ),
    ]
}

/// Billed seconds of one Express execution: its tasks' durations plus the per-state overhead,
/// rounded up to 100 ms.
pub fn express_billed_seconds(o: &Observed, a: &Assumptions) -> f64 {
    if o.executions <= 0.0 {
        return 0.0;
    }
    let task_ms: f64 = functions(o, a)
        .iter()
        .filter(|f| {
            matches!(
                f.name,
                "validate-order" | "process-payment" | "update-inventory" | "order-failed"
            )
        })
        .map(|f| f.invocations * f.billed_ms(a))
        .sum::<f64>()
        / o.executions;
    let ms = task_ms + o.transitions / o.executions * a.state_overhead_ms;
    (ms / 100.0).ceil() * 0.1
}

/// One priced line: a quantity per order of something AWS bills.
#[derive(Debug, Clone)]
pub struct Line {
    pub service: &'static str,
    pub item: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub basis: Basis,
    pub how: String,
    pub unit_price: f64,
    /// `Some`: only in that workflow's total.
    pub only: Option<Workflow>,
}

impl Line {
    pub fn usd_per_million_orders(&self) -> f64 {
        self.quantity * self.unit_price * 1e6
    }
}

/// The total per million orders for `workflow`.
pub fn total(lines: &[Line], workflow: Workflow) -> f64 {
    lines
        .iter()
        .filter(|l| l.only.is_none_or(|w| w == workflow))
        .map(Line::usd_per_million_orders)
        .sum()
}
