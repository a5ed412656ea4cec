//! `--order` on DynamoDB: one order's timeline, its state now or then, and its live row
//! against the log, exactly as the embedded driver reports it.

use order_aws::codec;
use order_domain::{OrderId, Timestamp};

use super::stream::{Applied, item_version};
use super::{DynamoReplay, ReplayError};
use crate::fold::{ReplayOptions, StreamFold};
use crate::judge::judge;
use crate::report::OrderReport;
use crate::timeline::timeline;
use crate::view::Model;

impl DynamoReplay {
    /// The timeline of one order, its state now or at `options.as_of`, and (without `as_of`)
    /// its live row compared with the log. `None` when the log has no such order. The row is
    /// read before the events (see the module's documentation); an order stream is short and
    /// is read whole.
    pub async fn order_report(
        &self,
        order_id: OrderId,
        options: &ReplayOptions,
    ) -> Result<Option<OrderReport>, ReplayError> {
        let key = order_id.to_string();
        let live = if options.as_of.is_none() {
            self.live_row(Model::OrderStatus, &key).await?
        } else {
            None
        };
        let read_at = Timestamp::now();
        let stream = order_id.stream();
        let mut events = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self.events_page(stream.as_str(), start.take()).await?;
            for item in items {
                let version = item_version(&item);
                let event = codec::decode(item).map_err(|e| ReplayError::Unreadable {
                    stream: stream.as_str().to_owned(),
                    version,
                    detail: e.to_string(),
                })?;
                events.push(event);
            }
            match next {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        if events.is_empty() {
            return Ok(None);
        }
        let applied = Applied::new(self, options, live.as_ref(), read_at);
        let mut fold = StreamFold::new(stream, options);
        for event in &events {
            fold.push(event, applied.applied(event));
        }
        let folded = fold.finish();
        let verdict = judge(&folded, live.as_ref().map(|l| &l.row), options);
        Ok(Some(OrderReport {
            timeline: timeline(order_id, &events, options.as_of, options.verify),
            live: live.map(|l| l.row),
            difference: verdict.difference,
            pending: folded.pending,
        }))
    }
}
