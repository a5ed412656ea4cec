//! Idempotency records of POST /orders on DynamoDB (IdempotencyTable, PK `idempotencyKey`).
//!
//! Same semantics as the SQLite store, with conditional writes as the arbiter instead of a
//! write transaction:
//! - a free key (absent, or COMPLETED and expired) is claimed by a conditional PutItem;
//! - an IN_PROGRESS record whose lease (`expiresAt`) has passed is taken over by an UpdateItem
//!   conditioned on the very lease it saw, keeping the record's order id (design.md §9: an
//!   in-progress record never blocks retries forever);
//! - `ttl` (epoch seconds) lets DynamoDB delete old records. TTL deletion is lazy (it may lag by
//!   days), so expiry is always decided on `expiresAt`, never on the row's absence. An
//!   IN_PROGRESS record keeps its row for [`IN_PROGRESS_RETENTION_MS`] past its lease, so a
//!   client retrying a crashed request the next day still gets the same order id.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use order_domain::ports::{Claim, IdempotencyStore, PortError};
use order_domain::{OrderId, Timestamp};

use crate::config::{AwsClients, ConfigError, IDEMPOTENCY_TABLE, require_env};
use crate::errors::port_error;

/// How long an IN_PROGRESS row outlives its lease before TTL may delete it.
pub const IN_PROGRESS_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";
/// Rounds of read-then-conditional-write before giving up on a key that keeps changing.
const MAX_ROUNDS: usize = 5;

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

/// The fields of a stored record that a claim decides on.
struct Record {
    fingerprint: String,
    order_id: String,
    state: String,
    expires_at: u64,
}

impl Record {
    fn parse(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Some(Self {
            fingerprint: text("fingerprint")?,
            order_id: text("orderId")?,
            state: text("state")?,
            expires_at: item.get("expiresAt")?.as_n().ok()?.parse().ok()?,
        })
    }
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
            clients.dynamodb.clone(),
            require_env(IDEMPOTENCY_TABLE)?,
        ))
    }

    fn err(&self, e: &(impl std::error::Error + 'static)) -> PortError {
        port_error(&format!("idempotency table {}", self.table), e)
    }

    /// Creates the record if the key is free. `false`: a record is in the way.
    async fn put_if_free(
        &self,
        key: &str,
        fingerprint: &str,
        order_id: OrderId,
        now: u64,
        expires_at: u64,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("idempotencyKey", s(key))
            .item("fingerprint", s(fingerprint))
            .item("orderId", s(order_id.to_string()))
            .item("state", s(IN_PROGRESS))
            .item("expiresAt", n(expires_at))
            .item(
                "ttl",
                n(ttl_seconds(
                    expires_at.saturating_add(IN_PROGRESS_RETENTION_MS),
                )),
            )
            .condition_expression(
                "attribute_not_exists(#k) OR (#state = :completed AND #exp <= :now)",
            )
            .expression_attribute_names("#k", "idempotencyKey")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(self.err(&e)),
            },
        }
    }

    async fn read(&self, key: &str) -> Result<Option<Record>, PortError> {
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
            Some(item) => Record::parse(&item).map(Some).ok_or_else(|| {
                PortError(format!(
                    "idempotency table {}: malformed record",
                    self.table
                ))
            }),
        }
    }

    /// Takes over an expired lease, if it is still the one `seen`. `false`: someone else did.
    async fn take_over(
        &self,
        key: &str,
        seen: &Record,
        expires_at: u64,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("idempotencyKey", s(key))
            .update_expression("SET #exp = :exp, #ttl = :ttl")
            .condition_expression("#state = :in_progress AND #exp = :seen AND #fp = :fp")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#fp", "fingerprint")
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(
                ":ttl",
                n(ttl_seconds(
                    expires_at.saturating_add(IN_PROGRESS_RETENTION_MS),
                )),
            )
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":seen", n(seen.expires_at))
            .expression_attribute_values(":fp", s(seen.fingerprint.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(self.err(&e)),
            },
        }
    }

    /// An update that only applies to an existing record (SQLite's UPDATE of no row is a no-op
    /// too; an upsert would leave a record without fingerprint or order id).
    async fn update_existing(
        &self,
        key: &str,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), PortError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("idempotencyKey", s(key))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#k", "idempotencyKey")
            .expression_attribute_names("#exp", "expiresAt");
        if update.contains("#state") || condition.contains("#state") {
            req = req.expression_attribute_names("#state", "state");
        }
        if update.contains("#ttl") {
            req = req.expression_attribute_names("#ttl", "ttl");
        }
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(self.err(&e)),
            },
        }
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
        let now = now.as_millis();
        let expires_at = now.saturating_add(lease_ms);
        for _ in 0..MAX_ROUNDS {
            if self
                .put_if_free(key, fingerprint, candidate, now, expires_at)
                .await?
            {
                return Ok(Claim::Claimed {
                    order_id: candidate,
                });
            }
            // Something is in the way; `None` means it expired away since: try again.
            let Some(record) = self.read(key).await? else {
                continue;
            };
            if record.state == COMPLETED && record.expires_at <= now {
                continue;
            }
            if record.fingerprint != fingerprint {
                return Ok(Claim::Mismatch);
            }
            let order_id = OrderId::parse(&record.order_id).ok();
            if record.state == COMPLETED {
                return Ok(
                    order_id.map_or(Claim::Mismatch, |order_id| Claim::Completed { order_id })
                );
            }
            if record.expires_at > now {
                return Ok(Claim::InProgress);
            }
            // An expired lease (a crashed or failed attempt): take it over, same order id.
            if self.take_over(key, &record, expires_at).await? {
                return Ok(Claim::Claimed {
                    order_id: order_id.unwrap_or(candidate),
                });
            }
            // Another retry took it over (or completed it) first: look again.
        }
        Ok(Claim::InProgress)
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn complete(&self, key: &str, now: Timestamp, ttl_ms: u64) -> Result<(), PortError> {
        let expires = now.as_millis().saturating_add(ttl_ms);
        self.update_existing(
            key,
            "SET #state = :completed, #exp = :exp, #ttl = :ttl",
            "attribute_exists(#k)",
            vec![
                (":completed", s(COMPLETED)),
                (":exp", n(expires)),
                (":ttl", n(ttl_seconds(expires))),
            ],
        )
        .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn release(&self, key: &str) -> Result<(), PortError> {
        self.update_existing(
            key,
            "SET #exp = :now",
            "attribute_exists(#k) AND #state = :in_progress",
            vec![(":now", n(now_ms())), (":in_progress", s(IN_PROGRESS))],
        )
        .await
    }
}
