//! The adaptive limit on modelled backends, and its slots.

use super::*;

const MS: Duration = Duration::from_millis(1);

/// A backend that serves requests one at a time, each in `service`: a task waits behind
/// every other in flight, so its latency is `service` times the executions in flight.
fn saturated(service: Duration, in_flight: usize) -> Duration {
    service * u32::try_from(in_flight.max(1)).unwrap_or(u32::MAX)
}

/// `n` samples of `task`, with every slot in use (the limit binds); `took(i, in_use)` is
/// the `i`th sample's latency.
fn busy(c: &mut Control, task: &str, n: u32, took: impl Fn(u32, usize) -> Duration) {
    for i in 0..n {
        let in_use = c.limit();
        c.observe(task, took(i, in_use), in_use);
    }
}

#[test]
fn a_backend_whose_latency_does_not_grow_gets_the_whole_limit() {
    let mut c = Control::new(4, 256);
    // 10 ms give or take 1: DynamoDB's spread.
    busy(&mut c, "ValidateOrder", 5_000, |i, _| MS * (9 + i % 3));
    assert_eq!(c.limit(), 256);
}

#[test]
fn a_saturated_backend_brings_the_limit_down_near_its_floor_and_keeps_it_there() {
    let mut c = Control::new(4, 256);
    // First grown on a backend that was fast...
    busy(&mut c, "ProcessPayment", 2_000, |_, _| MS * 5);
    assert_eq!(c.limit(), 256);
    // ...which then saturates: every task waits behind all the others in flight.
    let mut limits = Vec::new();
    for _ in 0..2_000 {
        busy(&mut c, "ProcessPayment", 1, |_, in_use| {
            saturated(MS * 5, in_use)
        });
        limits.push(c.limit());
    }
    assert!(
        limits[1_000..].iter().all(|&l| l <= 9),
        "it stays where a task takes at most about twice what it takes at the floor: {:?}",
        &limits[1_000..1_040]
    );
}

#[test]
fn one_slow_task_does_not_cut_the_limit() {
    let mut c = Control::new(4, 64);
    busy(&mut c, "UpdateInventory", 500, |_, _| MS * 10);
    assert_eq!(c.limit(), 64);
    c.observe("UpdateInventory", MS * 40, 64);
    assert_eq!(c.limit(), 64, "a ratio of 4, smoothed, stays under the cut");
}

#[test]
fn the_limit_grows_only_while_it_binds() {
    let mut c = Control::new(4, 256);
    for _ in 0..1_000 {
        c.observe("ValidateOrder", MS * 10, 2);
    }
    assert_eq!(
        c.limit(),
        4,
        "two executions in four slots: no reason to grow"
    );
}

#[test]
fn each_task_is_judged_against_its_own_baseline() {
    let mut c = Control::new(4, 256);
    for _ in 0..1_500 {
        // A fast task and one that always takes five times as long: neither is queueing.
        busy(&mut c, "ValidateOrder", 1, |_, _| MS * 4);
        busy(&mut c, "UpdateInventory", 1, |_, _| MS * 20);
    }
    assert_eq!(c.limit(), 256);
}

#[test]
fn a_backend_that_got_slower_for_good_is_the_new_baseline_within_two_windows() {
    let mut c = Control::new(4, 256);
    busy(&mut c, "ValidateOrder", 1_000, |_, _| MS * 5);
    // Five times slower from here on, whatever the load: after two windows that is the
    // baseline, and the limit grows back.
    busy(&mut c, "ValidateOrder", 3 * WINDOW + 1_000, |_, _| MS * 25);
    assert_eq!(c.limit(), 256);
}

#[tokio::test]
async fn a_cut_below_the_slots_in_use_takes_their_permits_as_they_come_back() {
    let slots = Slots::new(Concurrency::Adaptive { min: 2, max: 8 });
    // Grown to 8, all in use.
    let mut held = Vec::new();
    for _ in 0..40 {
        while let Ok(Some(slot)) =
            tokio::time::timeout(Duration::from_millis(1), slots.acquire()).await
        {
            held.push(slot);
        }
        slots.observe("ValidateOrder", MS * 5);
    }
    assert_eq!(slots.limit(), Some(8));
    while held.len() < 8 {
        held.push(slots.acquire().await.unwrap());
    }
    // Saturated: cut to the floor while all eight are held.
    for _ in 0..200 {
        slots.observe("ValidateOrder", MS * 5 * 8);
    }
    assert_eq!(slots.limit(), Some(2));
    assert_eq!(slots.semaphore.available_permits(), 0);
    held.clear();
    assert_eq!(
        slots.semaphore.available_permits(),
        2,
        "six of the eight permits given back were forgotten"
    );
}

#[tokio::test(start_paused = true)]
async fn an_execution_that_hangs_gives_up_its_slot_after_the_hold() {
    let slots = Slots::new(Concurrency::Adaptive { min: 1, max: 1 });
    let first = slots.acquire().await.unwrap();
    let hung = tokio::spawn(holding(
        first,
        Box::pin(tokio::time::sleep(Duration::from_secs(30))),
    ));
    let started = tokio::time::Instant::now();
    let second = slots.acquire().await.unwrap();
    assert_eq!(
        started.elapsed(),
        HOLD,
        "the second waited for the hold, not the hang"
    );
    drop(second);
    assert!(!hung.is_finished());
    // A fixed number is held to the end, however long.
    let fixed = Slots::new(Concurrency::Fixed(1));
    let slot = fixed.acquire().await.unwrap();
    let long = tokio::spawn(holding(
        slot,
        Box::pin(tokio::time::sleep(Duration::from_secs(5))),
    ));
    let started = tokio::time::Instant::now();
    let _slot = fixed.acquire().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    long.await.unwrap();
}

#[tokio::test]
async fn a_fixed_number_never_moves() {
    let slots = Slots::new(Concurrency::Fixed(3));
    for _ in 0..100 {
        slots.observe("ValidateOrder", Duration::from_secs(1));
    }
    assert!(!slots.is_adaptive());
    assert_eq!(slots.semaphore.available_permits(), 3);
}
