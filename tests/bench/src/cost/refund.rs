//! One refund, priced: what a partial return (issue 14) makes each AWS service do, from the
//! request to the refund's email, per million refunds.
//!
//! Nothing here is counted from a run of refunds: the refund's path is **derived** from the code
//! it takes on AWS and from its state machine's definition, whose path is found by running the
//! definition itself with the project's interpreter ([`issued_path`]), so a state added to
//! `refund-processing.asl.json` changes the price here. Sizes the order run counted (an order's
//! status view, its stream) are reused for the same items.
//!
//! The path priced: `POST /orders/{id}/refunds` (order-placement: the order's stream, one
//! conditional PutItem of RefundRequested) → the stream's one reader (both views, RefundRequested
//! and RefundIssued put on the bus) → RefundRequestedRule starts RefundProcessingStateMachine →
//! ProcessRefund (the order's stream, the heads of the order and of each restocked product, one
//! TransactWriteItems of RefundIssued and the StockAdded) → Succeed; RefundIssued's email through
//! OrderUpdateRule, priced as the confirmation is. The gateway answers at once (a refund the
//! gateway refuses first adds ProcessRefund's retries).

use std::collections::BTreeMap;
use std::sync::Mutex;

use order_app::dispatch::{TaskFunction, Workflow};
use order_workflow::{ExecutionContext, RunOptions, TaskFailure, TaskInvoker, Transition};
use serde_json::{Value, json};

use super::lines::line;
use super::model::{Assumptions, Basis, FunctionUse, Line, Observed, Workflow as Type};
use super::prices as p;

/// The refund state machine's path when the gateway refunds at once.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundPath {
    /// States executed (Standard bills one transition each).
    pub states: f64,
    /// Invocations of each task function, by its deployed name.
    pub tasks: BTreeMap<&'static str, f64>,
}

/// Answers each task as the refund tasks answer an issued refund, and counts the calls.
#[derive(Default)]
struct Issued {
    calls: Mutex<BTreeMap<&'static str, f64>>,
}

impl TaskInvoker for Issued {
    async fn invoke(&self, _resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let arn = input["FunctionName"].as_str().unwrap_or_default();
        let task = TaskFunction::ALL
            .into_iter()
            .find(|f| arn.ends_with(&format!(":{}", f.function_name())))
            .ok_or_else(|| TaskFailure::new("Lambda.ResourceNotFoundException", arn))?;
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(task.function_name()).or_default() += 1.0;
        }
        let refund_id = input["Payload"]["refundId"].clone();
        Ok(json!({ "Payload": { "status": "ISSUED", "refundId": refund_id } }))
    }
}

/// Runs the refund definition (as the local runner parses it) on a refund the gateway makes at
/// once, and reports the states it executed and the tasks it invoked.
///
/// # Errors
/// When the definition does not parse, or its run does not succeed.
pub async fn issued_path() -> anyhow::Result<RefundPath> {
    let machine = order_runtime::workflow::parse(Workflow::RefundProcessing)?;
    let ctx = ExecutionContext {
        execution_id: "arn:aws:states:local:000000000000:execution:cost:R1".into(),
        execution_name: "cost-R1".into(),
        state_machine_name: Workflow::RefundProcessing.name().into(),
        start_time: "2026-12-01T00:00:00Z".into(),
    };
    let invoker = Issued::default();
    let mut states = 0.0;
    let end = order_workflow::run(
        &machine,
        json!({ "orderId": "cost", "refundId": "cost-R1" }),
        &ctx,
        &invoker,
        &RunOptions {
            interval_scale: 0.0,
        },
        |_, _| states += 1.0,
    )
    .await;
    anyhow::ensure!(
        matches!(end, Transition::Succeeded { .. }),
        "the refund definition does not succeed on an issued refund: {end:?}"
    );
    let tasks = invoker.calls.into_inner().unwrap_or_default();
    Ok(RefundPath { states, tasks })
}

/// The functions one refund invokes.
pub fn functions(path: &RefundPath, a: &Assumptions) -> Vec<FunctionUse> {
    let lines = a.refund_lines;
    // RefundRequested and RefundIssued on the order's stream, a StockAdded per restocked line.
    let events = 2.0 + lines;
    let projector = events / a.stream_records_per_invocation.max(1.0);
    let task = |name: &str| path.tasks.get(name).copied().unwrap_or(0.0);
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
            "order-placement (POST refund)",
            512.0,
            1.0,
            2.0,
            Basis::Derived,
            "POST /orders/{id}/refunds; calls: Query of the order's stream, PutItem of RefundRequested",
        ),
        f(
            "process-refund",
            256.0,
            task("process-refund"),
            3.0,
            Basis::Derived,
            "the definition's path; calls: Query, product heads (in parallel), TransactWriteItems",
        ),
        f(
            "refund-failed",
            256.0,
            task("refund-failed"),
            2.0,
            Basis::Derived,
            "only when ProcessRefund's retries run out; calls: Query, PutItem",
        ),
        f(
            "event-projector",
            256.0,
            projector,
            // A view's run reads its row (the container has long forgotten it) and puts it; the
            // forwarder reads the order's stream for the customer, then puts the bus events;
            // the three side by side.
            super::model::projector_round_trips(events / projector.max(f64::EPSILON), 2.0, 2.0),
            Basis::Derived,
            "RefundRequested, RefundIssued and each StockAdded ÷ batch; calls: GetItem + PutItem per event on its view, and beside them the forwarder's Query of the order's stream (the customer) and PutEvents for the two refund events",
        ),
        f(
            "order-update-handler",
            256.0,
            1.0,
            5.0,
            Basis::Assumed,
            "the refund email (OrderUpdateRule on RefundIssued), priced as the confirmation; calls: Query, dedup claim, the customer's key (GetItem), Publish, dedup mark",
        ),
    ]
}

/// Every priced line of one refund (quantities per refund; `usd_per_million_orders` reads as
/// per million refunds). `o` gives the sizes the order run counted.
#[allow(clippy::too_many_lines)] // one entry per billed item: a table, not logic
pub fn lines(path: &RefundPath, o: &Observed, a: &Assumptions) -> Vec<Line> {
    let fns = functions(path, a);
    let lines = a.refund_lines;
    let invocations: f64 = fns.iter().map(|f| f.invocations).sum();
    let gb_seconds: f64 = fns.iter().map(|f| f.gb_seconds(a)).sum();
    let task_ms: f64 = fns
        .iter()
        .filter(|f| matches!(f.name, "process-refund" | "refund-failed"))
        .map(|f| f.invocations * f.billed_ms(a))
        .sum();
    let billed_s = ((task_ms + path.states * a.state_overhead_ms) / 100.0).ceil() * 0.1;
    let memory_gb = (a.express_memory_mb / 64.0).ceil() * 64.0 / 1024.0;
    let mut standard = line(
        "Step Functions",
        "Standard: state transitions",
        path.states,
        "transition",
        Basis::Derived,
        "states of the refund definition's path when the gateway refunds at once (run by the interpreter)",
        p::SFN_STANDARD_TRANSITION,
    );
    standard.only = Some(Type::Standard);
    let mut requests = line(
        "Step Functions",
        "Express: requests",
        1.0,
        "request",
        Basis::Derived,
        "one execution per refund (RefundRequestedRule)",
        p::SFN_EXPRESS_REQUEST,
    );
    requests.only = Some(Type::Express);
    let mut duration = line(
        "Step Functions",
        "Express: duration",
        billed_s * memory_gb,
        "GB-s",
        Basis::Assumed,
        &format!(
            "{billed_s:.1} s billed (ProcessRefund + {} ms per state), {} MB",
            a.state_overhead_ms,
            memory_gb * 1024.0
        ),
        p::SFN_EXPRESS_GB_SECOND,
    );
    duration.only = Some(Type::Express);
    // Per refund, on the events table: one conditional PutItem (RefundRequested) and one
    // transaction of RefundIssued with each restocked product's StockAdded (events under 1 KB).
    let transaction_items = 1.0 + lines;
    let log_bytes_per_invocation = if o.log_bytes > 0.0 {
        o.log_bytes
            / super::model::functions(o, a)
                .iter()
                .map(|f| f.invocations)
                .sum::<f64>()
    } else {
        0.0
    };
    let gb = 1024.0 * 1024.0 * 1024.0;
    vec![
        line(
            "API Gateway",
            "REST request (POST /orders/{id}/refunds)",
            1.0,
            "request",
            Basis::Derived,
            "one per refund",
            p::API_GATEWAY_REST_REQUEST,
        ),
        line(
            "Lambda",
            &format!("invocations ({} functions)", fns.len()),
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
        standard,
        requests,
        duration,
        line(
            "DynamoDB",
            "events: RefundRequested (conditional PutItem)",
            1.0,
            "WRU",
            Basis::Derived,
            "one append of one event under 1 KB",
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "events: RefundIssued + StockAdded (TransactWriteItems)",
            2.0 * transaction_items,
            "WRU",
            Basis::Derived,
            &format!("{transaction_items:.0} items × 2 WRU (a return of {lines:.0} line)"),
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "order-status and inventory view puts",
            2.0 * o.order_view_wru + lines,
            "WRU",
            Basis::Derived,
            &format!(
                "two order events × {:.0} WRU (the order run's view size: a lower bound) + one per restocked line",
                o.order_view_wru
            ),
            p::DYNAMODB_WRU,
        ),
        // No line for the customers' listing index: it keeps the keys only, which a refund's
        // status puts leave as they are, so they write nothing there.
        line(
            "DynamoDB",
            "order-stream Queries and heads (strongly consistent)",
            4.0 * o.order_stream_rru + lines,
            "RRU",
            Basis::Derived,
            "the order's stream read by the route, by ProcessRefund and by the forwarder for each of the two refund events (their bus events name the customer), each restocked product's head (the order's is not read again)",
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB",
            "view GetItems (projector)",
            2.0 + lines,
            "RRU",
            Basis::Derived,
            "one per stream record applied",
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB",
            "refund email's dedup record (PENDING PutItem, SENT PutItem)",
            2.0,
            "WRU",
            Basis::Assumed,
            "as every publish (shared/aws dedup: the claim tried unread, no read)",
            p::DYNAMODB_WRU,
        ),
        line(
            "DynamoDB",
            "the customer's key for the refund email (consistent GetItem)",
            1.0,
            "RRU",
            Basis::Derived,
            "the handler's container has not met the customer within its one-minute key cache (cost::keys)",
            p::DYNAMODB_RRU,
        ),
        line(
            "EventBridge",
            "PutEvents entries (RefundRequested, RefundIssued)",
            2.0,
            "event",
            Basis::Derived,
            "the two refund events the projector forwards; delivery to the state machine and the handler is free",
            p::EVENTBRIDGE_EVENT,
        ),
        line(
            "SNS",
            "publish (the refund email)",
            1.0,
            "publish",
            Basis::Assumed,
            "one per RefundIssued",
            p::SNS_PUBLISH,
        ),
        line(
            "SNS",
            "email delivery",
            a.email_subscribers,
            "email",
            Basis::Assumed,
            &format!("one per publish × {} subscription", a.email_subscribers),
            p::SNS_EMAIL,
        ),
        line(
            "CloudWatch Logs",
            "Lambda application logs and the API access log",
            (invocations * log_bytes_per_invocation + a.access_log_bytes) / gb,
            "GB",
            Basis::Derived,
            &format!(
                "{log_bytes_per_invocation:.0} bytes per invocation (the order run's) + {} bytes of access log",
                a.access_log_bytes
            ),
            p::CLOUDWATCH_LOGS_GB,
        ),
        line(
            "X-Ray",
            "traces recorded",
            a.xray_sample_rate + 1.0,
            "trace",
            Basis::Assumed,
            &format!(
                "the request × {:.0} % (ApiTraceSamplingRule), and the execution as a trace \
                 of its own: RefundRequestedRule starts it from the stream consumer's event \
                 (no sampled caller), and the default rule's reservoir (the first each \
                 second) keeps nearly every one at this volume (an upper bound); the handler \
                 traces PassThrough",
                a.xray_sample_rate * 100.0
            ),
            p::XRAY_TRACE,
        ),
    ]
}
