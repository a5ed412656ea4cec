//! The one writer: a thread that takes every job waiting, runs each in one transaction (in a
//! savepoint of its own, or directly when it refuses before it writes), commits once, and only
//! then answers the jobs.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{CommittedFeed, Db, DbError, WriteError};

/// Most jobs one commit takes.
const MAX_GROUP: usize = 256;

pub(super) type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job runs on the writer's connection and says what it left in the transaction (a failed
/// job's staged feed events are dropped) and how to answer it once the commit is known.
pub(super) type Job = Box<dyn FnOnce(&Connection) -> (Completion, Left) + Send>;
/// Called on the writer thread when a commit fails, before any job hears of it.
pub(super) type CommitFailed = Arc<Mutex<Vec<Box<dyn Fn() + Send + Sync>>>>;

/// What a job left in the writer's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Left {
    /// Its writes: it succeeded.
    Writes,
    /// Nothing: it failed, and its savepoint was rolled back or it failed before writing.
    Nothing,
    /// Writes of a failed job that nothing can undo alone (it failed after writing without a
    /// savepoint, or SQLite rolled the whole transaction back): the commit must not happen.
    Broken,
}

impl Db {
    pub(super) async fn submit<T, E, F>(&self, savepoint: bool, f: F) -> Result<T, WriteError<E>>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let (result, left) = if savepoint {
                run_in_savepoint(conn, f)
            } else {
                run_direct(conn, f)
            };
            // SQLite rolls a transaction back itself after some errors (a full disk, an I/O
            // error): then nothing of the batch is left to commit.
            let left = if conn.is_autocommit() {
                Left::Broken
            } else {
                left
            };
            let answer: Completion = Box::new(move |commit: Result<(), String>| {
                let answer = match (commit, result) {
                    (Ok(()), result) => result,
                    // A job that failed says why, whether or not its batch committed.
                    (Err(_), Err(e)) => Err(e),
                    (Err(e), Ok(_)) => Err(WriteError::Db(DbError::Commit(e))),
                };
                let _ = tx.send(answer);
            });
            (answer, left)
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
) -> (Result<T, WriteError<E>>, Left) {
    if let Err(e) = run_cached(conn, "SAVEPOINT job") {
        return (Err(WriteError::Db(e.into())), Left::Nothing);
    }
    let r = f(conn);
    let end = if r.is_ok() {
        run_cached(conn, "RELEASE job")
    } else {
        run_cached(conn, "ROLLBACK TO job").and_then(|()| run_cached(conn, "RELEASE job"))
    };
    match (end, r) {
        (Ok(()), Ok(v)) => (Ok(v), Left::Writes),
        (Ok(()), Err(e)) => (Err(WriteError::Job(e)), Left::Nothing),
        // The savepoint could not be ended: what the job did cannot be told apart.
        (Err(e), _) => (Err(WriteError::Db(e.into())), Left::Broken),
    }
}

/// A job without a savepoint of its own: two statements fewer, and no page of the job copied
/// aside (a savepoint copies every page its job changes that the transaction already had:
/// 2.5 % of the pipeline's instructions). Its failure leaves nothing only if it came before
/// the job's first completed change, which SQLite's count of changed rows tells.
fn run_direct<T, E>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> (Result<T, WriteError<E>>, Left) {
    let before = conn.total_changes();
    match f(conn) {
        Ok(v) => (Ok(v), Left::Writes),
        Err(e) if conn.total_changes() == before => (Err(WriteError::Job(e)), Left::Nothing),
        Err(e) => (Err(WriteError::Job(e)), Left::Broken),
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

/// Undoes the writer's transaction and everything that mirrors it in memory (the staged feed,
/// the caches registered with [`Db::on_commit_failure`]); returns why, for the batch's jobs.
fn roll_back(
    conn: &Connection,
    feed: &CommittedFeed,
    commit_failed: &CommitFailed,
    why: String,
) -> String {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    feed.commit_failed();
    if let Ok(listeners) = commit_failed.lock() {
        for f in listeners.iter() {
            f();
        }
    }
    why
}

pub(super) fn writer_loop(
    conn: &Connection,
    rx: &std_mpsc::Receiver<Job>,
    commit_failed: &CommitFailed,
    feed: &CommittedFeed,
) {
    // Jobs a broken batch did not reach: the next transaction runs them first.
    let mut carried: Vec<Job> = Vec::new();
    loop {
        let mut batch = if carried.is_empty() {
            // Parked until a job comes (or every sender is gone: the database closed). The
            // writer shares two cores with the tokio workers that make its jobs, and awake it
            // only took their time: spinning 50 µs for a next job (as it did from the third
            // part of issue 16) cost 7–8 % more CPU per order below capacity (2,000 and 4,000
            // orders/s: ten of ten alternated rounds higher) and bought nothing the rounds at
            // capacity could tell (BENCHMARKS.md, "After issue 16, thirty-third part").
            match rx.recv() {
                Ok(first) => vec![first],
                Err(_) => return,
            }
        } else {
            std::mem::take(&mut carried)
        };
        // Everything waiting, and no more: the group commits without waiting for jobs still to
        // come. Below capacity that leaves a few jobs per commit, each commit paying its frames,
        // locks and wake-ups alone; a window for fuller groups saved a fifth of the CPU at
        // 2,000 orders/s and doubled the POST p50 (BENCHMARKS.md, "After issue 16,
        // twenty-eighth part"), so latency wins.
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
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        let mut jobs = batch.into_iter();
        let mut broken = false;
        for job in jobs.by_ref() {
            let mark = feed.staged_len();
            let (completion, left) = job(conn);
            completions.push(completion);
            match left {
                Left::Writes => {}
                Left::Nothing => feed.unstage(mark),
                Left::Broken => {
                    broken = true;
                    break;
                }
            }
        }
        carried.extend(jobs);
        let commit = if broken {
            Err(roll_back(
                conn,
                feed,
                commit_failed,
                "rolled back: a job of the same commit failed after writing".to_owned(),
            ))
        } else {
            // Read inside the transaction: whatever this commit inserted, staged or not.
            let head = log_head(conn);
            let commit = run_cached(conn, "COMMIT")
                .map_err(|e| roll_back(conn, feed, commit_failed, e.to_string()));
            if commit.is_ok() {
                match head {
                    Ok(head) => feed.committed(head),
                    Err(_) => feed.head_unknown(),
                }
            }
            commit
        };
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

    fn insert(name: &'static str) -> impl Fn(&Connection) -> rusqlite::Result<usize> + Send {
        move |c| {
            c.execute(
                "INSERT INTO alarms (name, state, updated_at) VALUES (?1, 'OK', 0)",
                [name],
            )
        }
    }

    async fn names(db: &Db) -> Vec<String> {
        db.read(|c| {
            let mut s = c.prepare("SELECT name FROM alarms ORDER BY name")?;
            s.query_map([], |r| r.get(0))?.collect()
        })
        .await
        .unwrap()
    }

    type SentJob = Box<dyn Fn(&Connection) -> rusqlite::Result<usize> + Send>;

    /// Sends three direct jobs while a sleeping job holds the writer's thread, so that one
    /// commit takes them in the order sent: an insert of "a", `middle`, an insert of "c".
    /// Their answers, once the commit (and any commit after it) is known.
    async fn one_commit_of(
        db: &Db,
        middle: fn(&Connection) -> rusqlite::Result<usize>,
    ) -> Vec<Result<usize, String>> {
        let held = {
            let db = db.clone();
            tokio::spawn(async move {
                db.write_direct(|_| {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok::<_, rusqlite::Error>(())
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut jobs = Vec::new();
        let sent: [SentJob; 3] = [
            Box::new(insert("a")),
            Box::new(middle),
            Box::new(insert("c")),
        ];
        for job in sent {
            let db = db.clone();
            jobs.push(tokio::spawn(async move {
                db.write_direct(job).await.map_err(|e| format!("{e:?}"))
            }));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut answers = Vec::new();
        for j in jobs {
            answers.push(j.await.unwrap());
        }
        held.await.unwrap().unwrap();
        answers
    }

    /// A direct job (no savepoint) that fails before its first write leaves nothing, and the
    /// jobs around it commit.
    #[tokio::test]
    async fn a_direct_job_refused_before_writing_leaves_its_commit_whole() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let answers = one_commit_of(&db, |_| Err(rusqlite::Error::QueryReturnedNoRows)).await;
        assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
        assert!(
            answers[1].as_ref().unwrap_err().starts_with("Job("),
            "{answers:?}"
        );
        assert_eq!(names(&db).await, ["a", "c"]);
        db.close();
    }

    /// A direct job that fails after writing cannot be undone alone: its whole commit is
    /// rolled back (the job before it in the same commit fails too, and the committed feed and
    /// caches forget what they staged), and the job after it, not yet run, goes into the next
    /// commit.
    #[tokio::test]
    async fn a_direct_job_failing_after_writing_rolls_back_its_commit_and_carries_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let forgotten = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let f = forgotten.clone();
        db.on_commit_failure(move || {
            f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let answers = one_commit_of(&db, |c| {
            insert("b")(c)?;
            Err(rusqlite::Error::QueryReturnedNoRows)
        })
        .await;
        assert!(
            answers[0].as_ref().unwrap_err().contains("rolled back"),
            "{answers:?}"
        );
        assert!(
            answers[1].as_ref().unwrap_err().starts_with("Job("),
            "{answers:?}"
        );
        assert!(answers[2].is_ok(), "{answers:?}");
        assert_eq!(names(&db).await, ["c"]);
        assert_eq!(forgotten.load(std::sync::atomic::Ordering::SeqCst), 1);
        db.close();
    }
}
