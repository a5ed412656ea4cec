//! The cost model's arithmetic.

use super::count::{Counts, Kind, kind_of};
use super::json::to_json;
use super::lines::lines;
use super::model::{
    Assumptions, Basis, FunctionUse, Observed, Workflow, consistent_read_rru,
    express_billed_seconds, put_wru, total, transact_wru,
};
use super::prices as p;
use super::report::{TARGET_FRACTION, Totals};

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A completed order's counts, round numbers.
pub(super) fn one_completed_order() -> Observed {
    Observed {
        orders: 1,
        posts: 1.0,
        lines: 1.0,
        executions: 1.0,
        transitions: 4.0,
        order_events: 5.0,
        product_events: 1.0,
        // InventoryReserved and OrderCompleted are one append (with the StockReserved).
        order_runs: 4.0,
        product_runs: 1.0,
        validated: 1.0,
        captured: 1.0,
        completed: 1.0,
        failed: 0.0,
        event_puts: 3.0,
        event_put_wru: 3.0,
        event_transactions: 1.0,
        event_transact_wru: 6.0,
        order_stream_rru: 1.0,
        order_view_wru: 1.0,
        queue_sends: 1.0,
        new_keys: 1.0,
        publishes: 1.0,
        log_bytes: 0.0,
        emf_bytes: std::collections::BTreeMap::new(),
    }
}

pub(super) fn cost_of(lines: &[super::model::Line], item: &str) -> f64 {
    lines
        .iter()
        .filter(|l| l.item.contains(item))
        .map(super::model::Line::usd_per_million_orders)
        .sum()
}

#[test]
fn a_single_event_put_costs_one_write_unit_per_started_kilobyte() {
    assert_eq!(put_wru(1), 1);
    assert_eq!(put_wru(1024), 1);
    assert_eq!(put_wru(1025), 2);
    assert_eq!(put_wru(0), 1);
}

#[test]
fn a_transaction_costs_two_write_units_per_item_kilobyte() {
    assert_eq!(transact_wru(&[500, 700, 1500]), 2 + 2 + 4);
    assert_eq!(transact_wru(&[]), 0);
}

#[test]
fn a_strongly_consistent_read_costs_one_unit_per_four_kilobytes_and_at_least_one() {
    assert_eq!(consistent_read_rru(0), 1);
    assert_eq!(consistent_read_rru(4096), 1);
    assert_eq!(consistent_read_rru(4097), 2);
}

#[test]
fn lambda_duration_is_billed_per_started_millisecond_in_gigabyte_seconds() {
    let a = Assumptions {
        call_ms: 7.5,
        cpu_ms: 1.2,
        ..Assumptions::default()
    };
    let f = FunctionUse {
        name: "f",
        memory_mb: 512.0,
        invocations: 2.0,
        calls_per_invocation: 2.0,
        basis: Basis::Derived,
        how: "",
    };
    assert!(close(f.billed_ms(&a), 17.0)); // 16.2 ms → 17
    assert!(close(f.gb_seconds(&a), 2.0 * 0.017 * 0.5));
}

#[test]
fn an_express_execution_is_billed_in_steps_of_100_ms() {
    let a = Assumptions {
        call_ms: 8.0,
        cpu_ms: 3.0,
        state_overhead_ms: 20.0,
        ..Assumptions::default()
    };
    // Tasks: validate 4 calls (35 ms), pay 3 (27), reserve 3 (27) = 89 ms; 4 states × 20 = 80.
    assert!(close(
        express_billed_seconds(&one_completed_order(), &a),
        0.2
    ));
}

#[test]
fn standard_pays_per_transition_and_express_per_request_and_duration() {
    let o = one_completed_order();
    let l = lines(&o, &Assumptions::default());
    assert!(close(
        cost_of(&l, "Standard: state transitions"),
        4.0 * 25.0
    ));
    assert!(close(cost_of(&l, "Express: requests"), 1.0));
    // 0.2 s × 64 MB × $0.00001667 per GB-s × a million.
    assert!(close(
        cost_of(&l, "Express: duration"),
        0.2 * 0.0625 * p::SFN_EXPRESS_GB_SECOND * 1e6
    ));
}

#[test]
fn one_email_per_order_costs_twenty_dollars_a_million() {
    let o = one_completed_order();
    let l = lines(&o, &Assumptions::default());
    assert!(close(cost_of(&l, "email deliveries"), 20.0));
    assert!(close(cost_of(&l, "publishes"), 0.5));
}

#[test]
fn the_totals_differ_only_by_the_workflow_lines() {
    let o = one_completed_order();
    let l = lines(&o, &Assumptions::default());
    let express = total(&l, Workflow::Express);
    let standard = total(&l, Workflow::Standard);
    let express_only = cost_of(&l, "Express:");
    assert!(close(standard - express, 100.0 - express_only));
}

#[test]
fn dynamodb_writes_add_events_idempotency_views_and_the_index() {
    let o = one_completed_order();
    let l = lines(&o, &Assumptions::default());
    let wru: f64 = l
        .iter()
        .filter(|x| x.unit == "WRU")
        .map(|x| x.quantity)
        .sum();
    // events 3 + 6, idempotency 2, status views 4 (one per order-stream append) and the
    // order's one entry in the customers' listing index (keys only: the later puts keep
    // them), sparse index 1 in + 1 out, inventory view 1, the confirmation's dedup record 2
    // (PENDING, then SENT), the new customer's key 2 in a transaction with the OrderPlaced,
    // which costs 1 more there.
    assert!(close(wru, 24.0));
    assert!(close(
        l.iter()
            .filter(|x| x.unit == "WRU")
            .map(super::model::Line::usd_per_million_orders)
            .sum::<f64>(),
        24.0 * 0.625
    ));
}

#[test]
fn every_open_reads_the_customers_key_and_kms_is_paid_per_container_not_per_open() {
    // The POST (a new customer: GetItem, then the key in the OrderPlaced's transaction), the payment, the confirmation and the
    // order-received email (each a GetItem); the key is wrapped and unwrapped in the function.
    let new = one_completed_order();
    let a = Assumptions::default();
    let l = lines(&new, &a);
    assert!(close(cost_of(&l, "GenerateDataKey"), 0.0));
    // Four key functions, a new container an hour each, a million orders in 720 hours.
    let starts = 4.0 * 720.0 / 1_000_000.0;
    assert!(close(cost_of(&l, "Decrypt"), starts * 3.0));
    assert!(close(
        cost_of(&l, "customer key reads"),
        (4.0 + starts) * 0.125
    ));
    assert!(close(cost_of(&l, "customer key writes"), 3.0 * 0.625));
    // A returning customer's POST writes no key; the KMS requests do not change.
    let returning = Observed {
        new_keys: 0.0,
        ..one_completed_order()
    };
    let l = lines(&returning, &a);
    assert!(close(cost_of(&l, "Decrypt"), starts * 3.0));
    assert!(close(cost_of(&l, "customer key writes"), 0.0));
    // A tenth of the orders over the same containers: ten times the Decrypts per order.
    let quiet = Assumptions {
        orders_per_month: 100_000.0,
        ..Assumptions::default()
    };
    let l = lines(&new, &quiet);
    assert!(close(cost_of(&l, "Decrypt"), 10.0 * starts * 3.0));
}

#[test]
fn batching_divides_the_invocations_of_batch_consumers() {
    let o = one_completed_order();
    let quiet = Assumptions::default();
    let busy = Assumptions {
        stream_records_per_invocation: 3.0,
        ..Assumptions::default()
    };
    let invocations = |a: &Assumptions| -> f64 {
        super::model::functions(&o, a)
            .iter()
            .filter(|f| f.name == "event-projector")
            .map(|f| f.invocations)
            .sum()
    };
    // Four order-stream appends and one product-stream append (five runs), all read by the
    // stream's one reader.
    assert!(close(invocations(&quiet), 5.0));
    assert!(close(invocations(&busy), 5.0 / 3.0));
}

/// The projector's views and forwarder run side by side, a view's runs up to 16 at once: an
/// invocation waits for the longest, not for the sum of their calls.
#[test]
fn a_projector_invocation_waits_for_its_longest_part() {
    use super::model::projector_round_trips;
    // One run, put unread, beside one PutEvents: one round trip, not two.
    assert!(close(projector_round_trips(1.0, 1.0, 1.0), 1.0));
    // Sixteen runs are one wave, seventeen two.
    assert!(close(projector_round_trips(16.0, 1.0, 0.0), 1.0));
    assert!(close(projector_round_trips(17.0, 1.0, 0.0), 2.0));
    // A read and a put per run, against the forwarder's read and put.
    assert!(close(projector_round_trips(3.0, 2.0, 2.0), 2.0));
    assert!(close(projector_round_trips(1.0, 1.0, 3.0), 3.0));
    let o = one_completed_order();
    let projector = super::model::functions(&o, &Assumptions::default())
        .into_iter()
        .find(|f| f.name == "event-projector")
        .unwrap();
    assert!(close(projector.calls_per_invocation, 1.0));
}

#[test]
fn every_line_says_how_it_was_obtained_and_has_a_price() {
    let l = lines(&one_completed_order(), &Assumptions::default());
    for x in &l {
        assert!(!x.how.is_empty(), "{} has no explanation", x.item);
        assert!(
            x.unit_price > 0.0 || x.service == "DynamoDB Streams",
            "{}",
            x.item
        );
    }
}

#[test]
fn the_order_mix_is_eight_completed_one_declined_one_scarce_in_ten() {
    let kinds: Vec<Kind> = (0..10).map(kind_of).collect();
    assert_eq!(kinds.iter().filter(|&&k| k == Kind::Completes).count(), 8);
    assert_eq!(kinds.iter().filter(|&&k| k == Kind::Declined).count(), 1);
    assert_eq!(kinds.iter().filter(|&&k| k == Kind::Scarce).count(), 1);
}

fn invocations_of(o: &Observed, name: &str) -> f64 {
    super::model::functions(o, &Assumptions::default())
        .iter()
        .filter(|f| f.name == name)
        .map(|f| f.invocations)
        .sum()
}

#[test]
fn the_sparse_sweep_index_costs_two_writes_per_order_however_many_status_puts() {
    let mut o = one_completed_order();
    let short = cost_of(&lines(&o, &Assumptions::default()), "sweep index");
    o.order_events = 9.0;
    let long = cost_of(&lines(&o, &Assumptions::default()), "sweep index");
    assert!(close(short, 2.0 * 0.625));
    assert!(close(long, short));
}

/// GET /orders's index (`byCustomerKeys`) keeps the keys only, which no status put after the
/// first changes: one entry an order, however many puts its view takes, and whatever its size.
#[test]
fn the_customers_listing_index_is_written_once_an_order_whatever_its_puts() {
    let mut o = one_completed_order();
    let a = Assumptions::default();
    let entries = cost_of(&lines(&o, &a), "byCustomerKeys index entries");
    assert!(close(entries, p::DYNAMODB_WRU * 1e6));
    assert!(close(
        cost_of(&lines(&o, &a), "order-status view puts"),
        4.0 * entries
    ));
    o.order_view_wru = 2.0;
    o.order_runs = 9.0;
    assert!(close(
        cost_of(&lines(&o, &a), "byCustomerKeys index entries"),
        entries
    ));
}

#[test]
fn the_stream_has_one_reader_invoked_for_every_run() {
    let o = one_completed_order();
    assert!(close(invocations_of(&o, "event-projector"), 5.0));
    assert!(close(invocations_of(&o, "order-failure-handler"), 0.0));
    assert!(close(invocations_of(&o, "order-success-handler"), 1.0));
    assert!(close(invocations_of(&o, "order-update-handler"), 1.0));
}

#[test]
fn step_functions_log_only_the_failed_task_of_an_order_that_fails() {
    let completed = one_completed_order();
    let l = lines(&completed, &Assumptions::default());
    assert!(close(cost_of(&l, "Step Functions execution logs"), 0.0));
    let failed = Observed {
        completed: 0.0,
        failed: 1.0,
        ..one_completed_order()
    };
    let l = lines(&failed, &Assumptions::default());
    let gb = 300.0 / (1024.0 * 1024.0 * 1024.0);
    assert!(close(
        cost_of(&l, "Step Functions execution logs"),
        gb * p::CLOUDWATCH_LOGS_GB * 1e6
    ));
}

#[test]
fn stream_consumers_start_no_traces() {
    let o = one_completed_order();
    let l = lines(&o, &Assumptions::default());
    // POST + GET at 5 % (the rest of the order joins the POST's trace; the rules' handlers,
    // like the stream consumer, start none), plus every sweeper run (43,200 a month over a
    // million orders).
    assert!(close(
        cost_of(&l, "traces recorded"),
        (2.0 * 0.05 + 0.0432) * p::XRAY_TRACE * 1e6
    ));
}

#[test]
fn the_non_email_budget_is_what_keeps_express_at_a_fifth_of_standard() {
    let o = one_completed_order();
    let l = lines(&o, &Assumptions::default());
    let t = Totals::of(&l);
    let budget = Totals::shared_non_email_budget(&l);
    let express_only = cost_of(&l, "Express:");
    let standard_only = cost_of(&l, "Standard:");
    // Shared lines at exactly the budget (plus the email) give a ratio of exactly 1/5.
    let shared = budget + t.email;
    assert!(close(
        (express_only + shared) / (standard_only + shared),
        TARGET_FRACTION
    ));
}

#[test]
fn the_json_report_is_one_line_with_the_keys_runners_read() {
    let order = one_completed_order();
    let a = Assumptions::default();
    let l = lines(&order, &a);
    let counts = Counts {
        orders: 1,
        accepted: 1,
        ..Counts::default()
    };
    let text = to_json(&counts, &order, &a, &l).to_string();
    assert!(!text.contains('\n'));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["orders"], 1);
    let number = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} is not a number"))
    };
    let t = Totals::of(&l);
    assert!(close(number("express_per_million"), t.express));
    assert!(close(number("standard_per_million"), t.standard));
    assert!(close(number("ratio"), t.express / t.standard));
    let services: f64 = v["services"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s["express"].as_f64().unwrap())
        .sum();
    assert!(close(services, t.express));
    assert!(close(number("express_without_email"), t.express - t.email));
    assert!(close(
        number("standard_without_email"),
        t.standard - t.email
    ));
    assert!(close(
        number("ratio_without_email"),
        (t.express - t.email) / (t.standard - t.email)
    ));
    assert_eq!(
        v["target_without_email_met"],
        (t.express - t.email) / (t.standard - t.email) <= TARGET_FRACTION
    );
}

#[test]
fn the_sweeper_is_a_fixed_monthly_cost_spread_over_the_orders() {
    let o = one_completed_order();
    let mut a = Assumptions::default();
    let at_a_million = cost_of(&lines(&o, &a), "order-sweeper Queries");
    // 32 Queries × 0.5 RRU × 43,200 runs ÷ 1,000,000 orders.
    assert!(close(
        at_a_million,
        0.5 * 32.0 * 43_200.0 / 1e6 * p::DYNAMODB_RRU * 1e6
    ));
    a.orders_per_month = 2_000_000.0;
    let at_two_million = cost_of(&lines(&o, &a), "order-sweeper Queries");
    assert!(close(at_two_million, at_a_million / 2.0));
    let runs = super::model::functions(&o, &a)
        .iter()
        .filter(|f| f.name == "order-sweeper")
        .map(|f| f.invocations)
        .sum::<f64>();
    assert!(close(runs, 43_200.0 / 2e6));
}

#[test]
fn every_publish_pays_for_its_dedup_record() {
    let mut o = one_completed_order();
    let one = cost_of(&lines(&o, &Assumptions::default()), "dedup records");
    assert!(close(one, 2.0 * p::DYNAMODB_WRU * 1e6));
    o.publishes = 3.0;
    let three = cost_of(&lines(&o, &Assumptions::default()), "dedup records");
    assert!(close(three, 3.0 * one));
    // The claim is tried unread: a first publish reads nothing.
    let reads = cost_of(&lines(&o, &Assumptions::default()), "dedup read");
    assert!(close(reads, 0.0));
}

/// The refund definition's path when the gateway refunds at once, as the interpreter runs it.
#[tokio::test]
async fn an_issued_refund_executes_two_states_and_invokes_process_refund_once() {
    let path = super::refund::issued_path().await.unwrap();
    assert!(close(path.states, 2.0), "ProcessRefund, RefundIssued");
    assert_eq!(
        path.tasks,
        std::collections::BTreeMap::from([("process-refund", 1.0)])
    );
}

/// One refund is priced from its transitions, invocations, writes and bus events: on Express
/// one request and no transition, on Standard the definition's two transitions; a return of
/// two lines writes and restocks one more product than a return of one.
#[tokio::test]
async fn one_refund_prices_its_state_machine_lambdas_writes_and_bus_events() {
    use super::refund::{functions, lines as refund_lines};
    use super::refund_report::{to_json as refund_json, totals};

    let path = super::refund::issued_path().await.unwrap();
    let o = one_completed_order();
    let a = Assumptions::default();
    let l = refund_lines(&path, &o, &a);
    let quantity = |item: &str| -> f64 {
        l.iter()
            .filter(|x| x.item.contains(item))
            .map(|x| x.quantity)
            .sum()
    };
    assert!(close(quantity("Standard: state transitions"), 2.0));
    assert!(close(quantity("Express: requests"), 1.0));
    assert!(
        close(quantity("PutEvents"), 2.0),
        "RefundRequested, RefundIssued"
    );
    assert!(close(
        quantity("RefundRequested (conditional PutItem)"),
        1.0
    ));
    assert!(
        close(quantity("TransactWriteItems"), 4.0),
        "2 items × 2 WRU"
    );
    let invoked: f64 = functions(&path, &a).iter().map(|f| f.invocations).sum();
    assert!(close(quantity("invocations"), invoked));
    assert!(
        invoked >= 4.0,
        "the route, ProcessRefund, the projector and the email handler"
    );

    let (express, standard) = totals(&path, &o, &a);
    assert!(express > 0.0 && standard > 0.0);
    // Both pay the same shared lines; Standard adds the transitions, Express its request and
    // duration.
    let transitions = 2.0 * p::SFN_STANDARD_TRANSITION * 1e6;
    let express_only: f64 = l
        .iter()
        .filter(|x| x.only == Some(Workflow::Express))
        .map(super::model::Line::usd_per_million_orders)
        .sum();
    assert!(close(standard - transitions, express - express_only));
    let two = Assumptions {
        refund_lines: 2.0,
        ..Assumptions::default()
    };
    assert!(
        totals(&path, &o, &two).0 > express,
        "a bigger return costs more"
    );
    let json = refund_json(&path, &o, &a);
    assert!(close(
        json["express_per_million"].as_f64().unwrap(),
        express
    ));
    assert!(close(
        json["standard_per_million"].as_f64().unwrap(),
        standard
    ));
    assert!(close(json["states"].as_f64().unwrap(), 2.0));
}
