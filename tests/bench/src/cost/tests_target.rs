//! The target's basis (without the email deliveries), the EMF metric lines, and the
//! projector's runs.

use super::lines::lines;
use super::model::Assumptions;
use super::prices as p;
use super::report::{TARGET_FRACTION, Totals};
use super::tests::{close, cost_of, one_completed_order};

#[test]
fn the_target_leaves_the_email_out_of_both_sides() {
    let o = one_completed_order();
    let l = lines(&o, &Assumptions::default());
    let t = Totals::of(&l);
    assert!(close(t.email, cost_of(&l, "email deliveries")));
    assert!(t.ratio_without_email() < t.ratio || t.email == 0.0);
    assert!(close(
        t.express_without_email_max(),
        TARGET_FRACTION * (t.standard - t.email)
    ));
}

#[test]
fn emf_bytes_are_each_functions_flush_times_its_invocations() {
    let mut o = one_completed_order();
    let a = Assumptions::default();
    assert!(close(cost_of(&lines(&o, &a), "EMF metric lines"), 0.0));
    o.emf_bytes = [
        ("order-placement (POST)", 300.0),
        ("event-projector", 100.0),
    ]
    .into();
    // One POST, and one projector invocation per run (4 order + 1 product, batches of 1).
    let gb = (300.0 + 5.0 * 100.0) / (1024.0 * 1024.0 * 1024.0);
    assert!(close(
        cost_of(&lines(&o, &a), "EMF metric lines"),
        gb * p::CLOUDWATCH_LOGS_GB * 1e6
    ));
}

/// The recorder is measured for real: a placement flushes its counter, a GET nothing that
/// counts, and a completing task more than a task that only appends.
#[test]
fn emf_bytes_are_measured_from_the_lambdas_recorder() {
    let o = one_completed_order();
    let bytes = super::emf::PathBytes::measure()
        .expect("no other recorder in this test binary")
        .per_function(&o);
    let of = |name: &str| bytes[name];
    assert!(of("order-placement (POST)") > 0.0);
    assert!(of("update-inventory") > of("validate-order"));
    assert!(of("order-success-handler") > 0.0);
    assert!(of("event-projector") > 0.0);
    for f in super::model::functions(&o, &Assumptions::default()) {
        assert!(
            bytes.contains_key(f.name),
            "{} has no EMF measurement",
            f.name
        );
    }
}

#[test]
fn an_appends_records_of_one_stream_are_read_and_written_once() {
    let mut o = one_completed_order();
    let a = Assumptions::default();
    let four = cost_of(&lines(&o, &a), "order-status view puts");
    assert!(close(four, 4.0 * p::DYNAMODB_WRU * 1e6));
    // More events in the same appends: no more view puts or reads.
    o.order_events = 9.0;
    assert!(close(
        cost_of(&lines(&o, &a), "order-status view puts"),
        four
    ));
    // The projector reads no view (the first run folds from nothing, the later ones start
    // from the view it remembers): only the one GET poll.
    assert!(close(
        cost_of(&lines(&o, &a), "view GetItems"),
        p::DYNAMODB_RRU * 1e6
    ));
}
