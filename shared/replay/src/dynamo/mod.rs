//! The replay driver on the AWS host's DynamoDB tables (`orders replay --backend aws`).
//!
//! # Reading a hash-ordered log in bounded memory
//!
//! The core folds one stream at a time, in version order. A Scan returns items in hash order,
//! not grouped per stream, so the log cannot be folded straight off a Scan. The driver makes
//! two passes instead, and never holds more than one page of events per stream in flight:
//!
//! 1. **Survey** ([`DynamoReplay::survey`]): a parallel Scan of the events table (`Segment` /
//!    `TotalSegments`, `ConsistentRead`, projecting only the keys `streamId` and `version`)
//!    collects the distinct stream ids and counts the events. Memory: one id per stream (about
//!    60 bytes: a million order streams, some seven million events, take about 60 MB), never
//!    an event.
//! 2. **Fold** ([`DynamoReplay::replay`]): the streams, in id order, each read by its own
//!    strongly consistent Query (paginated: a page is at most 1 MB) and folded
//!    page by page through [`StreamFold`](crate::StreamFold), with a bounded number of streams
//!    in flight ([`DynamoReplay::with_concurrency`]); results are taken in id order, so the
//!    report is deterministic. Memory: `concurrency` pages and views.
//! 3. **Orphans** (not with `as_of`): a parallel keys-only Scan of OrderStatus and
//!    InventoryTable; a row whose stream the survey did not see is read like a stream (its
//!    stream may have been created since) and otherwise judged unjustified.
//!
//! Each stream's live row is read (consistent GetItem) *before* its events. The projectors
//! write a row only after its event is in the log, so the events read afterwards always reach
//! at least as far as the row: a replay beside a running pipeline never sees a row ahead of the
//! log it folds. A row *behind* the log is projector lag, not a difference, as long as the
//! events it has not reached are recent ([`DynamoReplay::with_lag_allowance`]): DynamoDB
//! Streams keeps no checkpoint replay could read, so "applied" means "at or below the row's
//! `version`, or older than the allowance".
//!
//! The other way, spilling the Scan to a temporary SQLite file and sorting it there, reads
//! the table once instead of twice, but it needs local disk the size of the log and reads the
//! live rows long after the log copy was taken (a row can then be ahead of the copy, which
//! takes a second read to tell from a difference). The per-stream Query reads each stream the
//! way the application and the projectors' refetch read it, so `--verify` judges exactly what
//! they see. Its price: the log is read twice (the survey is charged for whole items even
//! though it projects the keys), plus one Query and one GetItem per stream, latency-bound and
//! overlapped by the concurrency.
//!
//! # Rebuild
//! Each repair is one conditional write, checked by DynamoDB at write time ([`repair`]): a row
//! is put only if absent or not newer (`attribute_not_exists(pk) OR version <= :v`); a row the
//! log does not justify is deleted in a transaction with a condition check that its stream has
//! still nothing past the version replay folded, and only if the row is still the one judged.

mod live;
mod order;
pub mod repair;
mod scan;
mod stream;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use aws_sdk_dynamodb;
use aws_sdk_dynamodb::Client;
use order_aws::config::{
    ConfigError, EVENTS_TABLE, INVENTORY_TABLE, ORDER_STATUS_TABLE, load_sdk_config, require_env,
};
use order_aws::errors::describe;
use order_domain::Timestamp;

use crate::fold::ReplayOptions;
use crate::observer::Observer;
use crate::summary::{KEEP, RebuildStats, Summary};
use crate::view::Model;
use stream::{Job, Read, Repaired, Window};

/// Scan segments by default (`TotalSegments`).
pub const DEFAULT_SEGMENTS: u32 = 4;
/// Streams read at once by default.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// How old an event must be before a live row that has not reached it counts as different
/// rather than lagging, by default.
pub const DEFAULT_LAG_ALLOWANCE: Duration = Duration::from_mins(1);

/// Why a replay could not run (as opposed to finding differences, which is its result).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A DynamoDB request failed (after the SDK's own retries).
    #[error("{table}: {detail}")]
    Dynamo { table: String, detail: String },
    /// An item of the order asked for with `--order` cannot be read as an event.
    #[error("{stream} version {version}: stored item is unreadable: {detail}")]
    Unreadable {
        stream: String,
        version: String,
        detail: String,
    },
    /// A reading task panicked or was cancelled.
    #[error("a replay task failed: {0}")]
    Task(String),
}

impl ReplayError {
    fn dynamo(table: &str, err: &(impl std::error::Error + 'static)) -> Self {
        Self::Dynamo {
            table: table.to_owned(),
            detail: describe(err),
        }
    }
}

/// The tables of the contract and how to read them.
#[derive(Debug, Clone)]
pub struct DynamoReplay {
    client: Client,
    events_table: String,
    order_status_table: String,
    inventory_table: String,
    segments: u32,
    concurrency: usize,
    lag_allowance: Duration,
    page_limit: Option<i32>,
}

impl DynamoReplay {
    pub fn new(
        client: Client,
        events_table: impl Into<String>,
        order_status_table: impl Into<String>,
        inventory_table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            events_table: events_table.into(),
            order_status_table: order_status_table.into(),
            inventory_table: inventory_table.into(),
            segments: DEFAULT_SEGMENTS,
            concurrency: DEFAULT_CONCURRENCY,
            lag_allowance: DEFAULT_LAG_ALLOWANCE,
            page_limit: None,
        }
    }

    /// The tables named by `EVENTS_TABLE`, `ORDER_STATUS_TABLE` and `INVENTORY_TABLE`, on a
    /// client from the default SDK configuration (`AWS_ENDPOINT_URL` for an emulator).
    pub async fn from_env() -> Result<Self, ReplayError> {
        let events = require_env(EVENTS_TABLE)?;
        let status = require_env(ORDER_STATUS_TABLE)?;
        let inventory = require_env(INVENTORY_TABLE)?;
        let config = load_sdk_config().await?;
        Ok(Self::new(Client::new(&config), events, status, inventory))
    }

    /// Scans in `segments` parallel segments (at least 1).
    #[must_use]
    pub fn with_segments(mut self, segments: u32) -> Self {
        self.segments = segments.clamp(1, 1_000_000);
        self
    }

    /// Reads at most `streams` streams at once (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, streams: usize) -> Self {
        self.concurrency = streams.max(1);
        self
    }

    /// A live row behind the log is lagging, not different, while the events it has not
    /// reached are younger than `allowance` (0: every row must be at the log's head).
    #[must_use]
    pub fn with_lag_allowance(mut self, allowance: Duration) -> Self {
        self.lag_allowance = allowance;
        self
    }

    /// Caps every Scan and Query page at `items` (DynamoDB's own cap is 1 MB); tests use it to
    /// cross pages.
    #[must_use]
    pub fn with_page_limit(mut self, items: i32) -> Self {
        self.page_limit = Some(items.max(1));
        self
    }

    pub fn events_table(&self) -> &str {
        &self.events_table
    }

    fn table_of(&self, model: Model) -> (&str, &'static str) {
        match model {
            Model::OrderStatus => (&self.order_status_table, live::ORDER_KEY),
            Model::Inventory => (&self.inventory_table, live::PRODUCT_KEY),
        }
    }

    /// Pass 1: the distinct streams of the log and its number of events.
    pub async fn survey(&self) -> Result<Survey, ReplayError> {
        let started = Instant::now();
        let started_at = Timestamp::now();
        let mut pages = scan::keys(
            &self.client,
            &self.events_table,
            &[order_aws::codec::STREAM_ID, order_aws::codec::VERSION],
            self.segments,
            self.page_limit,
        );
        let mut streams = std::collections::HashSet::<Box<str>>::new();
        let mut events = 0_u64;
        while let Some(page) = pages.recv().await {
            for item in page? {
                events += 1;
                let id = item
                    .get(order_aws::codec::STREAM_ID)
                    .and_then(|v| v.as_s().ok())
                    .map_or("", String::as_str);
                if !streams.contains(id) {
                    streams.insert(id.into());
                }
            }
        }
        let mut streams: Vec<Box<str>> = streams.into_iter().collect();
        streams.sort_unstable();
        Ok(Survey {
            streams,
            events,
            started,
            started_at,
        })
    }

    /// Surveys the log, then replays it (see [`DynamoReplay::replay`]).
    pub async fn replay_all(
        &self,
        options: &ReplayOptions,
        observer: &mut dyn Observer,
    ) -> Result<Summary, ReplayError> {
        let survey = self.survey().await?;
        self.replay(&survey, options, observer).await
    }

    /// Pass 2 and 3: folds every surveyed stream through the shared projections, verifies
    /// chains (with `verify`), compares with the live read models (unless `as_of`), and
    /// repairs them (with `rebuild`).
    pub async fn replay(
        &self,
        survey: &Survey,
        options: &ReplayOptions,
        observer: &mut dyn Observer,
    ) -> Result<Summary, ReplayError> {
        // The audit's stock check counts an append on every stream it spans or on none: only
        // events stamped before the survey began, less the lag allowance (an append is
        // stamped, then written within moments), which every stream read after it holds.
        let allowance = u64::try_from(self.lag_allowance.as_millis()).unwrap_or(u64::MAX);
        let cut = survey.started_at.as_millis().saturating_sub(allowance);
        let ctx = Arc::new(stream::Ctx {
            replay: self.clone(),
            options: *options,
            audit_until: Some(Timestamp::from_millis(cut)),
        });
        let mut tally = Tally {
            summary: Summary::new(*options),
            observer,
            read: 0,
        };
        let mut window = Window::new(self.concurrency);
        for raw in &survey.streams {
            if let Some(done) = window.start(&ctx, Job::Stream(raw.clone())).await? {
                tally.record(done);
            }
        }
        if options.as_of.is_none() {
            for model in [Model::OrderStatus, Model::Inventory] {
                let (table, key_attr) = self.table_of(model);
                let mut pages = scan::keys(
                    &self.client,
                    table,
                    &[key_attr],
                    self.segments,
                    self.page_limit,
                );
                while let Some(page) = pages.recv().await {
                    for item in page? {
                        let key = item
                            .get(key_attr)
                            .and_then(|v| v.as_s().ok())
                            .cloned()
                            .unwrap_or_default();
                        if survey.contains(&model.stream_of(&key)) {
                            continue;
                        }
                        if let Some(done) = window.start(&ctx, Job::Row(model, key)).await? {
                            tally.record(done);
                        }
                    }
                }
            }
        }
        while let Some(done) = window.next().await {
            tally.record(done?);
        }
        tally.observer.progress(tally.read);
        let mut summary = tally.summary;
        summary.finish();
        summary.elapsed = survey.started.elapsed();
        Ok(summary)
    }
}

/// What pass 1 found: every stream id of the log, sorted, and the number of events.
#[derive(Debug, Clone)]
pub struct Survey {
    streams: Vec<Box<str>>,
    events: u64,
    started: Instant,
    /// When the survey began, by the wall clock events are stamped with.
    started_at: Timestamp,
}

impl Survey {
    /// Events the Scan saw (for a progress bar's length).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Distinct streams.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    fn contains(&self, stream: &str) -> bool {
        self.streams.binary_search_by(|s| (**s).cmp(stream)).is_ok()
    }
}

/// The summary being built, in stream order.
struct Tally<'a> {
    summary: Summary,
    observer: &'a mut dyn Observer,
    read: u64,
}

impl Tally<'_> {
    fn record(&mut self, read: Read) {
        match read {
            Read::Folded {
                folded,
                verdict,
                repaired,
            } => {
                let folded = *folded;
                self.read += folded.events;
                self.summary.record(&folded, &verdict);
                if let Some(v) = &folded.rebuilt {
                    self.observer.view(v);
                }
                self.repaired(repaired);
            }
            Read::Orphan { verdict, repaired } => {
                self.summary.record_orphan(&verdict);
                self.repaired(repaired);
            }
            Read::Unreadable {
                events,
                failures,
                more,
            } => {
                self.read += events;
                self.summary.events += events;
                for f in failures {
                    self.summary.record_failure(f);
                }
                self.summary.failures += more;
            }
            Read::Nothing => {}
        }
        self.observer.progress(self.read);
    }

    fn repaired(&mut self, repaired: Option<Repaired>) {
        let Some(r) = repaired else { return };
        let stats: &mut RebuildStats = &mut self.summary.rebuild;
        match (r.delete, r.changed) {
            (false, true) => stats.written += 1,
            (true, true) => stats.deleted += 1,
            (_, false) => {
                stats.kept += 1;
                if r.differs {
                    stats.unresolved += 1;
                }
            }
        }
    }
}

/// Failures an unreadable stream reports one by one (the rest are counted).
const KEEP_FAILURES: usize = KEEP;
