//! The SQLite database: one writer thread that group-commits, and a small pool of readers.
//!
//! All writes go through one thread (SQLite allows one writer anyway). It takes every job that is
//! waiting, runs each inside its own savepoint of one transaction, commits once, and only then
//! answers the jobs: a job's caller never hears "done" for something that was not committed.
//! Readers use WAL snapshots on their own connections, concurrently with the writer.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, oneshot};

/// Migrations, applied in order; each runs once (tracked in `schema_migrations`).
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../../migrations/0001_init.sql"))];

/// Most jobs one commit takes.
const MAX_GROUP: usize = 256;

/// How many reads run at once: a few per core. More would only queue inside SQLite and the
/// kernel, and every extra connection pays for parsing the schema again.
fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (n.get() * 2).clamp(4, 16))
}

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

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;
/// Called on the writer thread when a commit fails, before any job hears of it.
type CommitFailed = Arc<Mutex<Vec<Box<dyn Fn() + Send + Sync>>>>;

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
    checkpointer: Mutex<Option<(std_mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

/// Settings every connection to the database gets, reader or writer.
///
/// The query planner stability guarantee (QPSG) keeps a prepared statement's plan when new
/// values are bound. Without it, SQLite re-prepares a statement on every run whose plan could
/// depend on a bound value (`version > ?2` qualifies), and the profile of the pipeline showed
/// parsing SQL as its largest single cost. Our plans come from the schema's keys, not from
/// values, so nothing is lost.
pub fn tune_connection(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    tune_connection(conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        },
    )?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if !done {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, now_ms()],
            )?;
            tracing::info!(version, "applied migration");
        }
        tx.commit()?;
    }
    Ok(())
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
        // Checkpoints run on their own thread (below), not inside the writer's commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = spawn_checkpointer(path)?;
        let (tx, rx) = std_mpsc::channel::<Job>();
        let commit_failed = CommitFailed::default();
        let listeners = Arc::clone(&commit_failed);
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx, &listeners))
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
                checkpointer: Mutex::new(Some(checkpointer)),
            }),
        })
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

    /// [`Db::write`] without the savepoint, for a job whose only write is one statement and
    /// that cannot fail after it: a failed statement undoes itself, so nothing is left half
    /// done. It saves two statements per job on the one thread every write goes through.
    pub async fn write_statement<T, E, F>(&self, f: F) -> Result<T, WriteError<E>>
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

    async fn submit<T, E, F>(&self, savepoint: bool, f: F) -> Result<T, WriteError<E>>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = if savepoint {
                run_in_savepoint(conn, f)
            } else {
                f(conn).map_err(WriteError::Job)
            };
            Box::new(move |commit: Result<(), String>| {
                let answer = match commit {
                    Ok(()) => result,
                    Err(e) => Err(WriteError::Db(DbError::Commit(e))),
                };
                let _ = tx.send(answer);
            })
        });
        let sender = self
            .inner
            .jobs
            .lock()
            .map_err(|_| WriteError::Db(DbError::Closed))?
            .clone()
            .ok_or(WriteError::Db(DbError::Closed))?;
        sender
            .send(job)
            .map_err(|_| WriteError::Db(DbError::Closed))?;
        rx.await.map_err(|_| WriteError::Db(DbError::Closed))?
    }

    /// Runs `f` on a reader connection (a WAL snapshot) off the async threads. At most
    /// [`reader_count`] reads run at once, each on a pooled connection that keeps its prepared
    /// statements.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _slot = self
            .inner
            .read_slots
            .acquire()
            .await
            .map_err(|_| DbError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().ok().and_then(|mut r| r.pop());
            let conn = if let Some(c) = conn {
                c
            } else {
                let c = Connection::open_with_flags(
                    &inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                tune_connection(&c)?;
                c
            };
            let result = f(&conn);
            // A read whose caller went away frees its permit before its connection comes back,
            // so the pool can briefly hold more than the permits; it never keeps more.
            if let Ok(mut readers) = inner.readers.lock()
                && readers.len() < inner.read_slots_total
            {
                readers.push(conn);
            }
            result.map_err(DbError::from)
        })
        .await
        .map_err(|_| DbError::Closed)?
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

fn run_in_savepoint<T, E>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, WriteError<E>> {
    if let Err(e) = run_cached(conn, "SAVEPOINT job") {
        return Err(WriteError::Db(e.into()));
    }
    let r = f(conn);
    let end = if r.is_ok() {
        run_cached(conn, "RELEASE job")
    } else {
        run_cached(conn, "ROLLBACK TO job").and_then(|()| run_cached(conn, "RELEASE job"))
    };
    match end {
        Ok(()) => r.map_err(WriteError::Job),
        Err(e) => Err(WriteError::Db(e.into())),
    }
}

/// How often the checkpointer copies committed WAL frames into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Moves WAL checkpoints off the writer thread. With SQLite's automatic checkpoints, the commit
/// that crossed 1,000 WAL pages copied them all before answering its jobs: a twentieth of the
/// writer's time, and a latency spike for every job in that group. A PASSIVE checkpoint on its
/// own connection never blocks the writer or the readers; it copies what no reader still needs.
fn spawn_checkpointer(
    path: &Path,
) -> Result<(std_mpsc::Sender<()>, std::thread::JoinHandle<()>), DbError> {
    let conn = Connection::open(path)?;
    tune_connection(&conn)?;
    let (stop, stopped) = std_mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(std_mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                }
            }
        })
        .map_err(|e| DbError::Commit(e.to_string()))?;
    Ok((stop, handle))
}

/// Runs one statement from the connection's cache (the writer runs these thousands of times a
/// second; `execute_batch` would parse them every time).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn writer_loop(conn: &Connection, rx: &std_mpsc::Receiver<Job>, commit_failed: &CommitFailed) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let begin = run_cached(conn, "BEGIN IMMEDIATE");
        if let Err(e) = begin {
            for job in batch {
                // Run nothing; answer every job with the failure.
                drop(job);
                tracing::error!(error = %e, "could not begin a write transaction");
            }
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(conn)).collect();
        let commit = run_cached(conn, "COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            if let Ok(listeners) = commit_failed.lock() {
                for f in listeners.iter() {
                    f();
                }
            }
            e.to_string()
        });
        for c in completions {
            c(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    #[tokio::test]
    async fn a_failed_job_is_undone_alone_while_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let ok = db.write(|c| {
            c.execute(
                "INSERT INTO alarms (name, state, updated_at) VALUES ('a', 'OK', 0)",
                [],
            )
            .map(|_| ())
        });
        let bad = db.write(|c| {
            c.execute(
                "INSERT INTO alarms (name, state, updated_at) VALUES ('b', 'OK', 0)",
                [],
            )?;
            Err::<(), rusqlite::Error>(rusqlite::Error::QueryReturnedNoRows)
        });
        let (ok, bad) = tokio::join!(ok, bad);
        assert!(ok.is_ok());
        assert!(matches!(bad, Err(WriteError::Job(_))));
        let names: Vec<String> = db
            .read(|c| {
                let mut s = c.prepare("SELECT name FROM alarms ORDER BY name")?;
                s.query_map([], |r| r.get(0))?.collect()
            })
            .await
            .unwrap();
        assert_eq!(names, vec!["a".to_owned()]);
        db.close();
    }

    /// A hot read with a range on a bound value (the stream query) runs from its cached plan:
    /// binding new values must not make SQLite parse the SQL again.
    #[tokio::test]
    async fn reads_reuse_their_prepared_statements_across_new_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let sql =
            "SELECT payload FROM events WHERE stream_id = ?1 AND version > ?2 ORDER BY version";
        let mut reprepared = 0;
        for after in 0..20_i64 {
            reprepared = db
                .read(move |c| {
                    let mut s = c.prepare_cached(sql)?;
                    let n = s
                        .query_map(rusqlite::params!["order-x", after], |_| Ok(()))?
                        .count();
                    assert_eq!(n, 0);
                    Ok(s.get_status(rusqlite::StatementStatus::RePrepare))
                })
                .await
                .unwrap()
                .max(reprepared);
        }
        assert_eq!(
            reprepared, 0,
            "the statement was parsed again after a new binding"
        );
        db.close();
    }

    /// Commits do not checkpoint (the writer has `wal_autocheckpoint` off), yet the committed
    /// pages reach the database file: the checkpointer thread copies them.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = Db::open(&path, Durability::Normal).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        for i in 0..50 {
            db.write(move |c| {
                for j in 0..40 {
                    c.execute(
                        "INSERT INTO alarms (name, state, updated_at) VALUES (?1, ?2, 0)",
                        params![format!("alarm-{i}-{j}"), "x".repeat(500)],
                    )?;
                }
                Ok::<_, rusqlite::Error>(())
            })
            .await
            .unwrap();
        }
        let mut grown = false;
        for _ in 0..50 {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            if std::fs::metadata(&path).unwrap().len() > before + 500_000 {
                grown = true;
                break;
            }
        }
        assert!(grown, "no checkpoint copied the WAL into the database file");
        db.close();
    }

    #[test]
    fn migrations_apply_once_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Db::open(&path, Durability::Normal).unwrap().close();
        Db::open(&path, Durability::Full).unwrap().close();
    }
}
