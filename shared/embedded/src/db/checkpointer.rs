//! The checkpointer: WAL checkpoints on their own thread, off the writer's commits.

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::connection::tune_connection;
use super::{Db, DbError};

/// How often the checkpointer copies committed WAL frames into the database file while
/// commits keep coming. At 100 ms, the POSTs of an open loop at 2,000 orders/s had a p99 of
/// 16–25 ms; at 10 ms, 7–15 ms, with the closed loop's capacity and CPU per order unchanged
/// (BENCHMARKS.md, "After issue 16, ninth part"). Hurrying only as the WAL neared
/// [`WAL_RESTART_FRAMES`] did not help: what the tail waited on was the size of each pass,
/// not only the last frames left to the writer's own checkpoint.
pub(super) const CHECKPOINT_BUSY: Duration = Duration::from_millis(10);

/// Its pause once a pass found no new commit: an idle server makes ten passes a second, not
/// a hundred.
pub(super) const CHECKPOINT_IDLE: Duration = Duration::from_millis(100);

/// The checkpointer's pause after a pass that found `wal_frames` frames in the WAL, where
/// the pass before found `before`: the WAL changed only if something was committed (or the
/// writer started it over, which it does only when committing).
pub(super) fn next_pass_after(before: i64, wal_frames: i64) -> Duration {
    if wal_frames == before {
        CHECKPOINT_IDLE
    } else {
        CHECKPOINT_BUSY
    }
}

/// WAL frames after which a commit of the writer checkpoints too (SQLite's own automatic
/// checkpoint), ~40 MiB of pages. Each of the writer's checkpoints syncs the files while its
/// group waits; at SQLite's default of 1,000 frames the closed loop measured 4,719 orders/s
/// against 5,007 at 10,000 (BENCHMARKS.md, "After issue 16, third part").
pub(super) const WAL_RESTART_FRAMES: i64 = 10_000;

/// Moves WAL checkpoints off the writer thread. With SQLite's automatic checkpoints alone, the
/// commit that crossed 1,000 WAL pages copied them all before answering its jobs: a twentieth of
/// the writer's time, and a latency spike for every job in that group. A PASSIVE checkpoint on
/// its own connection never blocks the writer or the readers; it copies what no reader still
/// needs. It cannot restart the WAL, though: only a writer can, when it finds every frame
/// copied, and under writes that never pause a commit always lands while the thread copies.
/// So the writer keeps SQLite's automatic checkpoint at [`WAL_RESTART_FRAMES`]: by then this
/// thread has copied all but the last frames, the writer copies those, and its next
/// transaction starts the WAL over.
pub(super) fn spawn_checkpointer(
    path: &Path,
) -> Result<(std_mpsc::Sender<()>, std::thread::JoinHandle<()>), DbError> {
    let conn = Connection::open(path)?;
    tune_connection(&conn)?;
    let (stop, stopped) = std_mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let (mut pause, mut frames) = (CHECKPOINT_IDLE, -1);
            while let Err(std_mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(pause) {
                // (busy, frames in the WAL, frames copied); -1 frames when not in WAL mode.
                // From the statement cache: a hundred passes a second parsed it a hundred times.
                let pass = conn
                    .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")
                    .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(1)));
                match pass {
                    Ok(now) => (pause, frames) = (next_pass_after(frames, now), now),
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                        pause = CHECKPOINT_IDLE;
                    }
                }
            }
        })
        .map_err(|e| DbError::Commit(e.to_string()))?;
    Ok((stop, handle))
}

/// Attempts of a TRUNCATE checkpoint before giving up: each waits up to the busy timeout for
/// the writer and for readers of older snapshots, and one finding another checkpoint running
/// (the thread above) tries again shortly.
const TRUNCATE_ATTEMPTS: u32 = 50;

impl Db {
    /// Copies every committed page into the database file and truncates the WAL to nothing,
    /// on a connection of its own. After a delete under `secure_delete`, this is what makes
    /// the deleted bytes leave the disk: the WAL still holds the pages as they were before
    /// the delete until it is truncated (a restarted WAL overwrites from its start but keeps
    /// its old tail).
    pub async fn checkpoint_truncate(&self) -> Result<(), DbError> {
        let path = self.inner.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&path)?;
            tune_connection(&conn)?;
            for _ in 0..TRUNCATE_ATTEMPTS {
                // (busy, WAL frames, frames checkpointed); busy = 1 means it could not finish.
                match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                }) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::DatabaseBusy => {}
                    Err(e) => return Err(e.into()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(DbError::Commit(
                "the WAL could not be truncated: the database stayed busy".into(),
            ))
        })
        .await
        .map_err(|_| DbError::Closed)?
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::db::{Db, Durability};

    /// Commits that keep the WAL under [`WAL_RESTART_FRAMES`] do not checkpoint, yet the
    /// committed pages reach the database file: the checkpointer thread copies them.
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
            tokio::time::sleep(CHECKPOINT_IDLE).await;
            if std::fs::metadata(&path).unwrap().len() > before + 500_000 {
                grown = true;
                break;
            }
        }
        assert!(grown, "no checkpoint copied the WAL into the database file");
        db.close();
    }

    /// The thread passes quickly while commits keep coming and slowly once they stop.
    #[test]
    fn the_checkpointer_passes_quickly_only_while_commits_come() {
        assert_eq!(next_pass_after(-1, 0), CHECKPOINT_BUSY); // the first pass
        assert_eq!(next_pass_after(0, 0), CHECKPOINT_IDLE);
        assert_eq!(next_pass_after(120, 340), CHECKPOINT_BUSY);
        assert_eq!(next_pass_after(340, 340), CHECKPOINT_IDLE);
        // The writer started the WAL over since the last pass.
        assert_eq!(next_pass_after(WAL_RESTART_FRAMES, 12), CHECKPOINT_BUSY);
        assert_eq!(next_pass_after(-1, -1), CHECKPOINT_IDLE); // not in WAL mode
    }

    /// Under writes that never pause, the WAL stays bounded: the background checkpointer
    /// alone never finds it fully copied (a commit always lands during its copy), so SQLite
    /// could never restart the WAL from its start and it grew by every commit (1.1 GB for
    /// 100,000 one-event appends, a page-zeroing write at its end each time). The writer's
    /// own checkpoint past [`WAL_RESTART_FRAMES`] copies the last frames and lets it restart.
    #[tokio::test]
    async fn the_wal_stays_bounded_under_writes_that_never_pause() {
        const ROW: usize = 8_192;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = Db::open(&path, Durability::Normal).unwrap();
        let wal = dir.path().join("t.db-wal");
        // A 4 KiB page and its 24-byte header per frame. The WAL restarts once a checkpoint
        // finds every frame copied; frames keep coming while one runs, and on a loaded machine
        // (the test command runs tests in parallel on two cores) a descheduled checkpoint lets
        // the WAL reach 2.6 times the threshold before it restarts. Four times the threshold
        // is the bound; the rows written would take an unbounded WAL past it three times over.
        let bound = 4 * WAL_RESTART_FRAMES.unsigned_abs() * 4_120;
        let (mut largest, mut commits) = (0, 0_u64);
        while commits * ROW as u64 <= 3 * bound {
            db.write(move |c| {
                c.execute(
                    "INSERT INTO alarms (name, state, updated_at) VALUES (?1, ?2, 0)",
                    params![format!("alarm-{commits}"), "x".repeat(ROW)],
                )
            })
            .await
            .unwrap();
            commits += 1;
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        assert!(
            largest < bound,
            "after {commits} commits the WAL reached {largest} bytes (bound {bound})"
        );
        db.close();
    }
}
