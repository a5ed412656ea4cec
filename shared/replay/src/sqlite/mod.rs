//! The replay driver on the embedded database (`DATA_DIR/orders.db`).
//!
//! One pass on one thread: `source` walks the log and the live tables in one snapshot and
//! hands each event, stream end and orphan row to the folding side here, which folds, verifies,
//! compares and, with `rebuild`, queues repairs for the [`Repairer`]. Memory holds one stream's
//! view and one reused event row, whatever the size of the log.
//!
//! One thread is measured, not assumed: a reader thread handing rows to a folding thread in
//! recycled batches used about 40 % more CPU for the hand-over and was slower on this 2-core
//! machine whenever anything else ran on it.

mod order;
mod raw;
mod repair;
mod row;
mod source;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use order_domain::StreamId;
use rusqlite::{Connection, OpenFlags};

pub use order::{OrderReport, order_report};
pub use raw::{RawRead, count_events, read_and_decode, read_and_decode_owned};
pub use repair::{Repairer, apply as apply_repair};
pub use row::{EVENT_COLUMNS, EventRow};

use crate::compare::LiveRow;
use crate::fold::{Failure, ReplayOptions, StreamFold};
use crate::judge::{Verdict, judge, judge_orphan};
use crate::observer::Observer;
use crate::summary::Summary;
use crate::view::Model;
use source::Sink;

/// The database file inside a data directory (as `order_runtime::Pipeline` names it).
pub const DATABASE_FILE: &str = "orders.db";

/// How much of the database file a reader maps (SQLite clamps it to its compile-time cap).
const MMAP_BYTES: i64 = 1 << 40;

/// Events between two progress reports.
const PROGRESS_EVERY: u64 = 16_384;

/// Why a replay could not run (as opposed to finding differences, which is its result).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Nothing to replay: the path holds no database. A wrong `--data-dir` is the usual cause.
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The database of a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}

/// Opens a read-only connection tuned for one long pass. Never creates a database.
pub fn open_reader(path: &Path) -> Result<Connection, ReplayError> {
    if !path.is_file() {
        return Err(ReplayError::NoDatabase(path.to_owned()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // Plans from keys, not bound values: no re-parse per binding (see order_embedded::db).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // A bounded page cache (64 MiB), and the whole file memory-mapped (up to SQLite's cap,
    // 2 GiB as built): the stream-ordered scan looks up each row's table page by rowid, and a
    // mapped page is read in place where a cached one is copied out of the kernel first
    // (`replay-bench`: replay 553k -> 652k events/s, the raw read 1.16M -> 1.32M). Mapped
    // pages are the kernel's page cache, shared and evictable, not this process's heap.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    Ok(conn)
}

/// Replays the whole log of the database at `path`: folds every stream through the shared
/// projections, verifies chains (with `verify`), compares with the live read models (unless
/// `as_of`), and repairs them (with `rebuild`).
pub fn replay(
    path: &Path,
    options: &ReplayOptions,
    observer: &mut dyn Observer,
) -> Result<Summary, ReplayError> {
    let started = Instant::now();
    let reader = open_reader(path)?;
    let mut folder = Folder {
        options,
        observer,
        summary: Summary::new(*options),
        repairer: if options.rebuild {
            Some(Repairer::open(path)?)
        } else {
            None
        },
        fold: None,
        row: EventRow::default(),
        read: 0,
        reported: 0,
    };
    source::read(&reader, options, &mut folder)?;
    if let Some(r) = &mut folder.repairer {
        r.flush(&mut folder.summary.rebuild)?;
    }
    folder.observer.progress(folder.read);
    let mut summary = folder.summary;
    summary.finish();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The folding side of a replay.
struct Folder<'a> {
    options: &'a ReplayOptions,
    observer: &'a mut dyn Observer,
    summary: Summary,
    repairer: Option<Repairer>,
    fold: Option<StreamFold>,
    /// The row the reader refills for each event.
    row: EventRow,
    read: u64,
    reported: u64,
}

impl Folder<'_> {
    fn count(&mut self) {
        self.read += 1;
        if self.read - self.reported >= PROGRESS_EVERY {
            self.observer.progress(self.read);
            self.reported = self.read;
        }
    }

    fn repair(&mut self, verdict: Verdict) -> Result<(), ReplayError> {
        if let (Some(r), Some(repair)) = (&mut self.repairer, verdict.repair) {
            r.push(
                repair,
                verdict.difference.is_some(),
                &mut self.summary.rebuild,
            )?;
        }
        Ok(())
    }
}

/// The reader's side of the folder.
impl Sink for Folder<'_> {
    fn next_row(&mut self) -> &mut EventRow {
        &mut self.row
    }

    fn event(&mut self, projected: bool) -> Result<(), ReplayError> {
        self.count();
        let event = self.row.event();
        self.fold
            .get_or_insert_with(|| StreamFold::new(event.stream_id.clone(), self.options))
            .push(event, projected);
        Ok(())
    }

    fn unreadable(
        &mut self,
        stream: Option<StreamId>,
        raw_stream: &str,
        version: String,
        detail: String,
    ) -> Result<(), ReplayError> {
        self.count();
        match (&mut self.fold, stream) {
            (Some(f), _) => f.unreadable(version, detail),
            (None, Some(s)) => {
                let mut f = StreamFold::new(s, self.options);
                f.unreadable(version, detail);
                self.fold = Some(f);
            }
            (None, None) => {
                self.summary.events += 1;
                self.summary.record_failure(Failure::Unreadable {
                    stream: raw_stream.to_owned(),
                    version,
                    detail,
                });
            }
        }
        Ok(())
    }

    fn end(&mut self, live: Option<LiveRow>) -> Result<(), ReplayError> {
        let Some(f) = self.fold.take() else {
            return Ok(());
        };
        let folded = f.finish();
        let verdict = judge(&folded, live.as_ref(), self.options);
        self.summary.record(&folded, &verdict);
        if let Some(v) = &folded.rebuilt {
            self.observer.view(v);
        }
        self.repair(verdict)
    }

    fn orphan(&mut self, model: Model, row: LiveRow) -> Result<(), ReplayError> {
        let verdict = judge_orphan(model, &row, self.options);
        self.summary.record_orphan(&verdict);
        self.repair(verdict)
    }
}
