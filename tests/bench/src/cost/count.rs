//! A real local run, counted: N orders through `orders::serve` in-process (a mix of
//! completed, declined and out-of-stock orders over HTTP on loopback), then what the database,
//! the outbox and the logs say they did.
//!
//! Queue messages are deleted once consumed, so the run counts them with triggers it adds to
//! its own temporary database (SendMessage = a row inserted, a receive = `receive_count` up).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use order_app::seed::SeedProduct;
use order_runtime::Config;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::model::{Observed, consistent_read_rru, put_wru, transact_wru};

/// What one order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plenty of stock, a card that pays.
    Completes,
    /// `tok_decline`.
    Declined,
    /// The scarce product: a few complete, the rest are turned away (REJECTED at validation, or
    /// OUT_OF_STOCK with a refund when the race is lost between validation and reservation).
    Scarce,
}

/// The mix: of every ten orders, eight complete, one is declined, one wants the scarce product.
pub fn kind_of(i: usize) -> Kind {
    match i % 10 {
        8 => Kind::Declined,
        9 => Kind::Scarce,
        _ => Kind::Completes,
    }
}

const PRODUCTS: [&str; 4] = ["MUG", "TEE", "CAP", "PEN"];

/// How many customers the orders are spread over.
const CUSTOMERS: usize = 97;

/// The customer who places order `i`.
fn customer_of(i: usize) -> String {
    format!("c-{}", i % CUSTOMERS)
}

/// A token per customer (by `i % CUSTOMERS`) from the issuer in the server's data directory.
fn customer_tokens(data: &Path) -> anyhow::Result<Vec<String>> {
    let issuer = order_api::auth::Issuer::load_or_create(data)?;
    (0..CUSTOMERS)
        .map(|i| {
            let customer = order_domain::CustomerId::parse(&customer_of(i))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(issuer.mint(&customer, None, false, Duration::from_hours(2))?)
        })
        .collect()
}

/// The POST body of order `i`: one to three lines.
pub fn order_body(i: usize) -> Value {
    let lines = 1 + i % 3;
    let mut items: Vec<Value> = (0..lines)
        .map(|k| json!({ "productId": PRODUCTS[(i + k) % PRODUCTS.len()], "quantity": 1 + (i + k) % 2 }))
        .collect();
    let token = match kind_of(i) {
        Kind::Declined => "tok_decline",
        _ => "tok_visa",
    };
    if kind_of(i) == Kind::Scarce {
        items = vec![json!({ "productId": "SCARCE", "quantity": 1 })];
    }
    json!({ "customerId": customer_of(i), "email": "jane.doe@example.com",
            "items": items, "paymentToken": token })
}

fn seed(scarce_stock: u64) -> anyhow::Result<Vec<SeedProduct>> {
    let mut v: Vec<Value> = PRODUCTS
        .iter()
        .map(|p| json!({ "productId": p, "name": format!("Product {p}"), "price": 1500, "stock": 1_000_000 }))
        .collect();
    v.push(
        json!({ "productId": "SCARCE", "name": "Scarce", "price": 4900, "stock": scarce_stock }),
    );
    Ok(serde_json::from_value(Value::Array(v))?)
}

/// Bytes and lines written to the log (the subscriber writes them nowhere else).
#[derive(Debug, Clone, Default)]
pub struct LogMeter {
    pub bytes: Arc<AtomicU64>,
    pub lines: Arc<AtomicU64>,
}

impl std::io::Write for LogMeter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        #[allow(clippy::naive_bytecount)] // a few short lines per order
        let n = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        self.lines.fetch_add(n, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the run counted, before it is turned into per-order averages.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub orders: u64,
    pub accepted: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub events_by_type: BTreeMap<String, u64>,
    pub order_events: u64,
    pub product_events: u64,
    pub lines: u64,
    pub executions: u64,
    pub transitions: u64,
    pub execution_ms: u64,
    pub queue_ops: BTreeMap<String, u64>,
    pub emails_by_topic: BTreeMap<String, u64>,
    /// (append, stream) pairs on order streams and on product streams: the projector's runs.
    pub order_runs: u64,
    pub product_runs: u64,
    pub puts: u64,
    pub put_wru: u64,
    pub transactions: u64,
    pub transact_wru: u64,
    pub order_stream_rru: u64,
    pub order_view_wru: u64,
    /// Customers' data keys created (rows of `customer_keys`: one per customer who ordered).
    pub customer_keys: u64,
    pub log_bytes: u64,
    pub log_lines: u64,
    pub seconds: f64,
}

/// Runs `orders` orders with `clients` concurrent HTTP clients and counts what they did.
pub async fn run(orders: usize, clients: usize, meter: &LogMeter) -> anyhow::Result<Counts> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut config = Config::new(data.clone(), seed(5)?);
    config.retry_interval_scale = 0.01;
    let server = orders::serve(config, "127.0.0.1:0".parse()?).await?;
    let db_path = data.join("orders.db");
    add_queue_triggers(&db_path)?;
    let (bytes0, lines0) = (
        meter.bytes.load(Ordering::Relaxed),
        meter.lines.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    let tokens = Arc::new(customer_tokens(&data)?);
    let accepted = drive(server.addr, orders, clients, tokens).await?;
    wait_terminal(&db_path, &data.join("outbox"), accepted).await?;
    let seconds = started.elapsed().as_secs_f64();
    server.shutdown().await;
    let mut counts = count(&db_path, &data.join("outbox"))?;
    counts.orders = orders as u64;
    counts.accepted = accepted;
    counts.seconds = seconds;
    counts.log_bytes = meter.bytes.load(Ordering::Relaxed) - bytes0;
    counts.log_lines = meter.lines.load(Ordering::Relaxed) - lines0;
    Ok(counts)
}

/// A SQLite integer as a count.
fn nat(i: i64) -> u64 {
    u64::try_from(i).unwrap_or(0)
}

fn add_queue_triggers(db: &Path) -> anyhow::Result<()> {
    let c = Connection::open(db)?;
    c.busy_timeout(Duration::from_secs(10))?;
    c.execute_batch(
        "CREATE TABLE bench_queue_ops (op TEXT NOT NULL, queue TEXT NOT NULL);
         CREATE TRIGGER bench_send AFTER INSERT ON queue_messages
           BEGIN INSERT INTO bench_queue_ops VALUES ('send', NEW.queue); END;
         CREATE TRIGGER bench_receive AFTER UPDATE OF receive_count ON queue_messages
           WHEN NEW.receive_count > OLD.receive_count
           BEGIN INSERT INTO bench_queue_ops VALUES ('receive', NEW.queue); END;
         CREATE TRIGGER bench_delete AFTER DELETE ON queue_messages
           BEGIN INSERT INTO bench_queue_ops VALUES ('delete', OLD.queue); END;",
    )?;
    Ok(())
}

async fn drive(
    addr: std::net::SocketAddr,
    orders: usize,
    clients: usize,
    tokens: Arc<Vec<String>>,
) -> anyhow::Result<u64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (http, next, tokens) = (http.clone(), Arc::clone(&next), Arc::clone(&tokens));
        tasks.spawn(async move {
            let mut ok = 0_u64;
            loop {
                let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
                if i >= orders {
                    return Ok::<_, anyhow::Error>(ok);
                }
                let r = http
                    .post(format!("http://{addr}/orders"))
                    .header("idempotency-key", format!("cost-model-{i}"))
                    .bearer_auth(&tokens[i % CUSTOMERS])
                    .json(&order_body(i))
                    .send()
                    .await?;
                if r.status().as_u16() == 202 {
                    ok += 1;
                } else {
                    bail!(
                        "order {i}: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
            }
        });
    }
    let mut accepted = 0;
    while let Some(r) = tasks.join_next().await {
        accepted += r??;
    }
    Ok(accepted)
}

/// Emails per topic: the messages of each `outbox/<Topic>.mbox`.
fn emails(outbox: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "mbox")
            && let Some(topic) = path.file_stem()
        {
            let n = order_embedded::outbox::read_mbox(&path).len();
            out.insert(topic.to_string_lossy().into_owned(), n as u64);
        }
    }
    out
}

async fn wait_terminal(db: &Path, outbox: &Path, accepted: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_mins(5);
    let c = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.busy_timeout(Duration::from_secs(10))?;
    loop {
        let terminal = nat(c.query_row(
            "SELECT COUNT(*) FROM order_status WHERE status IN ('COMPLETED', 'FAILED')",
            [],
            |r| r.get(0),
        )?);
        let running = nat(c.query_row(
            "SELECT COUNT(*) FROM executions WHERE status = 'RUNNING'",
            [],
            |r| r.get(0),
        )?);
        let mails: u64 = emails(outbox).values().sum();
        if terminal >= accepted && running == 0 && mails >= accepted {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "after 300 s: {terminal} of {accepted} orders terminal, {running} executions running, {mails} emails"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A DynamoDB number's stored size: about one byte per two digits, plus one.
fn number_bytes(n: i64) -> u64 {
    1 + (u64::from(n.unsigned_abs().max(1).ilog10()) + 1).div_ceil(2)
}

/// The events-table item's size as DynamoDB counts it (attribute names + values), for a row.
fn event_item_bytes(r: &rusqlite::Row<'_>) -> rusqlite::Result<u64> {
    // streamId version eventId eventType schemaVersion occurredAt correlationId causationId
    // payload prevHash hash: 97 bytes of names.
    let text = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, String>(i)?.len() as u64) };
    Ok(97
        + text(0)?
        + number_bytes(r.get(1)?)
        + text(2)?
        + text(3)?
        + number_bytes(r.get(4)?)
        + number_bytes(r.get(5)?)
        + text(6)?
        + text(7)?
        + text(8)?
        + text(9)?
        + text(10)?)
}

struct Append {
    items: Vec<u64>,
    out_of_stock: bool,
    /// The streams it appended to: each is one run of records for the projector.
    streams: std::collections::BTreeSet<String>,
}

fn count(db: &Path, outbox: &Path) -> anyhow::Result<Counts> {
    let c = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut counts = Counts {
        emails_by_topic: emails(outbox),
        ..Counts::default()
    };
    let mut appends: BTreeMap<(String, String, i64), Append> = BTreeMap::new();
    let mut lines_of: BTreeMap<String, u64> = BTreeMap::new();
    let mut stream_bytes: BTreeMap<String, u64> = BTreeMap::new();
    let mut s = c.prepare(
        "SELECT stream_id, version, event_id, event_type, schema_version, occurred_at, \
         correlation_id, causation_id, payload, prev_hash, hash FROM events \
         WHERE correlation_id NOT LIKE 'seed:%' ORDER BY position",
    )?;
    let mut rows = s.query([])?;
    while let Some(r) = rows.next()? {
        let (stream, kind): (String, String) = (r.get(0)?, r.get(3)?);
        let bytes = event_item_bytes(r)?;
        *counts.events_by_type.entry(kind.clone()).or_default() += 1;
        if stream.starts_with("order#") {
            counts.order_events += 1;
            *stream_bytes.entry(stream.clone()).or_default() += bytes;
        } else {
            counts.product_events += 1;
        }
        if kind == "OrderPlaced" {
            let payload: Value = serde_json::from_str(&r.get::<_, String>(8)?)?;
            let lines = payload["items"].as_array().map_or(0, Vec::len) as u64;
            counts.lines += lines;
            lines_of.insert(r.get(6)?, lines);
        }
        let key = (r.get(6)?, r.get(7)?, r.get(5)?);
        let a = appends.entry(key).or_insert(Append {
            items: vec![],
            out_of_stock: false,
            streams: std::collections::BTreeSet::new(),
        });
        a.items.push(bytes);
        a.streams.insert(stream.clone());
        a.out_of_stock |= kind == "OutOfStock";
    }
    for ((order, _, _), a) in &appends {
        for stream in &a.streams {
            if stream.starts_with("order#") {
                counts.order_runs += 1;
            } else {
                counts.product_runs += 1;
            }
        }
        if a.items.len() == 1 && !a.out_of_stock {
            counts.puts += 1;
            counts.put_wru += put_wru(a.items[0]);
        } else {
            // OutOfStock is appended with two guards per product (the stream still at its
            // version, nothing after it): condition checks of the product head (< 1 KB).
            let guards = if a.out_of_stock {
                2 * lines_of.get(order).copied().unwrap_or(1)
            } else {
                0
            };
            counts.transactions += 1;
            counts.transact_wru += transact_wru(&a.items) + 2 * guards;
        }
    }
    let orders = stream_bytes.len().max(1) as u64;
    counts.order_stream_rru = stream_bytes
        .values()
        .map(|&b| consistent_read_rru(b))
        .sum::<u64>()
        .div_ceil(orders);
    let (views, view_wru): (i64, i64) = c.query_row(
        "SELECT COUNT(*), COALESCE(SUM((LENGTH(view) + LENGTH(order_id) + LENGTH(status) + 60 + 1023) / 1024), 0) FROM order_status",
        [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    counts.order_view_wru = nat(view_wru).div_ceil(nat(views).max(1));
    let mut s = c.prepare("SELECT status, view FROM order_status")?;
    let mut rows = s.query([])?;
    while let Some(r) = rows.next()? {
        let (status, view): (String, String) = (r.get(0)?, r.get(1)?);
        let view: Value = serde_json::from_str(&view).context("order view")?;
        let outcome = match view["reason"].as_str() {
            Some(reason) => format!("{status} {reason}"),
            None => status,
        };
        *counts.outcomes.entry(outcome).or_default() += 1;
    }
    let keys: i64 = c.query_row("SELECT COUNT(*) FROM customer_keys", [], |r| r.get(0))?;
    counts.customer_keys = nat(keys);
    let (executions, transitions, execution_ms): (i64, i64, i64) = c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(transitions), 0), COALESCE(SUM(updated_at - started_at), 0) FROM executions",
        [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    (counts.executions, counts.transitions, counts.execution_ms) =
        (nat(executions), nat(transitions), nat(execution_ms));
    let mut s = c.prepare("SELECT op || ' ' || queue, COUNT(*) FROM bench_queue_ops GROUP BY 1")?;
    for row in s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (k, n) = row?;
        counts.queue_ops.insert(k, nat(n));
    }
    Ok(counts)
}

/// Per-order averages of what was counted.
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
pub fn observed(c: &Counts) -> Observed {
    let n = c.accepted.max(1) as f64;
    let ev = |t: &str| c.events_by_type.get(t).copied().unwrap_or(0) as f64 / n;
    let sends: u64 = c
        .queue_ops
        .iter()
        .filter(|(k, _)| k.starts_with("send "))
        .map(|(_, v)| v)
        .sum();
    Observed {
        orders: c.accepted,
        posts: c.accepted as f64 / n,
        lines: c.lines as f64 / n,
        executions: c.executions as f64 / n,
        transitions: c.transitions as f64 / n,
        order_events: c.order_events as f64 / n,
        product_events: c.product_events as f64 / n,
        validated: ev("OrderValidated"),
        captured: ev("PaymentCaptured"),
        completed: ev("OrderCompleted"),
        failed: ev("OrderFailed"),
        order_runs: c.order_runs as f64 / n,
        product_runs: c.product_runs as f64 / n,
        event_puts: c.puts as f64 / n,
        event_put_wru: c.put_wru as f64 / n,
        event_transactions: c.transactions as f64 / n,
        event_transact_wru: c.transact_wru as f64 / n,
        order_stream_rru: c.order_stream_rru as f64,
        order_view_wru: c.order_view_wru as f64,
        queue_sends: sends as f64 / n,
        new_keys: c.customer_keys as f64 / n,
        publishes: c.emails_by_topic.values().sum::<u64>() as f64 / n,
        log_bytes: c.log_bytes as f64 / n,
        emf_bytes: std::collections::BTreeMap::new(),
    }
}
