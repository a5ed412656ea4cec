//! Notifications delivered once on SNS: a dedup record per `(topic, dedup id)` in DynamoDB
//! (NotificationDedupTable, PK `dedupKey` = `<TopicName>#<dedup id>`), written before the
//! publish. SNS standard topics ignore a dedup id, so without it an EventBridge, Streams or
//! task redelivery sends a second email.
//!
//! The decision is the domain's [`judge_publish`] (absent → PENDING with a lease → SENT); this
//! adapter only reads the record and arbitrates with conditional writes:
//! - absent: a conditional PutItem (`attribute_not_exists`) claims it, PENDING with a lease of
//!   [`PUBLISH_LEASE_MS`] and a random claim token. A first publish is the common case, so the
//!   claim is tried first, unread (the verdict on no record is always a claim); when it fails
//!   the record in the way comes back with the refusal (`ReturnValuesOnConditionCheckFailure`
//!   ALL_OLD) and is judged as a read one would be. A publish costs two writes and no read;
//!   a redelivery one failed conditional write (billed as a write) instead of a read. Later
//!   rounds (after a wait or a lost race) read, which costs less than a failed write;
//! - PENDING with a lapsed lease: a PutItem conditioned on the claim token it saw takes it
//!   over (of two racing take-overs one wins);
//! - PENDING with a live lease: the publish waits briefly for the other publisher to finish,
//!   then is refused with a [`PortError`], which every caller treats as retryable;
//! - PENDING under this call's own claim token: its claim (or take-over) went through and the
//!   answer was lost, and the SDK's retry of the write found it. It is this call's claim:
//!   publish;
//! - SENT: dropped.
//!
//! After the publish the record becomes SENT (conditioned on still holding the claim); if the
//! publish fails, the claim is deleted so a retry publishes at once. (A failure SNS reports after
//! accepting the message, a timeout say, therefore costs one extra email too.)
//!
//! **A crash between the record and the publish** (or between the publish and the mark) leaves
//! a PENDING record: the next redelivery after its lease publishes again. Delivery is at least
//! once, with at most one extra email per crash; never none, as long as the message is
//! redelivered. `ttl` (epoch seconds) lets DynamoDB delete records [`SENT_RETENTION_MS`] after
//! they were last written; expiry of a lease is always decided on `leaseUntil`, never on TTL.

use std::future::Future;
use std::time::Duration;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use order_domain::Timestamp;
use order_domain::dedup::{
    DedupRecord, DedupVerdict, PUBLISH_LEASE_MS, SENT_RETENTION_MS, judge_publish,
};
use order_domain::ports::{PortError, Published, Topic};

use crate::config::{AwsClients, ConfigError, NOTIFICATION_DEDUP_TABLE, require_env};
use crate::errors::{port_error, written};

const PENDING: &str = "PENDING";
const SENT: &str = "SENT";
/// Pauses while another publisher holds a live claim, before refusing: most claims are marked
/// SENT within one SNS call, so a concurrent duplicate usually ends as a drop, not an error.
const IN_FLIGHT_WAITS_MS: [u64; 5] = [25, 50, 100, 200, 400];
/// Rounds of read-then-conditional-write lost to other publishers before giving up.
const MAX_ROUNDS: usize = 10;
/// A record still PENDING under the claim `:held` (a take-over, the SENT mark, a release).
const STILL_PENDING_FOR: &str = "#state = :pending AND #claim = :held";

/// The dedup records of notifications on NotificationDedupTable.
#[derive(Debug, Clone)]
pub struct DynamoDedup {
    client: Client,
    table: String,
    lease_ms: u64,
}

/// A record as read: the domain's view of it and the claim token that conditions a take-over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRecord {
    pub record: DedupRecord,
    pub claim: String,
}

/// A first claim's outcome: ours, or refused by the record in the way (`None`: the refusal
/// carried none, so it must be read).
enum FirstClaim {
    Claimed,
    Held(Option<SeenRecord>),
}

/// The record's key: the same dedup id on two topics is two deliveries.
pub fn dedup_key(topic: Topic, dedup_id: &str) -> String {
    format!("{}#{dedup_id}", topic.name())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// DynamoDB TTL wants epoch seconds.
fn ttl_after(ms: u64) -> AttributeValue {
    n(ms.saturating_add(SENT_RETENTION_MS).div_ceil(1000))
}

impl DynamoDedup {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            lease_ms: PUBLISH_LEASE_MS,
        }
    }

    /// The records on the table named by `NOTIFICATION_DEDUP_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.dynamodb().clone(),
            require_env(NOTIFICATION_DEDUP_TABLE)?,
        ))
    }

    /// With another lease than [`PUBLISH_LEASE_MS`] (tests of a lapsed claim).
    #[must_use]
    pub fn with_lease_ms(mut self, lease_ms: u64) -> Self {
        self.lease_ms = lease_ms;
        self
    }

    fn err(&self, e: &(impl std::error::Error + 'static)) -> PortError {
        port_error(&format!("notification dedup table {}", self.table), e)
    }

    /// Runs `publish` unless `(topic, dedup_id)` was published already (see the module doc):
    /// [`Published::Sent`] when this call published it, [`Published::Duplicate`] when it found
    /// the record SENT and dropped the message.
    pub async fn deliver_once<F, Fut>(
        &self,
        topic: Topic,
        dedup_id: &str,
        publish: F,
    ) -> Result<Published, PortError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), PortError>>,
    {
        let key = dedup_key(topic, dedup_id);
        let claim = format!("{:016x}", fastrand::u64(..));
        let mut waits = IN_FLIGHT_WAITS_MS.iter();
        let mut won = false;
        for round in 0..MAX_ROUNDS {
            let now = Timestamp::now();
            let lease_until = now.as_millis().saturating_add(self.lease_ms);
            let seen = match round {
                0 => match self.first_claim(&key, &claim, lease_until).await? {
                    FirstClaim::Claimed => {
                        won = true;
                        break;
                    }
                    FirstClaim::Held(Some(seen)) => Some(seen),
                    FirstClaim::Held(None) => self.read(&key).await?,
                },
                _ => self.read(&key).await?,
            };
            // Our own claim token: a claim or take-over of this call went through and its
            // answer was lost, so the SDK's retry of it found the record it wrote. It is ours;
            // judged as another publisher's live claim, the publish would wait and fail.
            if seen.as_ref().is_some_and(|s| {
                s.claim == claim && matches!(s.record, DedupRecord::Pending { .. })
            }) {
                won = true;
                break;
            }
            match judge_publish(seen.as_ref().map(|s| s.record), now) {
                DedupVerdict::Drop => {
                    tracing::debug!(dedup_key = %key, "duplicate notification dropped");
                    return Ok(Published::Duplicate);
                }
                DedupVerdict::Claim => won = self.claim(&key, &claim, lease_until).await?,
                DedupVerdict::TakeOver => {
                    let seen_claim = seen.map(|s| s.claim).unwrap_or_default();
                    won = self
                        .take_over(&key, &seen_claim, &claim, lease_until)
                        .await?;
                    if won {
                        tracing::warn!(dedup_key = %key, "a lapsed claim taken over: the message may go out twice");
                    }
                }
                DedupVerdict::InFlight { retry_after_ms } => {
                    let Some(wait) = waits.next() else {
                        return Err(PortError(format!(
                            "{key} is being published by another attempt; retry in {retry_after_ms} ms"
                        )));
                    };
                    tokio::time::sleep(Duration::from_millis((*wait).min(retry_after_ms))).await;
                }
            }
            if won {
                break;
            }
        }
        if !won {
            return Err(PortError(format!(
                "{key}: other publishers kept changing its dedup record; retry"
            )));
        }
        match publish().await {
            Ok(()) => {
                if let Err(e) = self.mark_sent(&key, &claim).await {
                    // Published: the caller must not retry. The record stays PENDING, so one
                    // redelivery after the lease would send it again.
                    tracing::warn!(dedup_key = %key, error = %e, "published but not marked SENT");
                }
                Ok(Published::Sent)
            }
            Err(e) => {
                if let Err(release) = self.release(&key, &claim).await {
                    tracing::warn!(dedup_key = %key, error = %release, "claim not released; a retry waits out its lease");
                }
                Err(e)
            }
        }
    }

    /// The record of `key`, read strongly consistent.
    pub async fn read(&self, key: &str) -> Result<Option<SeenRecord>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("dedupKey", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        out.item.map(|item| self.seen(key, &item)).transpose()
    }

    /// A stored record as the domain judges it, with its claim token.
    fn seen(
        &self,
        key: &str,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<SeenRecord, PortError> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let malformed = || {
            PortError(format!(
                "notification dedup table {}: malformed {key}",
                self.table
            ))
        };
        let record = match text("state").as_deref() {
            Some(SENT) => DedupRecord::Sent,
            Some(PENDING) => DedupRecord::Pending {
                lease_until: Timestamp::from_millis(
                    item.get("leaseUntil")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(malformed)?,
                ),
            },
            _ => return Err(malformed()),
        };
        Ok(SeenRecord {
            record,
            claim: text("claim").unwrap_or_default(),
        })
    }

    /// The first round's claim, unread: the PENDING record if there is none, or the record in
    /// the way as the refusal returned it.
    async fn first_claim(
        &self,
        key: &str,
        claim: &str,
        lease_until: u64,
    ) -> Result<FirstClaim, PortError> {
        let result = self
            .claim_request(key, claim, lease_until)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(FirstClaim::Claimed),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => Ok(
                    FirstClaim::Held(failed.item().map(|item| self.seen(key, item)).transpose()?),
                ),
                _ => Err(self.err(&e)),
            },
        }
    }

    /// The claim on a record that does not exist yet.
    fn claim_request(
        &self,
        key: &str,
        claim: &str,
        lease_until: u64,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.pending(key, claim, lease_until)
            .condition_expression("attribute_not_exists(dedupKey)")
    }

    /// The PENDING record of `claim`, unconditioned.
    fn pending(
        &self,
        key: &str,
        claim: &str,
        lease_until: u64,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("dedupKey", s(key))
            .item("state", s(PENDING))
            .item("claim", s(claim))
            .item("leaseUntil", n(lease_until))
            .item("ttl", ttl_after(lease_until))
    }

    /// Creates the PENDING record if there is none. `false`: another publisher claimed it first.
    pub async fn claim(&self, key: &str, claim: &str, lease_until: u64) -> Result<bool, PortError> {
        let result = self.claim_request(key, claim, lease_until).send().await;
        written(result).map_err(|e| self.err(&e))
    }

    /// Takes over a lapsed PENDING claim if it is still the one seen. `false`: someone else did.
    async fn take_over(
        &self,
        key: &str,
        seen_claim: &str,
        claim: &str,
        lease_until: u64,
    ) -> Result<bool, PortError> {
        let result = self
            .pending(key, claim, lease_until)
            .condition_expression(STILL_PENDING_FOR)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":held", s(seen_claim))
            .send()
            .await;
        written(result).map_err(|e| self.err(&e))
    }

    /// PENDING → SENT, if the claim is still ours. The whole record is written (a PutItem, as
    /// the take-over): DynamoDB bills it as the UpdateItem it replaces, and an emulator serves
    /// it at a third of an update's cost.
    async fn mark_sent(&self, key: &str, claim: &str) -> Result<(), PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("dedupKey", s(key))
            .item("state", s(SENT))
            .item("claim", s(claim))
            .item("ttl", ttl_after(Timestamp::now().as_millis()))
            .condition_expression(STILL_PENDING_FOR)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":held", s(claim))
            .send()
            .await;
        // Our lease lapsed and another publisher took over: it marks the record.
        written(result).map(|_| ()).map_err(|e| self.err(&e))
    }

    /// Deletes our PENDING claim after a failed publish, so a retry need not wait out the lease.
    async fn release(&self, key: &str, claim: &str) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("dedupKey", s(key))
            .condition_expression(STILL_PENDING_FOR)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":held", s(claim))
            .send()
            .await;
        written(result).map(|_| ()).map_err(|e| self.err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_id_on_two_topics_has_two_keys() {
        assert_eq!(dedup_key(Topic::OrderAlerts, "01J"), "OrderAlertsTopic#01J");
        assert_ne!(
            dedup_key(Topic::OrderAlerts, "01J"),
            dedup_key(Topic::OrderErrors, "01J")
        );
    }
}
