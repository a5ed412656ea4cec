//! The one writer: a thread that takes every job waiting, runs each in its own savepoint of
//! one transaction, commits once, and only then answers the jobs.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{CommittedFeed, Db, DbError, WriteError};

/// Most jobs one commit takes.
const MAX_GROUP: usize = 256;

pub(super) type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job runs on the writer's connection and says whether it succeeded (a failed job's staged
/// feed events are dropped) and how to answer it once the commit is known.
pub(super) type Job = Box<dyn FnOnce(&Connection) -> (Completion, bool) + Send>;
/// Called on the writer thread when a commit fails, before any job hears of it.
pub(super) type CommitFailed = Arc<Mutex<Vec<Box<dyn Fn() + Send + Sync>>>>;

impl Db {
    pub(super) async fn submit<T, E, F>(&self, savepoint: bool, f: F) -> Result<T, WriteError<E>>
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
            let ok = result.is_ok();
            let answer: Completion = Box::new(move |commit: Result<(), String>| {
                let answer = match commit {
                    Ok(()) => result,
                    Err(e) => Err(WriteError::Db(DbError::Commit(e))),
                };
                let _ = tx.send(answer);
            });
            (answer, ok)
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

/// Runs one statement from the connection's cache (the writer runs these thousands of times a
/// second; `execute_batch` would parse them every time).
pub fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// The log's highest position (0 when empty): a rowid maximum, one b-tree descent.
pub(super) fn log_head(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")?
        .query_row([], |r| r.get(0))
}

/// How long the writer waits awake for a next job before it parks. Under load the next job
/// comes within microseconds, and a parked writer costs every job a wake-up (a futex call by
/// its sender, a context switch for the writer): with the writer awake for 50 µs the closed loop
/// ran 4,717 against 4,474 orders/s at 304 against 322 µs of CPU per order (medians of 6
/// alternating rounds, BENCHMARKS.md "After issue 16, third part"). An idle server parks it
/// 50 µs after its last job.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The next job, or `None` once every sender is gone (the database closed).
fn next_job(rx: &std_mpsc::Receiver<Job>) -> Option<Job> {
    let start = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(std_mpsc::TryRecvError::Disconnected) => return None,
            Err(std_mpsc::TryRecvError::Empty) if start.elapsed() < SPIN => {
                std::hint::spin_loop();
            }
            Err(std_mpsc::TryRecvError::Empty) => return rx.recv().ok(),
        }
    }
}

pub(super) fn writer_loop(
    conn: &Connection,
    rx: &std_mpsc::Receiver<Job>,
    commit_failed: &CommitFailed,
    feed: &CommittedFeed,
) {
    while let Some(first) = next_job(rx) {
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
        let completions: Vec<Completion> = batch
            .into_iter()
            .map(|job| {
                let mark = feed.staged_len();
                let (completion, ok) = job(conn);
                if !ok {
                    feed.unstage(mark);
                }
                completion
            })
            .collect();
        // Read inside the transaction: whatever this commit inserted, staged or not.
        let head = log_head(conn);
        let commit = run_cached(conn, "COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            feed.commit_failed();
            if let Ok(listeners) = commit_failed.lock() {
                for f in listeners.iter() {
                    f();
                }
            }
            e.to_string()
        });
        if commit.is_ok() {
            match head {
                Ok(head) => feed.committed(head),
                Err(_) => feed.head_unknown(),
            }
        }
        for c in completions {
            c(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, Durability};

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
}
