//! One stream read, folded, judged and (with `rebuild`) repaired, as a task of its own; and the
//! window that keeps a bounded number of them in flight and hands results back in order.

use std::collections::VecDeque;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use order_aws::codec::{self, STREAM_ID, VERSION};
use order_domain::{RecordedEvent, StreamId, Timestamp};
use tokio::task::JoinHandle;

use super::live::LiveItem;
use super::scan::Item;
use super::{DynamoReplay, KEEP_FAILURES, ReplayError};
use crate::fold::{Failure, FoldedStream, ReplayOptions, StreamFold};
use crate::judge::{Repair, Verdict, judge, judge_orphan};
use crate::view::Model;

/// What every task shares.
pub(super) struct Ctx {
    pub replay: DynamoReplay,
    pub options: ReplayOptions,
    /// The audit's cut for its cross-stream check ([`StreamFold::with_audit_until`]).
    pub audit_until: Option<Timestamp>,
}

/// What to read.
#[derive(Debug, Clone)]
pub(super) enum Job {
    /// A stream the survey found (its raw `streamId`).
    Stream(Box<str>),
    /// A live row whose stream the survey did not find.
    Row(Model, String),
}

/// A repair that was attempted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Repaired {
    pub delete: bool,
    pub changed: bool,
    /// It fixes a reported difference (rather than bringing a lagging row forward).
    pub differs: bool,
}

/// What a job found.
#[derive(Debug)]
pub(super) enum Read {
    /// A stream with events, folded and judged against its live row.
    Folded {
        folded: Box<FoldedStream>,
        verdict: Verdict,
        repaired: Option<Repaired>,
    },
    /// A live row no event justifies.
    Orphan {
        verdict: Verdict,
        repaired: Option<Repaired>,
    },
    /// Items under a `streamId` that is not a stream of this system: each is a failure.
    Unreadable {
        events: u64,
        failures: Vec<Failure>,
        /// Failures beyond those kept.
        more: u64,
    },
    /// No events and no live row (the stream vanished since the survey).
    Nothing,
}

/// Which events the live projection has applied: DynamoDB Streams keeps no checkpoint, so an
/// event counts as applied when the row has reached its version, or when it is older than the
/// lag allowance (a row that has not reached it by then is wrong, not late).
#[derive(Debug, Clone, Copy)]
pub(super) struct Applied {
    row_version: Option<u64>,
    cutoff: Timestamp,
    everything: bool,
}

impl Applied {
    pub(super) fn new(
        replay: &DynamoReplay,
        options: &ReplayOptions,
        live: Option<&LiveItem>,
        read_at: Timestamp,
    ) -> Self {
        let allowance = u64::try_from(replay.lag_allowance.as_millis()).unwrap_or(u64::MAX);
        Self {
            row_version: live.map(|l| l.row.version),
            cutoff: Timestamp::from_millis(read_at.as_millis().saturating_sub(allowance)),
            // With `as_of` nothing is compared, so nothing is pending either.
            everything: options.as_of.is_some(),
        }
    }

    pub(super) fn applied(&self, event: &RecordedEvent) -> bool {
        self.everything
            || self.row_version.is_some_and(|v| event.version <= v)
            || event.occurred_at < self.cutoff
    }
}

/// The `version` attribute of an item, as text for a report.
pub(super) fn item_version(item: &Item) -> String {
    match item.get(VERSION) {
        Some(AttributeValue::N(v)) => v.clone(),
        Some(other) => format!("{other:?}"),
        None => "?".to_owned(),
    }
}

impl DynamoReplay {
    /// One page of a stream's events, in version order, strongly consistent.
    pub(super) async fn events_page(
        &self,
        stream: &str,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), ReplayError> {
        let page = self
            .client
            .query()
            .table_name(&self.events_table)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", STREAM_ID)
            .expression_attribute_values(":s", AttributeValue::S(stream.to_owned()))
            .consistent_read(true)
            .set_limit(self.page_limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| ReplayError::dynamo(&self.events_table, &e))?;
        Ok((
            page.items.unwrap_or_default(),
            page.last_evaluated_key.filter(|k| !k.is_empty()),
        ))
    }
}

fn new_fold(ctx: &Ctx, stream: StreamId) -> StreamFold {
    StreamFold::new(stream, &ctx.options).with_audit_until(ctx.audit_until)
}

/// Reads one job: the live row first, then the stream's events page by page into a fold.
async fn read(ctx: Arc<Ctx>, job: Job) -> Result<Read, ReplayError> {
    let (raw, target) = match job {
        Job::Stream(raw) => {
            let target = StreamId::parse(&raw)
                .ok()
                .and_then(|s| Model::of_stream(&s));
            (raw.into_string(), target)
        }
        Job::Row(model, key) => (model.stream_of(&key), Some((model, key))),
    };
    let stream = StreamId::parse(&raw).ok();
    let replay = &ctx.replay;
    let options = &ctx.options;
    let live = match (&target, options.as_of) {
        (Some((model, key)), None) => replay.live_row(*model, key).await?,
        _ => None,
    };
    let applied = Applied::new(replay, options, live.as_ref(), Timestamp::now());
    let mut fold: Option<StreamFold> = None;
    let (mut foreign, mut failures, mut more) = (0_u64, Vec::new(), 0_u64);
    let mut start = None;
    loop {
        let (items, next) = replay.events_page(&raw, start.take()).await?;
        for item in items {
            let version = item_version(&item);
            match (codec::decode(item), &stream) {
                (Ok(event), _) => fold
                    .get_or_insert_with(|| new_fold(&ctx, event.stream_id.clone()))
                    .push(&event, applied.applied(&event)),
                (Err(e), Some(s)) => fold
                    .get_or_insert_with(|| new_fold(&ctx, s.clone()))
                    .unreadable(version, e.to_string()),
                (Err(e), None) => {
                    foreign += 1;
                    if failures.len() < KEEP_FAILURES {
                        failures.push(Failure::Unreadable {
                            stream: raw.clone(),
                            version,
                            detail: e.to_string(),
                        });
                    } else {
                        more += 1;
                    }
                }
            }
        }
        match next {
            Some(key) => start = Some(key),
            None => break,
        }
    }
    if foreign > 0 {
        return Ok(Read::Unreadable {
            events: foreign,
            failures,
            more,
        });
    }
    let Some(fold) = fold else {
        // No events: a live row here is one the log does not justify.
        return Ok(match (live, target) {
            (Some(live), Some((model, _))) => {
                let verdict = judge_orphan(model, &live.row, options);
                let repaired = repair(replay, &verdict, Some(&live)).await?;
                Read::Orphan { verdict, repaired }
            }
            _ => Read::Nothing,
        });
    };
    let folded = fold.finish();
    let verdict = judge(&folded, live.as_ref().map(|l| &l.row), options);
    let repaired = repair(replay, &verdict, live.as_ref()).await?;
    Ok(Read::Folded {
        folded: Box::new(folded),
        verdict,
        repaired,
    })
}

async fn repair(
    replay: &DynamoReplay,
    verdict: &Verdict,
    live: Option<&LiveItem>,
) -> Result<Option<Repaired>, ReplayError> {
    let Some(repair) = &verdict.repair else {
        return Ok(None);
    };
    let changed = replay.apply(repair, live).await?;
    Ok(Some(Repaired {
        delete: matches!(repair, Repair::Delete { .. }),
        changed,
        differs: verdict.difference.is_some(),
    }))
}

/// At most `limit` jobs in flight; results come back in the order the jobs started.
pub(super) struct Window {
    tasks: VecDeque<JoinHandle<Result<Read, ReplayError>>>,
    limit: usize,
}

impl Window {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            tasks: VecDeque::with_capacity(limit),
            limit: limit.max(1),
        }
    }

    /// Starts `job`; when the window is full, waits for the oldest job and returns its result.
    pub(super) async fn start(
        &mut self,
        ctx: &Arc<Ctx>,
        job: Job,
    ) -> Result<Option<Read>, ReplayError> {
        let done = if self.tasks.len() >= self.limit {
            self.next().await.transpose()?
        } else {
            None
        };
        self.tasks
            .push_back(tokio::spawn(read(Arc::clone(ctx), job)));
        Ok(done)
    }

    /// The oldest job's result; `None` when none is left.
    pub(super) async fn next(&mut self) -> Option<Result<Read, ReplayError>> {
        let task = self.tasks.pop_front()?;
        Some(match task.await {
            Ok(result) => result,
            Err(e) => Err(ReplayError::Task(e.to_string())),
        })
    }
}

impl Drop for Window {
    /// A replay that stops early (an error) cancels the reads still in flight.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use order_domain::{EventMeta, GENESIS_HASH, OrderId};

    use super::*;

    fn event(version: u64, at_ms: u64) -> RecordedEvent {
        RecordedEvent::seal(
            OrderId::generate().stream(),
            version - 1,
            GENESIS_HASH,
            ("OrderCompleted", 1, "{}".to_owned()),
            &EventMeta {
                correlation_id: "c".into(),
                causation_id: "r".into(),
                occurred_at: Timestamp::from_millis(at_ms),
                trace_parent: None,
            },
        )
    }

    #[test]
    fn an_event_is_applied_when_the_row_reached_it_or_it_is_older_than_the_allowance() {
        let applied = Applied {
            row_version: Some(3),
            cutoff: Timestamp::from_millis(1_000),
            everything: false,
        };
        assert!(applied.applied(&event(3, 5_000)), "reached by the row");
        assert!(!applied.applied(&event(4, 5_000)), "recent: lag");
        assert!(applied.applied(&event(4, 999)), "old: should be there");
        let no_row = Applied {
            row_version: None,
            ..applied
        };
        assert!(!no_row.applied(&event(1, 5_000)));
        let as_of = Applied {
            everything: true,
            ..no_row
        };
        assert!(as_of.applied(&event(1, 5_000)));
    }
}
