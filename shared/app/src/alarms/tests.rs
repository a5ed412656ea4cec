use std::time::Duration;

use super::*;

fn def(name: &str) -> AlarmDefinition {
    definitions()
        .into_iter()
        .find(|d| d.name == name)
        .expect("defined")
}

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// OrdersQueueDepth: 3 of 3 periods above 10. Two breaching minutes are not enough; the third
/// is; one good minute clears it; no transition is reported while the state holds.
#[test]
fn m_of_n_needs_every_period_of_three_of_three() {
    let mut a = Alarm::new(def("OrdersQueueDepth"), at(0));
    assert_eq!(a.state, AlarmState::InsufficientData);
    let t = a
        .evaluate(&[Some(11.0), Some(12.0)], at(1))
        .expect("leaves INSUFFICIENT_DATA");
    assert_eq!(
        (t.from, t.to),
        (AlarmState::InsufficientData, AlarmState::Ok)
    );
    assert!(!notifies(&t), "the start-up move to OK sends nothing");
    let t = a
        .evaluate(&[Some(11.0), Some(12.0), Some(13.0)], at(2))
        .expect("three of three");
    assert_eq!(t.to, AlarmState::Alarm);
    assert!(notifies(&t));
    assert!(t.reason.contains("3 out of the last 3"), "{}", t.reason);
    assert_eq!(a.since, at(2));
    assert!(
        a.evaluate(&[Some(12.0), Some(13.0), Some(20.0)], at(3))
            .is_none()
    );
    let t = a
        .evaluate(&[Some(13.0), Some(20.0), Some(10.0)], at(4))
        .expect("10 is not above 10");
    assert_eq!((t.from, t.to), (AlarmState::Alarm, AlarmState::Ok));
    assert!(notifies(&t));
}

/// OrderLatencyP99: 3 of 5. Breaches need not be consecutive.
#[test]
fn three_of_five_counts_breaches_anywhere_in_the_range() {
    let mut a = Alarm::new(def("OrderLatencyP99"), at(0));
    let points = [Some(31.0), Some(1.0), Some(40.0), None, Some(31.0)];
    assert_eq!(
        a.evaluate(&points, at(1)).map(|t| t.to),
        Some(AlarmState::Alarm)
    );
    let points = [Some(1.0), Some(40.0), None, Some(31.0), Some(2.0)];
    assert_eq!(
        a.evaluate(&points, at(2)).map(|t| t.to),
        Some(AlarmState::Ok)
    );
}

/// notBreaching: missing datapoints count as good, so an idle pipeline is OK (not
/// INSUFFICIENT_DATA) and an alarm in ALARM clears when its data stops.
#[test]
fn missing_data_as_not_breaching_is_ok() {
    let mut a = Alarm::new(def("OrdersDeadLetterQueue"), at(0));
    assert_eq!(
        a.evaluate(&[None], at(1)).map(|t| t.to),
        Some(AlarmState::Ok)
    );
    assert_eq!(
        a.evaluate(&[Some(1.0)], at(2)).map(|t| t.to),
        Some(AlarmState::Alarm)
    );
    assert_eq!(
        a.evaluate(&[None], at(3)).map(|t| t.to),
        Some(AlarmState::Ok)
    );
    let mut queue = Alarm::new(def("OrdersQueueDepth"), at(0));
    queue.evaluate(&[Some(11.0), Some(11.0), Some(11.0)], at(1));
    assert_eq!(queue.state, AlarmState::Alarm);
    let t = queue.evaluate(&[Some(11.0), Some(11.0), None], at(2));
    assert_eq!(
        t.map(|t| t.to),
        Some(AlarmState::Ok),
        "a missing minute breaks 3 of 3"
    );
}

/// The other treatments: `missing` gives INSUFFICIENT_DATA, `ignore` keeps the state,
/// `breaching` counts a gap as a breach.
#[test]
fn the_other_missing_data_treatments() {
    let with = |treat_missing| AlarmDefinition {
        treat_missing,
        ..def("OrdersQueueDepth")
    };
    let mut a = Alarm::new(with(TreatMissing::Missing), at(0));
    a.evaluate(&[Some(1.0), Some(1.0), Some(1.0)], at(1));
    assert_eq!(a.state, AlarmState::Ok);
    let t = a.evaluate(&[None, None, None], at(2));
    assert_eq!(t.map(|t| t.to), Some(AlarmState::InsufficientData));
    let mut a = Alarm::new(with(TreatMissing::Ignore), at(0));
    a.evaluate(&[Some(11.0), Some(11.0), Some(11.0)], at(1));
    assert!(a.evaluate(&[None, None, None], at(2)).is_none());
    assert_eq!(a.state, AlarmState::Alarm);
    let mut a = Alarm::new(with(TreatMissing::Breaching), at(0));
    let t = a.evaluate(&[Some(11.0), None, Some(11.0)], at(1));
    assert_eq!(t.map(|t| t.to), Some(AlarmState::Alarm));
}

fn sample(ms: u64) -> Sample {
    Sample {
        at: at(ms),
        placed: 0,
        completed: 0,
        failed: 0,
        latency: vec![0; LATENCY_BUCKETS_LEN],
        queue_visible: None,
        dead_letters: None,
        projection_lag: None,
    }
}

const LATENCY_BUCKETS_LEN: usize = crate::metrics::LATENCY_BUCKETS.len() + 1;

/// A period's datapoint is its samples' maximum (gauges) or the ratio of its sums (failure
/// rate); a period without samples is missing.
#[test]
fn datapoints_reduce_each_period_by_its_statistic() {
    let queue = def("OrdersQueueDepth").scaled(1.0 / 60.0); // 1 s periods
    assert_eq!(queue.period, Duration::from_secs(1));
    let mut s = Vec::new();
    for (ms, depth) in [(1_500, 3), (1_900, 12), (2_400, 7)] {
        s.push(Sample {
            queue_visible: Some(depth),
            ..sample(ms)
        });
    }
    assert_eq!(
        datapoints(&queue, &s, at(3_000)),
        vec![None, Some(12.0), Some(7.0)],
        "periods (0,1], (1,2], (2,3] seconds"
    );
    let rate = def("OrderFailureRate").scaled(1.0 / 300.0);
    s[0].completed = 3;
    s[1].failed = 1;
    assert_eq!(datapoints(&rate, &s, at(2_000)), vec![Some(25.0)]);
    assert_eq!(
        datapoints(&rate, &s, at(3_000)),
        vec![None],
        "nothing ended"
    );
}

/// p99 of bucket counts interpolates within the bucket (as `histogram_quantile`); no orders
/// ended means no datapoint.
#[test]
fn latency_quantiles_from_bucket_counts() {
    let mut s = sample(1);
    assert_eq!(s.latency_quantile(0.99), None);
    s.latency[1] = 100; // (0.005, 0.01]
    let p50 = s.latency_quantile(0.5).unwrap();
    assert!((p50 - 0.0075).abs() < 1e-9, "{p50}");
    s.latency[LATENCY_BUCKETS_LEN - 1] = 100; // overflow
    assert_eq!(s.latency_quantile(0.99), Some(300.0));
}

/// One email per change, with a dedup id of (alarm, state, time): a redelivered publish of
/// the same transition is the same notification.
#[test]
fn a_transition_is_one_deduplicated_email() {
    let mut a = Alarm::new(def("OrdersDeadLetterQueue"), at(0));
    let t = a.evaluate(&[Some(2.0)], at(5_000)).unwrap();
    let n = notification(&t);
    assert_eq!(n, notification(&t));
    assert_eq!(n.dedup_id, "alarm-OrdersDeadLetterQueue-ALARM-5000");
    assert!(
        n.subject
            .starts_with("ALARM: \"OrdersDeadLetterQueue\" (was INSUFFICIENT_DATA)")
    );
    assert!(n.body.contains("1 out of the last 1"), "{}", n.body);
}
