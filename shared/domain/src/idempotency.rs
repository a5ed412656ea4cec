//! The idempotency judgement of POST /orders, as a pure function: what a stored record says to
//! a request that brings the same key, written once for every store.
//!
//! A store reads the key's record, asks [`judge`], and carries the verdict out. Where the store
//! has no write transaction around the read (DynamoDB), it carries a claim out with a write
//! conditioned on the record it read, and judges again if the record changed in between.
//!
//! The rules, in order:
//! 1. no record, a COMPLETED record past its expiry, or an IN_PROGRESS record more than
//!    [`IN_PROGRESS_RETENTION_MS`] past its lease (an attempt abandoned long ago): the key is
//!    free, claim it. Expiry is judged on the record, never on its absence, so a store that
//!    deletes old records (DynamoDB's TTL, lazily) and one that keeps them (SQLite) agree;
//! 2. another body (fingerprint) under the key: a mismatch;
//! 3. a COMPLETED record: replay its order id;
//! 4. an IN_PROGRESS record whose lease ended (a crashed or failed attempt): take it over,
//!    keeping the order id that attempt chose, so a retry never places a second order;
//! 5. an IN_PROGRESS record of this very attempt (its claimant is the attempt's candidate,
//!    which each attempt draws afresh; on a record kept before claimants were, its order id
//!    is): its own claim or take-over,
//!    retried after the answer was lost (the SDK retries a write whose connection dropped, and
//!    the retry's condition finds the record the first try wrote). The key is the attempt's;
//!    without this rule the request would refuse itself as "in progress" for the whole lease;
//! 6. any other IN_PROGRESS record: in progress, until its lease ends.
//!
//! Only the attempt holding the lease ([`IdempotencyRecord::holder`]) may finish it
//! ([`may_finish`]): an attempt whose lease ended and was taken over must neither complete nor
//! release the key under the attempt that took it over.

use crate::time::Timestamp;
use crate::values::OrderId;

/// How long an IN_PROGRESS record counts past its lease: a client retrying a crashed request
/// within it gets the order id the crashed attempt chose; after it the key is free. (A
/// COMPLETED record counts for its own expiry, a day.)
pub const IN_PROGRESS_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// The state of a stored idempotency record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// A request holds the key until the record's `expires_at` (its lease).
    InProgress,
    /// The request finished; its answer is remembered until `expires_at`.
    Completed,
}

impl KeyState {
    /// The state as stored (`IN_PROGRESS`, `COMPLETED`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
        }
    }

    /// A stored state; `None` for anything else (a corrupt record).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "IN_PROGRESS" => Some(Self::InProgress),
            "COMPLETED" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// The fields of a stored record that a claim is judged on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The digest of the request body that claimed the key.
    pub fingerprint: String,
    /// The order id chosen by the request that claimed the key.
    pub order_id: OrderId,
    pub state: KeyState,
    /// When the lease ends (IN_PROGRESS) or the record stops counting (COMPLETED).
    pub expires_at: Timestamp,
    /// The candidate order id of the attempt holding the lease: the first claim's (then the
    /// same as `order_id`) or that of the attempt that took an ended lease over. `None` on
    /// records kept before it was.
    pub claimant: Option<OrderId>,
}

impl IdempotencyRecord {
    /// The attempt holding (or that last held) the lease: its claimant, or on a record kept
    /// before claimants were, the order id its only claim chose.
    pub fn holder(&self) -> OrderId {
        self.claimant.unwrap_or(self.order_id)
    }
}

/// Whether the attempt `claimant` may complete or release the key whose record is `record`:
/// only while the record is IN_PROGRESS and the attempt holds it (its lease may have ended,
/// if no other attempt took it over). `false` for no record, a COMPLETED one, or one taken
/// over by another attempt, which finishes it itself.
pub fn may_finish(record: Option<&IdempotencyRecord>, claimant: OrderId) -> bool {
    record.is_some_and(|r| r.state == KeyState::InProgress && r.holder() == claimant)
}

/// What [`judge`] says a store must do with a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The key is free: write a new IN_PROGRESS record for the candidate `order_id`.
    Claim { order_id: OrderId },
    /// An ended lease: renew it in place, keeping the record's `order_id`.
    TakeOver { order_id: OrderId },
    /// The record is this attempt's own claim or take-over (a retried write found what its
    /// first try wrote): the key is already held for `order_id`, write nothing.
    Own { order_id: OrderId },
    /// The request finished: answer with its order id, write nothing.
    Replay { order_id: OrderId },
    /// The key was used with another body: refuse, write nothing.
    Mismatch,
    /// Another request holds the key for `retry_after_ms` more: refuse, write nothing.
    InProgress { retry_after_ms: u64 },
}

impl Verdict {
    /// What the caller is told once the verdict is carried out.
    pub fn claim(self) -> Claim {
        match self {
            Self::Claim { order_id } | Self::TakeOver { order_id } | Self::Own { order_id } => {
                Claim::Claimed { order_id }
            }
            Self::Replay { order_id } => Claim::Completed { order_id },
            Self::Mismatch => Claim::Mismatch,
            Self::InProgress { retry_after_ms } => Claim::InProgress { retry_after_ms },
        }
    }
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours for now; carry on with this order id (reused if an earlier attempt with
    /// the same body got as far as choosing one).
    Claimed { order_id: OrderId },
    /// A request with this key and body finished; answer with its order id.
    Completed { order_id: OrderId },
    /// The key was used with a different body.
    Mismatch,
    /// Another request with this key is in flight; its lease ends in `retry_after_ms`.
    InProgress { retry_after_ms: u64 },
}

/// Judges a claim of a key whose stored record is `record` (`None`: no record), by a request
/// whose body has `fingerprint` and which would place `candidate`, at `now`.
pub fn judge(
    record: Option<&IdempotencyRecord>,
    fingerprint: &str,
    candidate: OrderId,
    now: Timestamp,
) -> Verdict {
    let Some(r) = record else {
        return Verdict::Claim {
            order_id: candidate,
        };
    };
    let ended = r.expires_at <= now;
    let abandoned = r
        .expires_at
        .as_millis()
        .saturating_add(IN_PROGRESS_RETENTION_MS)
        <= now.as_millis();
    match r.state {
        KeyState::Completed if ended => Verdict::Claim {
            order_id: candidate,
        },
        KeyState::InProgress if abandoned => Verdict::Claim {
            order_id: candidate,
        },
        _ if r.fingerprint != fingerprint => Verdict::Mismatch,
        KeyState::Completed => Verdict::Replay {
            order_id: r.order_id,
        },
        KeyState::InProgress if ended => Verdict::TakeOver {
            order_id: r.order_id,
        },
        KeyState::InProgress if r.holder() == candidate => Verdict::Own {
            order_id: r.order_id,
        },
        KeyState::InProgress => Verdict::InProgress {
            retry_after_ms: r.expires_at.as_millis() - now.as_millis(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    fn record(state: KeyState, expires_at: u64) -> IdempotencyRecord {
        IdempotencyRecord {
            fingerprint: "f".into(),
            order_id: OrderId::generate(),
            state,
            expires_at: Timestamp::from_millis(expires_at),
            claimant: None,
        }
    }

    fn judged(r: Option<&IdempotencyRecord>, fingerprint: &str) -> (Verdict, OrderId) {
        let candidate = OrderId::generate();
        let now = Timestamp::from_millis(NOW);
        (judge(r, fingerprint, candidate, now), candidate)
    }

    #[test]
    fn a_key_without_a_record_is_claimed_for_the_candidate() {
        let (v, candidate) = judged(None, "f");
        assert_eq!(
            v,
            Verdict::Claim {
                order_id: candidate
            }
        );
        assert_eq!(
            v.claim(),
            Claim::Claimed {
                order_id: candidate
            }
        );
    }

    #[test]
    fn a_completed_record_replays_its_order_id_until_it_expires() {
        let r = record(KeyState::Completed, NOW + 1);
        assert_eq!(
            judged(Some(&r), "f").0,
            Verdict::Replay {
                order_id: r.order_id
            }
        );
        let expired = record(KeyState::Completed, NOW);
        let (v, candidate) = judged(Some(&expired), "other body");
        assert_eq!(
            v,
            Verdict::Claim {
                order_id: candidate
            }
        );
    }

    #[test]
    fn another_body_under_a_live_key_is_a_mismatch_whatever_its_state() {
        for r in [
            record(KeyState::Completed, NOW + 1),
            record(KeyState::InProgress, NOW + 1),
            record(KeyState::InProgress, NOW - 1),
        ] {
            assert_eq!(judged(Some(&r), "g").0, Verdict::Mismatch, "{r:?}");
        }
    }

    #[test]
    fn a_live_lease_is_in_progress_for_the_time_it_has_left() {
        let r = record(KeyState::InProgress, NOW + 2_500);
        assert_eq!(
            judged(Some(&r), "f").0,
            Verdict::InProgress {
                retry_after_ms: 2_500
            }
        );
    }

    #[test]
    fn an_ended_lease_is_taken_over_keeping_its_order_id() {
        for expires in [NOW, NOW - 60_000] {
            let r = record(KeyState::InProgress, expires);
            let v = judged(Some(&r), "f").0;
            assert_eq!(
                v,
                Verdict::TakeOver {
                    order_id: r.order_id
                }
            );
            assert_eq!(
                v.claim(),
                Claim::Claimed {
                    order_id: r.order_id
                }
            );
        }
    }

    /// A claim's write retried after its answer was lost finds the record its first try
    /// wrote: the candidate it drew is the record's order id. That is its own claim, not
    /// another request's; another candidate on the same record is still refused.
    #[test]
    fn a_claim_that_finds_its_own_record_holds_the_key() {
        let r = record(KeyState::InProgress, NOW + 30_000);
        let now = Timestamp::from_millis(NOW);
        let own = judge(Some(&r), "f", r.order_id, now);
        assert_eq!(
            own,
            Verdict::Own {
                order_id: r.order_id
            }
        );
        assert_eq!(
            own.claim(),
            Claim::Claimed {
                order_id: r.order_id
            }
        );
        assert!(matches!(
            judged(Some(&r), "f").0,
            Verdict::InProgress { .. }
        ));
        assert_eq!(
            judge(Some(&r), "g", r.order_id, now),
            Verdict::Mismatch,
            "the fingerprint is judged first"
        );
        // A take-over keeps the record's order id and names its own candidate as claimant.
        let taker = OrderId::generate();
        let taken_over = IdempotencyRecord {
            claimant: Some(taker),
            ..r.clone()
        };
        assert_eq!(
            judge(Some(&taken_over), "f", taker, now),
            Verdict::Own {
                order_id: r.order_id
            }
        );
        // The attempt whose lease was taken over no longer holds the key, though the record
        // keeps its order id.
        assert!(matches!(
            judge(Some(&taken_over), "f", r.order_id, now),
            Verdict::InProgress { .. }
        ));
    }

    /// An attempt abandoned past the retention frees the key for a new order, whatever the
    /// body; until then its retry keeps the order id it chose.
    #[test]
    fn an_in_progress_record_abandoned_past_its_retention_frees_the_key() {
        let now = Timestamp::from_millis(3 * IN_PROGRESS_RETENTION_MS);
        let lease_end = now.as_millis() - IN_PROGRESS_RETENTION_MS;
        let abandoned = record(KeyState::InProgress, lease_end);
        for body in ["f", "another body"] {
            let candidate = OrderId::generate();
            assert_eq!(
                judge(Some(&abandoned), body, candidate, now),
                Verdict::Claim {
                    order_id: candidate
                },
                "{body}"
            );
        }
        let retained = record(KeyState::InProgress, lease_end + 1);
        assert_eq!(
            judge(Some(&retained), "f", OrderId::generate(), now),
            Verdict::TakeOver {
                order_id: retained.order_id
            }
        );
    }

    #[test]
    fn only_the_attempt_holding_the_lease_may_finish_it() {
        let r = record(KeyState::InProgress, NOW - 1);
        assert!(
            may_finish(Some(&r), r.order_id),
            "a record without claimant: its order id"
        );
        assert!(!may_finish(Some(&r), OrderId::generate()));
        let taker = OrderId::generate();
        let taken_over = IdempotencyRecord {
            claimant: Some(taker),
            ..r.clone()
        };
        assert!(may_finish(Some(&taken_over), taker));
        assert!(
            !may_finish(Some(&taken_over), r.order_id),
            "the attempt whose lease was taken over"
        );
        let completed = IdempotencyRecord {
            state: KeyState::Completed,
            ..taken_over
        };
        assert!(!may_finish(Some(&completed), taker));
        assert!(!may_finish(None, taker));
    }

    #[test]
    fn stored_states_read_back_as_written() {
        for s in [KeyState::InProgress, KeyState::Completed] {
            assert_eq!(KeyState::parse(s.as_str()), Some(s));
        }
        assert_eq!(KeyState::parse("DONE"), None);
    }
}
