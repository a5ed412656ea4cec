//! Delivering a notification once: the decision every notifier makes before it publishes a
//! message, from what its dedup memory holds for the message's `(topic, dedup id)`.
//!
//! [`Notification::dedup_id`](crate::ports::Notification::dedup_id) is the causing event's id,
//! so a redelivered publish (an EventBridge, Streams or task retry) carries the id of the first
//! one. A record goes through `absent → PENDING (with a lease) → SENT`:
//! - absent: claim it (PENDING until the lease runs out), publish, then mark it SENT;
//! - SENT: the message went out, drop the repeat;
//! - PENDING with a live lease: another publisher is on it, refuse (retryable) rather than race;
//! - PENDING with a lapsed lease: its publisher crashed or failed between claiming and marking,
//!   so nobody knows whether the message went out: take the claim over and publish again.
//!
//! The last case is the price of not holding a lock across a network call: delivery is at least
//! once, with at most one extra message per publisher that dies between its publish and its
//! mark. A notifier whose memory and delivery change together under one lock (the embedded
//! outbox) never records PENDING and only ever sees absent or SENT.

use crate::time::Timestamp;

/// How long a PENDING claim holds off other publishers: well beyond one publish call (tens of
/// milliseconds, seconds with the SDK's retries), well below the seconds-to-minutes after which
/// EventBridge, Lambda and Step Functions redeliver, so a crashed publisher's retry is not
/// refused for long.
pub const PUBLISH_LEASE_MS: u64 = 15_000;

/// How long a SENT record is kept: longer than any redelivery reaches back (EventBridge retries
/// for 24 h, a DynamoDB stream keeps 24 h of records for a restarted poller to replay).
pub const SENT_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// What a notifier remembers of one `(topic, dedup id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupRecord {
    /// Claimed by a publisher that has not confirmed its publish; the claim lapses at
    /// `lease_until`.
    Pending { lease_until: Timestamp },
    /// Published.
    Sent,
}

/// What to do with a publish, given the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupVerdict {
    /// Never claimed: claim it (PENDING), publish, mark it SENT.
    Claim,
    /// A claim whose lease lapsed: take it over (conditional on the claim seen), publish again.
    TakeOver,
    /// Already published: drop the repeat.
    Drop,
    /// Another publisher holds a live claim: refuse, retryable once it has marked or lapsed.
    InFlight { retry_after_ms: u64 },
}

impl DedupVerdict {
    /// Whether the caller publishes (after winning its claim or take-over).
    pub fn publishes(self) -> bool {
        matches!(self, Self::Claim | Self::TakeOver)
    }
}

/// The dedup decision: what a publish finding `record` at `now` does.
pub fn judge_publish(record: Option<DedupRecord>, now: Timestamp) -> DedupVerdict {
    match record {
        None => DedupVerdict::Claim,
        Some(DedupRecord::Sent) => DedupVerdict::Drop,
        Some(DedupRecord::Pending { lease_until }) if lease_until <= now => DedupVerdict::TakeOver,
        Some(DedupRecord::Pending { lease_until }) => DedupVerdict::InFlight {
            retry_after_ms: lease_until.as_millis() - now.as_millis(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    #[test]
    fn an_unseen_id_is_claimed_and_a_sent_one_dropped() {
        assert_eq!(judge_publish(None, NOW), DedupVerdict::Claim);
        assert_eq!(
            judge_publish(Some(DedupRecord::Sent), NOW),
            DedupVerdict::Drop
        );
        assert!(DedupVerdict::Claim.publishes() && !DedupVerdict::Drop.publishes());
    }

    #[test]
    fn a_live_claim_is_refused_until_its_lease_lapses_then_taken_over() {
        let pending = |ms| {
            Some(DedupRecord::Pending {
                lease_until: Timestamp::from_millis(ms),
            })
        };
        assert_eq!(
            judge_publish(pending(1_000_250), NOW),
            DedupVerdict::InFlight {
                retry_after_ms: 250
            }
        );
        assert_eq!(
            judge_publish(pending(1_000_000), NOW),
            DedupVerdict::TakeOver
        );
        assert_eq!(judge_publish(pending(1), NOW), DedupVerdict::TakeOver);
        assert!(DedupVerdict::TakeOver.publishes());
    }
}
