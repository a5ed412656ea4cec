//! `pipeline-bench`: the local pipeline's throughput and latency against the raw write limit of
//! the same SQLite settings, measured in one run and printed as one table.
//!
//! The server is the real `orders` binary in its own process; the load comes from this process
//! over loopback (N concurrent keep-alive clients). Completion is read from the server's
//! database (read-only), so polling does not load the API.
//!
//! ```sh
//! cargo build --release --bin orders --bin pipeline-bench
//! target/release/pipeline-bench --orders 5000 --clients 32
//! ```

// Rates and percentiles are float arithmetic on counts far below 2^52.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
#![allow(clippy::too_many_lines)] // main reads as the benchmark's script

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

struct Args {
    orders: usize,
    clients: usize,
    server: PathBuf,
    raw_rows: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        orders: 5000,
        clients: 32,
        server: std::env::current_exe()?.with_file_name("orders"),
        raw_rows: 50_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("flag needs a value");
        match flag.as_str() {
            "--orders" => a.orders = value()?.parse()?,
            "--clients" => a.clients = value()?.parse()?,
            "--server" => a.server = value()?.into(),
            "--raw-rows" => a.raw_rows = value()?.parse()?,
            other => bail!(
                "unknown flag {other} (use --orders N --clients N --server PATH --raw-rows N)"
            ),
        }
    }
    Ok(a)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_server(bin: &Path, data: &Path, seed: &Path, port: u16) -> anyhow::Result<Child> {
    Command::new(bin)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .arg("--seed")
        .arg(seed)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build it with cargo build --release --bin orders)",
                bin.display()
            )
        })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Plain inserts of one small row per commit (and 100 per commit) with the store's settings.
fn raw_sqlite(path: &Path, rows: usize) -> anyhow::Result<(f64, f64)> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, stream TEXT, version INTEGER, payload TEXT)")?;
    let payload = "x".repeat(300);
    let t = Instant::now();
    for i in 0..rows {
        let tx = conn.unchecked_transaction()?;
        tx.prepare_cached("INSERT INTO raw (stream, version, payload) VALUES (?1, ?2, ?3)")?
            .execute(rusqlite::params![format!("s{i}"), 1, payload])?;
        tx.commit()?;
    }
    let single = rows as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for chunk in 0..rows / 100 {
        let tx = conn.unchecked_transaction()?;
        for j in 0..100 {
            tx.prepare_cached("INSERT INTO raw (stream, version, payload) VALUES (?1, ?2, ?3)")?
                .execute(rusqlite::params![format!("b{chunk}-{j}"), 1, payload])?;
        }
        tx.commit()?;
    }
    let batched = (rows / 100 * 100) as f64 / t.elapsed().as_secs_f64();
    Ok((single, batched))
}

fn completed(db: &Path) -> anyhow::Result<(usize, usize)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let done: i64 = conn.query_row(
        "SELECT COUNT(*) FROM events WHERE event_type IN ('OrderCompleted', 'OrderFailed')",
        [],
        |r| r.get(0),
    )?;
    let events: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    Ok((usize::try_from(done)?, usize::try_from(events)?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    let products: Vec<_> = (0..20)
        .map(|i| json!({ "productId": format!("P{i}"), "name": format!("Product {i}"), "price": 1000, "stock": 10_000_000 }))
        .collect();
    std::fs::write(&seed, serde_json::to_vec(&products)?)?;
    let port = free_port()?;
    let mut server = start_server(&args.server, &data, &seed, port)?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let ready = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        if ready.elapsed() > Duration::from_secs(30) {
            bail!("server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, base, next, total) = (client.clone(), base.clone(), next.clone(), args.orders);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let body = json!({
                    "customerId": format!("c{}", i % 1000), "email": "bench@example.com",
                    "items": [{ "productId": format!("P{}", i % 20), "quantity": 1 }], "paymentToken": "tok_visa",
                });
                let t = Instant::now();
                let r = client.post(format!("{base}/orders")).json(&body).send().await?;
                let status = r.status();
                r.bytes().await?;
                latencies.push(t.elapsed());
                if status.as_u16() != 202 {
                    bail!("POST answered {status}");
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(args.orders);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let posted = started.elapsed();
    let db = data.join("orders.db");
    let (events, finished) = loop {
        let (done, events) = completed(&db)?;
        if done >= args.orders {
            break (events, started.elapsed());
        }
        if started.elapsed() > Duration::from_mins(10) {
            bail!("only {done} of {} orders finished", args.orders);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    latencies.sort();
    let (raw_single, raw_batched) = raw_sqlite(&dir.path().join("raw.db"), args.raw_rows)?;

    let orders_per_s = args.orders as f64 / finished.as_secs_f64();
    let events_per_s = events as f64 / finished.as_secs_f64();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| orders, concurrent clients | {} orders, {} clients |",
        args.orders, args.clients
    );
    println!(
        "| POST accepted rate | {:.0} orders/s |",
        args.orders as f64 / posted.as_secs_f64()
    );
    println!(
        "| POST latency p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "| POST → COMPLETED throughput | {orders_per_s:.0} orders/s ({events_per_s:.0} events/s) |"
    );
    println!("| raw SQLite, 1 row per commit (WAL, synchronous=NORMAL) | {raw_single:.0} rows/s |");
    println!("| raw SQLite, 100 rows per commit | {raw_batched:.0} rows/s |");
    println!(
        "| events/s ÷ raw 1-row commits | {:.2} |",
        events_per_s / raw_single
    );
    println!(
        "| events/s ÷ raw batched rows | {:.3} |",
        events_per_s / raw_batched
    );
    Ok(())
}
