//! The priced lines of one order, service by service. Each line's `how` says what it was
//! counted from or derived by; the code paths named are the AWS adapters' (`shared/aws`).

use super::model::{
    Assumptions, Basis, Line, Observed, SWEEPER_QUERIES_PER_RUN, SWEEPER_RUNS_PER_MONTH, Workflow,
    express_billed_seconds, functions,
};
use super::prices as p;

const GB: f64 = 1024.0 * 1024.0 * 1024.0;

pub(super) fn line(
    service: &'static str,
    item: &str,
    quantity: f64,
    unit: &'static str,
    basis: Basis,
    how: &str,
    unit_price: f64,
) -> Line {
    Line {
        service,
        item: item.to_owned(),
        quantity,
        unit,
        basis,
        how: how.to_owned(),
        unit_price,
        only: None,
    }
}

/// Every priced line per order, for both workflow types (the Step Functions lines are marked).
pub fn lines(o: &Observed, a: &Assumptions) -> Vec<Line> {
    let fns = functions(o, a);
    let requests = o.posts + a.gets_per_order;
    let invocations: f64 = fns.iter().map(|f| f.invocations).sum();
    let gb_seconds: f64 = fns.iter().map(|f| f.gb_seconds(a)).sum();
    let mut out = vec![
        line(
            "API Gateway",
            "REST requests (POST + GET polls)",
            requests,
            "request",
            Basis::Assumed,
            &format!(
                "{:.2} POST counted + {:.2} GET assumed",
                o.posts, a.gets_per_order
            ),
            p::API_GATEWAY_REST_REQUEST,
        ),
        line(
            "Lambda",
            &format!("invocations ({} functions)", fns.len() - 1),
            invocations,
            "request",
            Basis::Derived,
            "per-function table below",
            p::LAMBDA_REQUEST,
        ),
        line(
            "Lambda",
            "duration (arm64, template memory sizes)",
            gb_seconds,
            "GB-s",
            Basis::Assumed,
            &format!(
                "assumed {} ms per AWS call + {} ms CPU per invocation",
                a.call_ms, a.cpu_ms
            ),
            p::LAMBDA_ARM64_GB_SECOND,
        ),
    ];
    out.extend(step_functions(o, a));
    out.extend(dynamodb(o, a));
    out.extend(super::keys::lines(o, a));
    out.extend(messaging(o, a));
    out.extend(observability(o, a, requests, &fns));
    out
}

fn step_functions(o: &Observed, a: &Assumptions) -> Vec<Line> {
    let billed_s = express_billed_seconds(o, a);
    let memory_gb = (a.express_memory_mb / 64.0).ceil() * 64.0 / 1024.0;
    let mut standard = line(
        "Step Functions",
        "Standard: state transitions",
        o.transitions,
        "transition",
        Basis::Counted,
        "the runner's transitions column (one per state executed)",
        p::SFN_STANDARD_TRANSITION,
    );
    standard.only = Some(Workflow::Standard);
    let mut requests = line(
        "Step Functions",
        "Express: requests",
        o.executions,
        "request",
        Basis::Counted,
        "executions started",
        p::SFN_EXPRESS_REQUEST,
    );
    requests.only = Some(Workflow::Express);
    let mut duration = line(
        "Step Functions",
        "Express: duration",
        o.executions * billed_s * memory_gb,
        "GB-s",
        Basis::Assumed,
        &format!(
            "{billed_s:.1} s billed per execution (task durations + {} ms per state), {} MB",
            a.state_overhead_ms,
            memory_gb * 1024.0
        ),
        p::SFN_EXPRESS_GB_SECOND,
    );
    duration.only = Some(Workflow::Express);
    vec![standard, requests, duration]
}

#[allow(clippy::too_many_lines)] // one entry per billed item: a table, not logic
fn dynamodb(o: &Observed, a: &Assumptions) -> Vec<Line> {
    let keyed = o.posts * a.idempotency_key_share;
    // The order-status view's sweep index is sparse: its keys (a hash shard and the placing
    // instant, neither of which moves) are on a row only while the order is open. The first
    // put (PLACED) adds the entry, the terminal put removes it: 1 WRU each, nothing for the
    // puts in between.
    let gsi = o.posts + o.completed + o.failed;
    // Validate, pay and reserve each read the order once and decide on what they read (a
    // moved order makes the conditional append conflict, and the task reloads); OrderFailed
    // reads it twice; the confirmation handler once.
    let stream_reads = o.executions + o.validated + o.captured + 2.0 * o.failed + o.completed;
    // The products' heads, in validate and in reserve (the order's own head is not read again).
    let head_reads = (o.executions + o.captured) * o.lines;
    // The projector reads no view: a run from a stream's first event (each placed order's
    // OrderPlaced) folds from nothing, and a later run starts from the view the projector
    // wrote (`order_read_models::Remembered`), which a warm container remembers (the stream's
    // one reader runs one batch at a time per shard, so an order's runs meet the same
    // container). A cold container reads each stream's row once: a fixed cost per start.
    let view_reads = 0.0;
    vec![
        line(
            "DynamoDB",
            "events: single-event appends (conditional PutItem)",
            o.event_put_wru,
            "WRU",
            Basis::Derived,
            &format!(
                "{:.2} appends from counted rows, 1 WRU per started KB of item",
                o.event_puts
            ),
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "events: multi-item appends (TransactWriteItems)",
            o.event_transact_wru,
            "WRU",
            Basis::Derived,
            &format!(
                "{:.2} transactions from counted rows, 2 WRU per item-KB (guards included)",
                o.event_transactions
            ),
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "idempotency records (claim PutItem + complete UpdateItem)",
            2.0 * keyed,
            "WRU",
            Basis::Assumed,
            &format!(
                "{:.0} % of POSTs keyed (assumed)",
                a.idempotency_key_share * 100.0
            ),
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "order-status view puts",
            o.order_runs * o.order_view_wru,
            "WRU",
            Basis::Derived,
            &format!(
                "at most one per order-stream append ({:.2} counted for {:.2} order events: an append's records are one run, and so are a batch's appends of one order, which this upper bound leaves out), {:.0} WRU each (counted view size)",
                o.order_runs, o.order_events, o.order_view_wru
            ),
            p::DYNAMODB_WRU,
        ),
        // The customers' listing index (`byCustomerKeys`, GET /orders) projects its keys only,
        // which an order's first put sets and no later put changes: DynamoDB writes an index
        // only when what it keeps of a row changes, so each order enters it once (a small
        // entry: 1 WRU) and its later status puts write nothing there. A page of GET /orders
        // reads its rows back (1 RRU an order listed), but listing pages are not in the
        // per-order mix (neither were they when the index projected every attribute).
        line(
            "DynamoDB",
            "order-status byCustomerKeys index entries (keys only)",
            o.posts,
            "WRU",
            Basis::Derived,
            &format!(
                "one per order placed ({:.2}), on its first view put; the {:.2} status puts after it leave the keys as they are",
                o.posts,
                (o.order_runs - o.posts).max(0.0)
            ),
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "order-status sweep index writes (sparse: open orders only)",
            gsi,
            "WRU",
            Basis::Derived,
            "1 on entering (the PLACED put) + 1 on leaving (the terminal put), per order",
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "inventory view puts",
            o.product_runs,
            "WRU",
            Basis::Derived,
            "at most one per product-stream append (small items; a batch's appends of one product are one run)",
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "order-stream Queries (strongly consistent)",
            stream_reads * o.order_stream_rru,
            "RRU",
            Basis::Derived,
            &format!(
                "{stream_reads:.2} reads × {:.0} RRU (counted final stream size: upper bound)",
                o.order_stream_rru
            ),
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB",
            "product heads + inventory GetItems (POST, validate, reserve)",
            head_reads + o.posts * o.lines,
            "RRU",
            Basis::Derived,
            "one per line per read, 1 RRU each",
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB",
            "view GetItems (GET polls; the projector remembers its views)",
            view_reads + a.gets_per_order,
            "RRU",
            Basis::Assumed,
            "one per poll; none by the projector while its container is warm (it starts each run from the view it wrote)",
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB",
            "notification dedup records (claim PutItem + SENT PutItem)",
            2.0 * o.publishes,
            "WRU",
            Basis::Derived,
            "two small writes per publish and no read (shared/aws dedup: the PENDING claim is tried unread, then SENT)",
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "order-sweeper Queries (every minute, all shards)",
            0.5 * SWEEPER_QUERIES_PER_RUN * SWEEPER_RUNS_PER_MONTH / a.orders_per_month.max(1.0),
            "RRU",
            Basis::Assumed,
            &format!(
                "{SWEEPER_QUERIES_PER_RUN:.0} eventually consistent Queries (0.5 RRU) × {SWEEPER_RUNS_PER_MONTH:.0} runs a month ÷ {:.0} orders a month",
                a.orders_per_month
            ),
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB Streams",
            "GetRecords by the one Lambda trigger (filter included)",
            0.0,
            "read",
            Basis::Derived,
            "free for Lambda triggers",
            p::DYNAMODB_STREAMS_LAMBDA_READ,
        ),
    ]
}

fn messaging(o: &Observed, a: &Assumptions) -> Vec<Line> {
    let batches = o.queue_sends / a.sqs_messages_per_batch.max(1.0);
    let bus_events = 1.0 + o.completed + o.failed;
    vec![
        line(
            "SQS",
            "SendMessage",
            o.queue_sends,
            "request",
            Basis::Counted,
            "rows inserted into the local OrdersQueue",
            p::SQS_REQUEST,
        ),
        line(
            "SQS",
            "ReceiveMessage + DeleteMessageBatch (event source mapping)",
            2.0 * batches,
            "request",
            Basis::Derived,
            &format!(
                "one of each per batch of {} (empty long polls are a fixed monthly cost)",
                a.sqs_messages_per_batch
            ),
            p::SQS_REQUEST,
        ),
        line(
            "SNS",
            "publishes (order received, confirmations, failure notices, alarms)",
            o.publishes,
            "publish",
            Basis::Counted,
            "outbox emails (mbox messages), all topics",
            p::SNS_PUBLISH,
        ),
        line(
            "SNS",
            "email deliveries",
            o.publishes * a.email_subscribers,
            "email",
            Basis::Counted,
            &format!("one per publish × {} subscription", a.email_subscribers),
            p::SNS_EMAIL,
        ),
        line(
            "EventBridge",
            "PutEvents entries (OrderPlaced, OrderCompleted, OrderFailed)",
            bus_events,
            "event",
            Basis::Counted,
            "each order's OrderPlaced and terminal event in the log; rule delivery to Lambda is free",
            p::EVENTBRIDGE_EVENT,
        ),
    ]
}

fn observability(
    o: &Observed,
    a: &Assumptions,
    api_requests: f64,
    fns: &[super::model::FunctionUse],
) -> Vec<Line> {
    // Where a trace starts. Each API request, sampled by the template's ApiTraceSamplingRule
    // (no reservoir, `xray_sample_rate`): an order's POST decides its trace, which the rest of
    // the order joins (the SQS message carries the invocation's trace header to
    // start-order-processing, StartExecution passes it on, shared/aws workflow, and the task
    // functions join their execution's). The stream consumer and the rules' handlers trace
    // PassThrough: their events have no sampled caller, so they start none. The sweeper's
    // schedule starts one trace a run, and Lambda's own sampling (the first each second) keeps
    // every one of a run a minute.
    let sweeper_runs: f64 = fns
        .iter()
        .filter(|f| f.name == "order-sweeper")
        .map(|f| f.invocations)
        .sum();
    let traces = api_requests * a.xray_sample_rate + sweeper_runs;
    // Logged at level ERROR: one TaskFailed per order that ends FAILED.
    let sfn_error_events = o.failed;
    let emf_bytes: f64 = fns
        .iter()
        .map(|f| f.invocations * o.emf_bytes.get(f.name).copied().unwrap_or(0.0))
        .sum();
    vec![
        line(
            "CloudWatch Logs",
            "Lambda application logs (JSON, INFO)",
            o.log_bytes / GB,
            "GB",
            Basis::Counted,
            &format!("{:.0} bytes per order in the local run", o.log_bytes),
            p::CLOUDWATCH_LOGS_GB,
        ),
        line(
            "CloudWatch Logs",
            "Lambda EMF metric lines (one flush per invocation)",
            emf_bytes / GB,
            "GB",
            Basis::Derived,
            &format!(
                "{emf_bytes:.0} bytes per order: each function's flush measured from the EMF recorder on its code path's metric calls × its invocations"
            ),
            p::CLOUDWATCH_LOGS_GB,
        ),
        line(
            "CloudWatch Logs",
            "Step Functions execution logs (level ERROR)",
            sfn_error_events * a.sfn_log_bytes_per_event / GB,
            "GB",
            Basis::Assumed,
            &format!(
                "{sfn_error_events:.3} TaskFailed per order (orders ending FAILED) × {} bytes",
                a.sfn_log_bytes_per_event
            ),
            p::CLOUDWATCH_LOGS_GB,
        ),
        line(
            "CloudWatch Logs",
            "API Gateway access logs",
            api_requests * a.access_log_bytes / GB,
            "GB",
            Basis::Assumed,
            &format!("{} bytes per request", a.access_log_bytes),
            p::CLOUDWATCH_LOGS_GB,
        ),
        line(
            "X-Ray",
            "traces recorded (an order is one trace, decided by the API's sampling)",
            traces,
            "trace",
            Basis::Assumed,
            &format!(
                "{api_requests:.1} API requests × {:.0} % (ApiTraceSamplingRule; the rest of an \
                 order joins its POST's trace) + {sweeper_runs:.3} sweeper runs, each traced",
                a.xray_sample_rate * 100.0
            ),
            p::XRAY_TRACE,
        ),
    ]
}
