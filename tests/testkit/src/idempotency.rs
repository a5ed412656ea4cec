//! The [`IdempotencyStore`] contract: claim, replay, mismatch, in-flight, lease expiry and
//! release, run against each adapter. Both adapters carry out the domain's `judge`, so these
//! cases check that each carries it out faithfully (and atomically) on its own storage.

use order_domain::ports::{Claim, IdempotencyStore};
use order_domain::{OrderId, Timestamp};

use crate::Fixture;

/// Every case of the idempotency contract as `#[tokio::test]`s in a module named `$backend`,
/// on the stores `$make` builds.
#[macro_export]
macro_rules! idempotency_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                idempotency,
                [
                    a_free_key_is_claimed_for_the_candidate_order_id,
                    a_key_in_flight_is_in_progress_for_the_time_its_lease_has_left,
                    a_claim_retried_after_its_answer_was_lost_still_holds_the_key,
                    a_take_over_retried_after_its_answer_was_lost_still_holds_the_key,
                    a_completed_key_replays_its_order_id,
                    a_key_reused_with_another_body_is_a_mismatch,
                    an_ended_lease_is_taken_over_keeping_its_order_id,
                    an_expired_completed_record_frees_the_key,
                    a_released_key_can_be_claimed_again_at_once_with_the_same_order_id,
                    completing_or_releasing_an_unknown_key_creates_nothing,
                    two_concurrent_claims_of_one_key_let_exactly_one_through,
                    an_attempt_whose_lease_was_taken_over_neither_completes_nor_releases_it,
                    an_attempt_whose_lease_ended_untaken_still_completes_it,
                    an_attempt_abandoned_past_the_retention_frees_the_key,
                ]
            );
        }
    };
}

const LEASE: u64 = 30_000;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// A moment a minute ago, so that leases taken then have ended now.
fn a_minute_ago() -> u64 {
    Timestamp::now().as_millis() - 60_000
}

async fn claim<S: IdempotencyStore>(s: &S, fingerprint: &str, now: u64) -> Claim {
    s.claim("k", fingerprint, OrderId::generate(), at(now), LEASE)
        .await
        .unwrap()
}

/// Key "k" claimed a minute ago (its lease ended) and taken over now by another attempt: the
/// first attempt's candidate (the record's order id), the taker's, and now in ms.
async fn taken_over<S: IdempotencyStore>(s: &S) -> (OrderId, OrderId, u64) {
    let first = OrderId::generate();
    s.claim("k", "f", first, at(a_minute_ago()), LEASE)
        .await
        .unwrap();
    let (taker, now) = (OrderId::generate(), Timestamp::now().as_millis());
    let took = s.claim("k", "f", taker, at(now), LEASE).await.unwrap();
    assert_eq!(took, Claim::Claimed { order_id: first }, "taken over");
    (first, taker, now)
}

pub async fn a_free_key_is_claimed_for_the_candidate_order_id<S: IdempotencyStore>(s: &Fixture<S>) {
    let id = OrderId::generate();
    let now = Timestamp::now();
    assert_eq!(
        s.claim("k", "f", id, now, LEASE).await.unwrap(),
        Claim::Claimed { order_id: id }
    );
    let other = OrderId::generate();
    assert_eq!(
        s.claim("another key", "f", other, now, LEASE)
            .await
            .unwrap(),
        Claim::Claimed { order_id: other }
    );
}

pub async fn a_key_in_flight_is_in_progress_for_the_time_its_lease_has_left<S: IdempotencyStore>(
    s: &Fixture<S>,
) {
    let t0 = Timestamp::now().as_millis();
    claim(&**s, "f", t0).await;
    assert_eq!(
        claim(&**s, "f", t0).await,
        Claim::InProgress {
            retry_after_ms: LEASE
        }
    );
    assert_eq!(
        claim(&**s, "f", t0 + 12_500).await,
        Claim::InProgress {
            retry_after_ms: LEASE - 12_500
        }
    );
}

/// A claim whose write went through but whose answer was lost is retried by the SDK with the
/// same candidate, and the retry's condition finds the record the first try wrote. Claiming
/// again with the same candidate is that retry: the key is still the claimant's (not "in
/// progress" for the whole lease), nothing changes, and any other candidate is refused.
pub async fn a_claim_retried_after_its_answer_was_lost_still_holds_the_key<S: IdempotencyStore>(
    s: &Fixture<S>,
) {
    let (id, t0) = (OrderId::generate(), Timestamp::now().as_millis());
    let first = s.claim("k", "f", id, at(t0), LEASE).await.unwrap();
    assert_eq!(first, Claim::Claimed { order_id: id });
    let retried = s.claim("k", "f", id, at(t0 + 40), LEASE).await.unwrap();
    assert_eq!(retried, Claim::Claimed { order_id: id }, "its own record");
    assert_eq!(
        claim(&**s, "f", t0 + 50).await,
        Claim::InProgress {
            retry_after_ms: LEASE - 50
        },
        "another request is still refused for the first lease"
    );
    s.complete("k", id, at(t0 + 60), LEASE).await.unwrap();
    assert_eq!(
        claim(&**s, "f", t0 + 70).await,
        Claim::Completed { order_id: id }
    );
}

/// The same for a take-over of an ended lease: the retried write finds the record with the
/// taker's fresh lease and the first attempt's order id, and it is still the taker's.
pub async fn a_take_over_retried_after_its_answer_was_lost_still_holds_the_key<
    S: IdempotencyStore,
>(
    s: &Fixture<S>,
) {
    let (first, taker, now) = taken_over(&**s).await;
    let retried = s.claim("k", "f", taker, at(now + 40), LEASE).await.unwrap();
    assert_eq!(
        retried,
        Claim::Claimed { order_id: first },
        "its own take-over"
    );
    let late = s.claim("k", "f", first, at(now + 45), LEASE).await.unwrap();
    assert_eq!(
        late,
        Claim::InProgress {
            retry_after_ms: LEASE - 45
        },
        "the attempt whose lease was taken over no longer holds the key"
    );
    assert_eq!(
        claim(&**s, "f", now + 50).await,
        Claim::InProgress {
            retry_after_ms: LEASE - 50
        },
        "another request is refused for the taker's lease"
    );
}

pub async fn a_completed_key_replays_its_order_id<S: IdempotencyStore>(s: &Fixture<S>) {
    let now = Timestamp::now();
    let id = OrderId::generate();
    s.claim("k", "f", id, now, LEASE).await.unwrap();
    s.complete("k", id, now, 86_400_000).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            claim(&**s, "f", now.as_millis() + 1).await,
            Claim::Completed { order_id: id }
        );
    }
}

/// Another body under a key in use is refused, whether the first request is in flight, done,
/// or gone with its lease ended (its retry must still find the key).
pub async fn a_key_reused_with_another_body_is_a_mismatch<S: IdempotencyStore>(s: &Fixture<S>) {
    let (t0, id) = (a_minute_ago(), OrderId::generate());
    s.claim("k", "f", id, at(t0), LEASE).await.unwrap();
    assert_eq!(claim(&**s, "g", t0).await, Claim::Mismatch, "in flight");
    assert_eq!(
        claim(&**s, "g", t0 + LEASE + 1).await,
        Claim::Mismatch,
        "lease ended"
    );
    s.complete("k", id, at(t0), 86_400_000).await.unwrap();
    assert_eq!(claim(&**s, "g", t0 + 1).await, Claim::Mismatch, "completed");
}

/// A request that crashed while IN_PROGRESS: once its lease ends the key is free again for a
/// retry with the same body, which keeps the order id the first attempt chose, and holds a
/// fresh lease.
pub async fn an_ended_lease_is_taken_over_keeping_its_order_id<S: IdempotencyStore>(
    s: &Fixture<S>,
) {
    let first = OrderId::generate();
    s.claim("k", "f", first, at(a_minute_ago()), LEASE)
        .await
        .unwrap();
    let now = Timestamp::now().as_millis();
    assert_eq!(
        claim(&**s, "f", now).await,
        Claim::Claimed { order_id: first }
    );
    assert_eq!(
        claim(&**s, "f", now).await,
        Claim::InProgress {
            retry_after_ms: LEASE
        }
    );
}

/// A completed record past its retention frees the key, for any body (DynamoDB's TTL deletion
/// lags by up to days, so expiry is judged on the record, not on its absence).
pub async fn an_expired_completed_record_frees_the_key<S: IdempotencyStore>(s: &Fixture<S>) {
    let (t0, id) = (a_minute_ago(), OrderId::generate());
    s.claim("k", "f", id, at(t0), 1_000).await.unwrap();
    s.complete("k", id, at(t0), 1_000).await.unwrap();
    let new = OrderId::generate();
    assert_eq!(
        s.claim("k", "another body", new, Timestamp::now(), LEASE)
            .await
            .unwrap(),
        Claim::Claimed { order_id: new }
    );
}

/// A request that failed gives its lease up: the retry need not wait, and keeps the order id.
pub async fn a_released_key_can_be_claimed_again_at_once_with_the_same_order_id<
    S: IdempotencyStore,
>(
    s: &Fixture<S>,
) {
    let id = OrderId::generate();
    s.claim("k", "f", id, Timestamp::now(), LEASE)
        .await
        .unwrap();
    s.release("k", id).await.unwrap();
    let later = Timestamp::now().as_millis() + 1;
    assert_eq!(
        claim(&**s, "f", later).await,
        Claim::Claimed { order_id: id }
    );
}

pub async fn completing_or_releasing_an_unknown_key_creates_nothing<S: IdempotencyStore>(
    s: &Fixture<S>,
) {
    let now = Timestamp::now();
    s.complete("k", OrderId::generate(), now, 60_000)
        .await
        .unwrap();
    s.release("k", OrderId::generate()).await.unwrap();
    let fresh = OrderId::generate();
    assert_eq!(
        s.claim("k", "f", fresh, now, LEASE).await.unwrap(),
        Claim::Claimed { order_id: fresh }
    );
}

/// Two requests with one key arrive together: one claims it, the other is told it is in
/// progress.
pub async fn two_concurrent_claims_of_one_key_let_exactly_one_through<S: IdempotencyStore>(
    s: &Fixture<S>,
) {
    let now = Timestamp::now().as_millis();
    let (a, b) = tokio::join!(claim(&**s, "f", now), claim(&**s, "f", now));
    let claimed = [a, b]
        .iter()
        .filter(|c| matches!(c, Claim::Claimed { .. }))
        .count();
    assert_eq!(claimed, 1, "{a:?} {b:?}");
    assert!(
        [a, b].contains(&Claim::InProgress {
            retry_after_ms: LEASE
        }),
        "{a:?} {b:?}"
    );
}

/// A slow attempt whose lease ended and was taken over by a retry: when it finishes, its
/// complete and its release leave the key to the retry (a release would end the retry's live
/// lease and let a third attempt in beside it); the retry's own complete then holds.
pub async fn an_attempt_whose_lease_was_taken_over_neither_completes_nor_releases_it<
    S: IdempotencyStore,
>(
    s: &Fixture<S>,
) {
    let (slow, retry, now) = taken_over(&**s).await;

    s.release("k", slow).await.unwrap();
    assert_eq!(
        claim(&**s, "f", now + 10).await,
        Claim::InProgress {
            retry_after_ms: LEASE - 10
        },
        "the stale release left the retry's lease alone"
    );
    s.complete("k", slow, at(now + 20), 86_400_000)
        .await
        .unwrap();
    assert_eq!(
        claim(&**s, "f", now + 30).await,
        Claim::InProgress {
            retry_after_ms: LEASE - 30
        },
        "the stale complete left the key in the retry's hands"
    );

    s.complete("k", retry, at(now + 40), 86_400_000)
        .await
        .unwrap();
    assert_eq!(
        claim(&**s, "f", now + 50).await,
        Claim::Completed { order_id: slow }
    );
}

/// An attempt whose lease ended while no other attempt came still holds the key: it finishes
/// it, and its answer is replayed.
pub async fn an_attempt_whose_lease_ended_untaken_still_completes_it<S: IdempotencyStore>(
    s: &Fixture<S>,
) {
    let slow = OrderId::generate();
    s.claim("k", "f", slow, at(a_minute_ago()), LEASE)
        .await
        .unwrap();
    let now = Timestamp::now();
    s.complete("k", slow, now, 86_400_000).await.unwrap();
    assert_eq!(
        claim(&**s, "f", now.as_millis() + 1).await,
        Claim::Completed { order_id: slow }
    );
}

/// An attempt that crashed IN_PROGRESS and was never retried within the retention: its record
/// no longer counts (DynamoDB's TTL may or may not have deleted it yet; SQLite keeps it), so
/// the key starts a new order, for any body.
pub async fn an_attempt_abandoned_past_the_retention_frees_the_key<S: IdempotencyStore>(
    s: &Fixture<S>,
) {
    use order_domain::idempotency::IN_PROGRESS_RETENTION_MS;
    let lease_ended = Timestamp::now().as_millis() - IN_PROGRESS_RETENTION_MS - 60_000;
    let abandoned = OrderId::generate();
    s.claim("k", "f", abandoned, at(lease_ended - LEASE), LEASE)
        .await
        .unwrap();
    let new = OrderId::generate();
    assert_eq!(
        s.claim("k", "another body", new, Timestamp::now(), LEASE)
            .await
            .unwrap(),
        Claim::Claimed { order_id: new }
    );
    let again = claim(&**s, "another body", Timestamp::now().as_millis()).await;
    assert!(
        matches!(again, Claim::InProgress { .. }),
        "the new claim holds the key: {again:?}"
    );
}
