//! The store's own append rate against raw SQLite, in the same process and on the same disk.
//!
//! [`raw_commits`] is the baseline: plain inserts of one small row per commit (and 100 per
//! commit) on a connection with the store's settings (WAL, `synchronous=NORMAL`).
//! [`store_appends`] drives [`SqliteEventStore::append`] alone, one event per append, the events
//! sealed beforehand (sealing is the domain's work, not the store's): from one appender, which
//! pays every append's hand-off to the writer thread, version check and commit on its own, and
//! from many, as the pipeline's tasks append, where the writer commits each waiting group of
//! appends once. The pipeline's own events/s (every event with all the work around it) is a
//! different figure: `pipeline-bench` reports both.
//!
//! The streams are shaped like orders: each appender appends [`STREAM_EVENTS`] events to a new
//! stream, then starts another, and the events are sealed in the order they will be appended
//! (round robin over the appenders), so their ids, ULIDs, are as near to time order as a live
//! pipeline's. A few streams thousands of events long, each sealed whole before the next, would
//! put every commit's inserts at as many places in both unique indexes as there are appenders:
//! a shape no order has, which measured the index's page writes (0.35 of raw against 0.96 for
//! order-shaped streams, same store, same run).

// Rates are float arithmetic on counts far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use order_app::stream::seal;
use order_domain::ports::EventStore;
use order_domain::{EventMeta, GENESIS_HASH, OrderId, StreamId, StreamWrite, Timestamp};
use order_embedded::db::{Db, Durability};
use order_embedded::store::SqliteEventStore;

/// A payload of the raw rows' size.
const PAYLOAD_BYTES: usize = 300;
/// Events per stream: an order's, on average (the closed loop appends ~6 per order).
const STREAM_EVENTS: usize = 6;

/// Raw SQLite rows per second: `(one row per commit, 100 rows per commit)`.
pub fn raw_commits(path: &Path, rows: usize) -> anyhow::Result<(f64, f64)> {
    const INSERT: &str = "INSERT INTO raw (stream, version, payload) VALUES (?1, ?2, ?3)";
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, stream TEXT, version INTEGER, payload TEXT)",
    )?;
    let payload = "x".repeat(PAYLOAD_BYTES);
    let t = Instant::now();
    for i in 0..rows {
        let tx = conn.unchecked_transaction()?;
        tx.prepare_cached(INSERT)?
            .execute(rusqlite::params![format!("s{i}"), 1, payload])?;
        tx.commit()?;
    }
    let single = rows as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for chunk in 0..rows / 100 {
        let tx = conn.unchecked_transaction()?;
        for j in 0..100 {
            tx.prepare_cached(INSERT)?.execute(rusqlite::params![
                format!("b{chunk}-{j}"),
                1,
                payload
            ])?;
        }
        tx.commit()?;
    }
    let batched = (rows / 100 * 100) as f64 / t.elapsed().as_secs_f64();
    Ok((single, batched))
}

/// The store's appends per second, one event each.
#[derive(Debug, Clone, Copy)]
pub struct StoreAppends {
    pub events: usize,
    pub appenders: usize,
    /// Events per second from one appender (each append waits for its commit).
    pub one_appender: f64,
    /// Events per second from `appenders` concurrent appenders.
    pub concurrent: f64,
}

impl StoreAppends {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "events": self.events,
            "appenders": self.appenders,
            "one_appender_per_s": self.one_appender,
            "concurrent_per_s": self.concurrent,
        })
    }
}

/// Appends `events` events through the store in `dir`: once from one appender, once from
/// `appenders` (each in a fresh database), and checks the log holds every one.
pub async fn store_appends(
    dir: &Path,
    events: usize,
    appenders: usize,
) -> anyhow::Result<StoreAppends> {
    let appenders = appenders.clamp(1, events.max(1));
    let one_appender = append_rate(&dir.join("one.db"), events, 1).await?;
    let concurrent = append_rate(&dir.join("many.db"), events, appenders).await?;
    Ok(StoreAppends {
        events,
        appenders,
        one_appender,
        concurrent,
    })
}

async fn append_rate(path: &Path, events: usize, appenders: usize) -> anyhow::Result<f64> {
    let store = SqliteEventStore::new(
        Db::open(path, Durability::Normal).map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let writes = sealed(events, appenders);
    let total: usize = writes.iter().map(Vec::len).sum();
    let store = Arc::new(store);
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for appends in writes {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for write in appends {
                store.append(vec![write]).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let rate = total as f64 / t.elapsed().as_secs_f64();
    let stored = store.count().await?;
    anyhow::ensure!(
        stored == total as u64,
        "the store holds {stored} events of the {total} appended"
    );
    Ok(rate)
}

/// Each appender's appends, one event each: [`STREAM_EVENTS`] onto a stream, then a new stream,
/// chained as the domain seals them. Sealed round robin over the appenders, the order they
/// will be appended in, so event ids come in time order as a live pipeline's do.
fn sealed(events: usize, appenders: usize) -> Vec<Vec<StreamWrite>> {
    struct Appender {
        stream: StreamId,
        version: u64,
        prev: order_domain::SharedStr,
        appends: Vec<StreamWrite>,
    }
    let new_stream = || (OrderId::generate().stream(), 0, GENESIS_HASH.into());
    let meta = EventMeta {
        correlation_id: "append-rate".into(),
        causation_id: "append-rate".into(),
        occurred_at: Timestamp::now(),
        trace_parent: None,
    };
    let payload = format!("{{\"note\":\"{}\"}}", "x".repeat(PAYLOAD_BYTES - 11));
    let mut all: Vec<Appender> = (0..appenders)
        .map(|_| {
            let (stream, version, prev) = new_stream();
            Appender {
                stream,
                version,
                prev,
                appends: Vec::with_capacity(events.div_ceil(appenders)),
            }
        })
        .collect();
    for i in 0..events {
        let a = &mut all[i % appenders];
        if a.version == STREAM_EVENTS as u64 {
            (a.stream, a.version, a.prev) = new_stream();
        }
        let write = seal(
            &a.stream,
            a.version,
            &a.prev,
            [("OrderNoted", 1, payload.clone())],
            &meta,
        );
        a.prev.clone_from(&write.events[0].hash);
        a.version += 1;
        a.appends.push(write);
    }
    all.into_iter().map(|a| a.appends).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_append_is_in_the_log_from_one_appender_and_from_many() {
        let dir = tempfile::tempdir().unwrap();
        let rates = store_appends(dir.path(), 203, 8).await.unwrap();
        assert_eq!((rates.events, rates.appenders), (203, 8));
        assert!(rates.one_appender > 0.0 && rates.concurrent > 0.0);
        // Each run checked its log holds all 203; the streams are order-shaped (a full stream
        // per appender and a partial last one at most) and their chains intact.
        for db in ["one.db", "many.db"] {
            let store =
                SqliteEventStore::new(Db::open(&dir.path().join(db), Durability::Normal).unwrap());
            let events = store.read_after(0, 1_000).await.unwrap();
            assert_eq!(events.len(), 203, "{db}");
            let mut streams = std::collections::BTreeMap::<_, Vec<_>>::new();
            for (_, e) in events {
                streams.entry(e.stream_id.clone()).or_default().push(e);
            }
            for events in streams.values() {
                assert!((1..=STREAM_EVENTS).contains(&events.len()), "{db}");
                order_domain::envelope::verify_chain(events).unwrap();
            }
            let appenders = if db == "one.db" { 1 } else { 8 };
            let full = streams
                .values()
                .filter(|s| s.len() == STREAM_EVENTS)
                .count();
            assert!(streams.len() - full <= appenders, "{db}");
            assert!(streams.len() >= 203 / STREAM_EVENTS, "{db}");
        }
    }

    #[test]
    fn raw_commits_counts_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let (single, batched) = raw_commits(&dir.path().join("raw.db"), 200).unwrap();
        assert!(single > 0.0 && batched > 0.0);
        let conn = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM raw", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 400);
    }
}
