//! The sweeper's question on SQLite ([`StuckOrders`]): open orders whose view has not moved.

use order_domain::order::OrderStatus;
use order_domain::ports::{OpenOrder, PortError, StuckOrders};
use order_domain::{OrderId, Timestamp};
use rusqlite::params;

use super::{SqliteReadModels, int};
use crate::db::DbError;

impl SqliteReadModels {
    /// Open orders in one of `statuses` whose view is unchanged since before `before_ms`,
    /// oldest first: one range of the `order_status_by_status` index on `(status, updated_at)`
    /// a status, merged.
    pub async fn open_unchanged_since(
        &self,
        statuses: &[OrderStatus],
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<OpenOrder>, PortError> {
        let statuses: Vec<&'static str> = statuses
            .iter()
            .filter(|s| !s.is_terminal())
            .map(|s| s.as_str())
            .collect();
        let rows = self
            .db
            .read(move |c| {
                let mut s = c.prepare_cached(
                    "SELECT order_id, status, updated_at FROM order_status \
                     WHERE status = ?1 AND updated_at < ?2 ORDER BY updated_at LIMIT ?3",
                )?;
                let mut rows = Vec::new();
                for status in statuses {
                    let found = s.query_map(
                        params![
                            status,
                            int(before_ms),
                            i64::try_from(limit).unwrap_or(i64::MAX)
                        ],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, i64>(2)?,
                            ))
                        },
                    )?;
                    rows.extend(found.collect::<rusqlite::Result<Vec<_>>>()?);
                }
                Ok(rows)
            })
            .await
            .map_err(|e: DbError| PortError(e.to_string()))?;
        let mut open = rows
            .into_iter()
            .map(|(id, status, since)| {
                Ok(OpenOrder {
                    order_id: OrderId::parse(&id)
                        .map_err(|e| PortError(format!("order_status: order id {id:?}: {e}")))?,
                    status: status_of(&status)?,
                    since: Timestamp::from_millis(u64::try_from(since).unwrap_or(0)),
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        open.sort_by_key(|o| (o.since, o.order_id));
        open.truncate(limit);
        Ok(open)
    }
}

/// An open status as the `status` column spells it (CANCELLING included: an order whose
/// cancellation was asked for is still the workflow's, or the sweeper's, to close).
fn status_of(text: &str) -> Result<OrderStatus, PortError> {
    OrderStatus::parse(text)
        .filter(|s| !s.is_terminal())
        .ok_or_else(|| PortError(format!("order_status: {text:?} is not an open status")))
}

impl StuckOrders for SqliteReadModels {
    async fn open_unchanged_since(
        &self,
        statuses: &[OrderStatus],
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OpenOrder>, PortError> {
        SqliteReadModels::open_unchanged_since(self, statuses, before.as_millis(), limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_open_status_reads_back_and_no_ended_one_does() {
        for s in [
            OrderStatus::Placed,
            OrderStatus::Validated,
            OrderStatus::Paid,
            OrderStatus::Cancelling,
        ] {
            assert_eq!(status_of(s.as_str()).unwrap(), s);
        }
        for s in [
            "COMPLETED",
            "FAILED",
            "CANCELLED",
            "SHIPPED",
            "REFUNDED",
            "nope",
        ] {
            assert!(status_of(s).is_err(), "{s}");
        }
    }
}
