//! The SQLite database: one writer thread that group-commits, and a small pool of readers.
//!
//! All writes go through one thread (SQLite allows one writer anyway). It takes every job that is
//! waiting, runs each inside its own savepoint of one transaction, commits once, and only then
//! answers the jobs: a job's caller never hears "done" for something that was not committed.
//! Readers use WAL snapshots on their own connections, concurrently with the writer.
//!
//! # Layout
//! - `connection`: the settings of every connection ([`tune_connection`]), and the writer's.
//! - `migrations`: the schema, applied at open.
//! - `writer`: the group-committing writer thread ([`Db::write`], [`Db::write_direct`]).
//! - `readers`: the pool of read-only connections ([`Db::read`]).
//! - `checkpointer`: WAL checkpoints off the writer's thread.

mod checkpointer;
mod committed;
mod connection;
mod migrations;
mod readers;
mod writer;

pub use committed::{CommittedFeed, FeedEvent};
pub use connection::tune_connection;

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use checkpointer::spawn_checkpointer;
use connection::configure;
use migrations::migrate;
use readers::reader_count;
use writer::{CommitFailed, Job, log_head, writer_loop};

/// The executions a restart resumes, oldest first: a walk of the partial index
/// `executions_running` (migration 8), which holds only those.
pub const RUNNING_EXECUTIONS: &str =
    "SELECT name FROM executions WHERE status = 'RUNNING' ORDER BY started_at";

/// How writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: a commit survives a process crash (kill -9), and may be
    /// lost only with the machine's power. The default.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced.
    Full,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database writer has stopped")]
    Closed,
    #[error("commit failed: {0}")]
    Commit(String),
}

/// A job's result, or why the batch it was in did not commit.
#[derive(Debug)]
pub enum WriteError<E> {
    Job(E),
    Db(DbError),
}

struct Inner {
    jobs: Mutex<Option<std_mpsc::Sender<Job>>>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader connection: a read waits (asynchronously) for a free connection
    /// instead of opening a new one.
    read_slots: Semaphore,
    read_slots_total: usize,
    path: PathBuf,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    commit_failed: CommitFailed,
    feed: CommittedFeed,
    checkpointer: Mutex<Option<(std_mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

/// The opcodes SQLite compiles `sql` into (its `EXPLAIN`), parameters left unbound: what tests
/// read to prove a statement builds no temporary B-tree (`OpenEphemeral`).
#[cfg(test)]
pub(crate) fn opcodes(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("EXPLAIN {sql}"))?;
    let mut rows = stmt.raw_query();
    let mut ops = Vec::new();
    while let Some(row) = rows.next()? {
        ops.push(row.get(1)?);
    }
    Ok(ops)
}

/// Milliseconds since the Unix epoch, as SQLite stores times here.
pub fn now_ms() -> i64 {
    i64::try_from(order_domain::Timestamp::now().as_millis()).unwrap_or(i64::MAX)
}

impl Db {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, DbError> {
        let mut conn = Connection::open(path)?;
        configure(&conn, durability)?;
        migrate(&mut conn)?;
        // Checkpoints run on their own thread (below), not inside the writer's commits: the
        // writer's own (SQLite's automatic one) only starts once the WAL is past
        // `WAL_RESTART_FRAMES` and copies just the frames the thread has not, so that the WAL
        // restarts from its start instead of growing for as long as the writes never pause.
        conn.pragma_update(None, "wal_autocheckpoint", checkpointer::WAL_RESTART_FRAMES)?;
        let checkpointer = spawn_checkpointer(path)?;
        let (tx, rx) = std_mpsc::channel::<Job>();
        let commit_failed = CommitFailed::default();
        let listeners = Arc::clone(&commit_failed);
        let feed = CommittedFeed::starting_at(log_head(&conn)?);
        let published = feed.clone();
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx, &listeners, &published))
            .map_err(|e| DbError::Commit(e.to_string()))?;
        let readers = reader_count();
        Ok(Self {
            inner: Arc::new(Inner {
                jobs: Mutex::new(Some(tx)),
                readers: Mutex::new(Vec::new()),
                read_slots: Semaphore::new(readers),
                read_slots_total: readers,
                path: path.to_owned(),
                writer: Mutex::new(Some(writer)),
                commit_failed,
                feed,
                checkpointer: Mutex::new(Some(checkpointer)),
            }),
        })
    }

    /// The events of the last commits, for the change feed ([`CommittedFeed`]).
    pub fn feed(&self) -> &CommittedFeed {
        &self.inner.feed
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the writer's transaction (inside its own savepoint: an `Err` undoes only
    /// this job). Resolves after the commit.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, WriteError<E>>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.submit(true, f).await
    }

    /// [`Db::write`] without the savepoint, for a job that refuses before it writes (reads,
    /// checks, decides, then writes): two statements fewer, and none of the pages it changes
    /// copied aside. A failed statement undoes itself, so a job that fails before its first
    /// completed change leaves nothing; one that fails after it (an I/O error, a full disk, or
    /// a job that broke the rule) cannot be undone alone, so the writer rolls the whole commit
    /// back and every job of it fails, as when a commit fails. Jobs it had not run yet go into
    /// the next commit.
    pub async fn write_direct<T, E, F>(&self, f: F) -> Result<T, WriteError<E>>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.submit(false, f).await
    }

    /// Registers `f` to run on the writer thread whenever a commit fails, before the jobs of
    /// that commit are answered (for in-memory state that mirrors what jobs wrote).
    pub fn on_commit_failure(&self, f: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut listeners) = self.inner.commit_failed.lock() {
            listeners.push(Box::new(f));
        }
    }

    /// Stops the writer after the jobs already sent, and waits for it.
    pub fn close(&self) {
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            jobs.take();
        }
        let handle = self.inner.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
        let checkpointer = self
            .inner
            .checkpointer
            .lock()
            .ok()
            .and_then(|mut c| c.take());
        if let Some((stop, h)) = checkpointer {
            drop(stop);
            let _ = h.join();
        }
    }
}
