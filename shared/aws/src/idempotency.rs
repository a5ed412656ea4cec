//! Idempotency records of POST /orders on DynamoDB (IdempotencyTable, PK `idempotencyKey`).
//!
//! The domain's [`judge`] decides, as on SQLite; conditional writes on what was read are the
//! arbiter instead of a write transaction:
//! - a new key is claimed by a PutItem conditioned on no record, tried first since a new key is
//!   the common case (the verdict on no record is always a claim);
//! - a record the verdict frees (COMPLETED and expired, or IN_PROGRESS and abandoned past the
//!   retention) is replaced by a PutItem conditioned on the very record judged;
//! - an IN_PROGRESS record whose lease (`expiresAt`) has passed is taken over by an UpdateItem
//!   conditioned on the very lease it saw, keeping the record's order id (an in-progress
//!   record never blocks retries forever);
//! - if the record changed between the read and the write, it is read and judged again;
//! - `ttl` (epoch seconds) lets DynamoDB delete old records. TTL deletion is lazy (it may lag by
//!   days), so expiry is always decided on `expiresAt`, never on the row's absence. An
//!   IN_PROGRESS record keeps its row for [`IN_PROGRESS_RETENTION_MS`] past its lease, as long
//!   as the domain's verdict counts it, so a client retrying a crashed request the next day
//!   still gets the same order id.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use order_domain::idempotency::{
    IN_PROGRESS_RETENTION_MS, IdempotencyRecord, KeyState, Verdict, judge,
};
use order_domain::ports::{Claim, IdempotencyStore, PortError};
use order_domain::{OrderId, Timestamp};

use crate::config::{AwsClients, ConfigError, IDEMPOTENCY_TABLE, require_env};
use crate::errors::{port_error, written};

const IN_PROGRESS: &str = KeyState::InProgress.as_str();
const COMPLETED: &str = KeyState::Completed.as_str();
/// Rounds of read-then-conditional-write before giving up on a key that keeps changing.
const MAX_ROUNDS: usize = 5;
/// What a request that gave up on a key that kept changing is told to wait.
const BUSY_RETRY_AFTER_MS: u64 = 1_000;

#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// DynamoDB TTL wants epoch seconds.
fn ttl_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// The stored record's fields that a claim is judged on; `None` if one is missing or malformed.
fn parse_record(item: &HashMap<String, AttributeValue>) -> Option<IdempotencyRecord> {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok());
    Some(IdempotencyRecord {
        fingerprint: text("fingerprint")?.clone(),
        order_id: OrderId::parse(text("orderId")?).ok()?,
        state: KeyState::parse(text("state")?)?,
        expires_at: Timestamp::from_millis(item.get("expiresAt")?.as_n().ok()?.parse().ok()?),
        claimant: text("claimant")
            .map(|c| OrderId::parse(c))
            .transpose()
            .ok()?,
    })
}

impl DynamoIdempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The store on the table named by `IDEMPOTENCY_TABLE`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self::new(
            clients.dynamodb().clone(),
            require_env(IDEMPOTENCY_TABLE)?,
        ))
    }

    fn err(&self, e: &(impl std::error::Error + 'static)) -> PortError {
        port_error(&format!("idempotency table {}", self.table), e)
    }

    /// Creates the record for a free key: none there (`seen` is `None`), or still the very
    /// record the verdict freed (`seen`). `false`: a record is in the way, or changed.
    async fn put_if_free(
        &self,
        key: &str,
        fingerprint: &str,
        order_id: OrderId,
        expires_at: u64,
        seen: Option<&IdempotencyRecord>,
    ) -> Result<bool, PortError> {
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("idempotencyKey", s(key))
            .item("fingerprint", s(fingerprint))
            .item("orderId", s(order_id.to_string()))
            .item("claimant", s(order_id.to_string()))
            .item("state", s(IN_PROGRESS))
            .item("expiresAt", n(expires_at))
            .item(
                "ttl",
                n(ttl_seconds(
                    expires_at.saturating_add(IN_PROGRESS_RETENTION_MS),
                )),
            );
        let req = match seen {
            None => req
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", "idempotencyKey"),
            Some(seen) => req
                .condition_expression("#state = :state AND #exp = :exp AND #fp = :fp")
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#exp", "expiresAt")
                .expression_attribute_names("#fp", "fingerprint")
                .expression_attribute_values(":state", s(seen.state.as_str()))
                .expression_attribute_values(":exp", n(seen.expires_at.as_millis()))
                .expression_attribute_values(":fp", s(seen.fingerprint.clone())),
        };
        written(req.send().await).map_err(|e| self.err(&e))
    }

    async fn read(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("idempotencyKey", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err(&e))?;
        match out.item {
            None => Ok(None),
            Some(item) => parse_record(&item).map(Some).ok_or_else(|| {
                PortError(format!(
                    "idempotency table {}: malformed record",
                    self.table
                ))
            }),
        }
    }

    /// Takes over an expired lease for the attempt `claimant`, if it is still the one `seen`.
    /// `false`: someone else did.
    async fn take_over(
        &self,
        key: &str,
        seen: &IdempotencyRecord,
        claimant: OrderId,
        expires_at: u64,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("idempotencyKey", s(key))
            .update_expression("SET #exp = :exp, #ttl = :ttl, #claimant = :claimant")
            .condition_expression("#state = :in_progress AND #exp = :seen AND #fp = :fp")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#claimant", "claimant")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#fp", "fingerprint")
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":claimant", s(claimant.to_string()))
            .expression_attribute_values(
                ":ttl",
                n(ttl_seconds(
                    expires_at.saturating_add(IN_PROGRESS_RETENTION_MS),
                )),
            )
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":seen", n(seen.expires_at.as_millis()))
            .expression_attribute_values(":fp", s(seen.fingerprint.clone()))
            .send()
            .await;
        written(result).map_err(|e| self.err(&e))
    }

    /// Applies `update` to the key's record if the attempt `claimant` may finish it, as the
    /// domain's [`may_finish`](order_domain::idempotency::may_finish) says: the record is
    /// IN_PROGRESS and held by `claimant` (its `claimant`, or on a record kept before
    /// claimants were, its order id). DynamoDB has no transaction around a read, so the rule
    /// is the update's condition; the contract suite holds this adapter and SQLite's (which
    /// calls `may_finish`) to the same answers. A refused condition is no error: the key is
    /// another attempt's, or done, or unknown.
    async fn finish(
        &self,
        key: &str,
        claimant: OrderId,
        update: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), PortError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("idempotencyKey", s(key))
            .update_expression(update)
            .condition_expression(
                "#state = :in_progress AND (#claimant = :me OR \
                 (attribute_not_exists(#claimant) AND #oid = :me))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#claimant", "claimant")
            .expression_attribute_names("#oid", "orderId")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":me", s(claimant.to_string()));
        if update.contains("#ttl") {
            req = req.expression_attribute_names("#ttl", "ttl");
        }
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        written(req.send().await)
            .map(|_| ())
            .map_err(|e| self.err(&e))
    }
}

fn now_ms() -> u64 {
    Timestamp::now().as_millis()
}

impl IdempotencyStore for DynamoIdempotency {
    #[tracing::instrument(skip(self, fingerprint), fields(table = %self.table))]
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        candidate: OrderId,
        now: Timestamp,
        lease_ms: u64,
    ) -> Result<Claim, PortError> {
        let expires_at = now.as_millis().saturating_add(lease_ms);
        let claimed = Ok(Claim::Claimed {
            order_id: candidate,
        });
        for _ in 0..MAX_ROUNDS {
            // No record judges as a claim for the candidate: try that first, unread.
            if self
                .put_if_free(key, fingerprint, candidate, expires_at, None)
                .await?
            {
                return claimed;
            }
            // Something is in the way; absent now means it expired away since: try again.
            let Some(record) = self.read(key).await? else {
                continue;
            };
            match judge(Some(&record), fingerprint, candidate, now) {
                // A record the verdict frees: replace it, if it is still the one judged.
                Verdict::Claim { .. } => {
                    if self
                        .put_if_free(key, fingerprint, candidate, expires_at, Some(&record))
                        .await?
                    {
                        return claimed;
                    }
                }
                Verdict::TakeOver { order_id } => {
                    if self.take_over(key, &record, candidate, expires_at).await? {
                        return Ok(Claim::Claimed { order_id });
                    }
                    // Another retry took it over (or completed it) first: look again.
                }
                done => return Ok(done.claim()),
            }
        }
        Ok(Claim::InProgress {
            retry_after_ms: BUSY_RETRY_AFTER_MS,
        })
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn complete(
        &self,
        key: &str,
        claimant: OrderId,
        now: Timestamp,
        ttl_ms: u64,
    ) -> Result<(), PortError> {
        let expires = now.as_millis().saturating_add(ttl_ms);
        self.finish(
            key,
            claimant,
            "SET #state = :completed, #exp = :exp, #ttl = :ttl",
            vec![
                (":completed", s(COMPLETED)),
                (":exp", n(expires)),
                (":ttl", n(ttl_seconds(expires))),
            ],
        )
        .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn release(&self, key: &str, claimant: OrderId) -> Result<(), PortError> {
        self.finish(
            key,
            claimant,
            "SET #exp = :now",
            vec![(":now", n(now_ms()))],
        )
        .await
    }
}
