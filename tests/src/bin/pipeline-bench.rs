//! `pipeline-bench`: the local pipeline's throughput and latency against the raw write limit of
//! the same SQLite settings, measured in one run and printed as one table. The event store's
//! own appends (no pipeline around them) are measured against the same baseline
//! (`order_tests::append_rate`).
//!
//! The server is the real `orders` binary in its own process; the load comes from this process
//! over loopback (N concurrent keep-alive clients). Completion is read from the server's
//! database (read-only), so polling does not load the API.
//!
//! With `--emulator URL` (an AWS emulator such as moto on loopback) it also runs the same flow
//! on `orders serve --backend aws --provision` and prints its rate as a ratio to the embedded one.
//!
//! ```sh
//! cargo build --release --bin orders --bin pipeline-bench
//! target/release/pipeline-bench --orders 5000 --clients 32 [--emulator http://127.0.0.1:5000]
//! ```
//!
//! `--json` prints one JSON object with the same figures instead of the table (for
//! `bench-report`, which puts every benchmark into one table).

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
use order_tests::append_rate::{raw_commits, store_appends};
use order_tests::emulator_ceiling::{Ceiling, Requests, put_item_ceiling};
use order_tests::load_client;
use order_tests::progress::Progress;
use order_tests::usage::Usage;
use serde_json::json;

/// The flags it takes (`--help` prints them).
const FLAGS: &str = "--orders N --clients N --server PATH --raw-rows N \
     --emulator URL --emulator-orders N --emulator-clients N --rate ORDERS_PER_S --json \
     --overload SECS --overload-connections N --max-backlog N";

struct Args {
    orders: usize,
    clients: usize,
    server: PathBuf,
    raw_rows: usize,
    emulator: Option<String>,
    emulator_orders: usize,
    /// Concurrent clients of the emulator flow (its own: the embedded flow's 64 would only
    /// queue on the emulator).
    emulator_clients: usize,
    /// Offered load in orders/s (open loop); 0 = each client sends as soon as it has its answer.
    rate: f64,
    json: bool,
    /// `--overload SECS [--overload-connections N] [--max-backlog N]`: also the overload run.
    overload: Option<order_tests::overload::Options>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        orders: 5000,
        clients: 32,
        server: std::env::current_exe()?.with_file_name("orders"),
        raw_rows: 50_000,
        emulator: None,
        emulator_orders: 200,
        emulator_clients: 4,
        rate: 0.0,
        json: false,
        overload: None,
    };
    let mut overload = order_tests::overload::Options {
        seconds: 60.0,
        connections: 32,
        server: a.server.clone(),
        max_backlog: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("flag needs a value");
        match flag.as_str() {
            "--orders" => a.orders = value()?.parse()?,
            "--clients" => a.clients = value()?.parse()?,
            "--server" => a.server = value()?.into(),
            "--raw-rows" => a.raw_rows = value()?.parse()?,
            "--emulator" => a.emulator = Some(value()?),
            "--emulator-orders" => a.emulator_orders = value()?.parse()?,
            "--emulator-clients" => a.emulator_clients = value()?.parse()?,
            "--rate" => a.rate = value()?.parse()?,
            "--json" => a.json = true,
            "--overload" => overload.seconds = value()?.parse()?,
            "--overload-connections" => overload.connections = value()?.parse()?,
            "--max-backlog" => overload.max_backlog = Some(value()?.parse()?),
            "-h" | "--help" => {
                println!("pipeline-bench {FLAGS}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other} (use {FLAGS})"),
        }
        if flag.starts_with("--overload") || flag == "--max-backlog" {
            a.overload = Some(overload.clone());
        }
    }
    if let Some(o) = a.overload.as_mut() {
        o.server.clone_from(&a.server);
    }
    Ok(a)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Which host the server runs the flow on.
enum Backend<'a> {
    Embedded,
    /// `serve --backend aws --provision` against this emulator endpoint.
    Emulator(&'a str),
}

fn start_server(
    bin: &Path,
    data: &Path,
    seed: &Path,
    port: u16,
    backend: &Backend<'_>,
) -> anyhow::Result<Child> {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .arg("--seed")
        .arg(seed)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Backend::Emulator(url) = backend {
        let prefix = format!("bench{}-", std::process::id());
        cmd.args([
            "--backend",
            "aws",
            "--provision",
            "--resource-prefix",
            &prefix,
        ])
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    }
    cmd.spawn().with_context(|| {
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

/// Counts ended workflow executions (the runner's own table, kept locally on both backends).
fn executions_ended(db: &Path) -> anyhow::Result<usize> {
    if !db.exists() {
        return Ok(0);
    }
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM executions WHERE status IN ('SUCCEEDED', 'FAILED')",
        [],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n)?)
}

/// What one run of the flow measured.
struct Flow {
    orders: usize,
    posted: Duration,
    finished: Duration,
    /// Events appended (embedded only: counted from its log).
    events: Option<usize>,
    latencies: Vec<Duration>,
    /// The server process's CPU time (user + system), by kind of thread, and its I/O, from its
    /// start to the last completion.
    server: Option<Usage>,
    /// This process's CPU time (user + system) while its clients sent the POSTs: the load
    /// generator's share of the machine.
    client_cpu: Option<Duration>,
    /// Concurrent clients.
    clients: usize,
    /// What the emulator served for the flow, the trailing emails included (emulator only,
    /// when it tells).
    requests: Option<Requests>,
    /// From the first POST until the emulator went quiet: every email of the orders' events
    /// sent too (emulator only).
    drained: Option<Duration>,
}

impl Flow {
    fn orders_per_s(&self) -> f64 {
        self.orders as f64 / self.finished.as_secs_f64()
    }

    /// Orders per second until every email was sent (emulator only).
    fn drained_per_s(&self) -> Option<f64> {
        self.drained
            .map(|d| self.orders as f64 / d.as_secs_f64().max(self.finished.as_secs_f64()))
    }

    fn events_per_s(&self) -> f64 {
        self.events.unwrap_or(0) as f64 / self.finished.as_secs_f64()
    }
}

/// Starts the server, places `orders` orders from `clients` concurrent keep-alive clients over
/// loopback, waits until every order has reached a terminal state, and stops the server.
async fn run_flow(
    args: &Args,
    (orders, clients): (usize, usize),
    backend: &Backend<'_>,
) -> anyhow::Result<Flow> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    let products: Vec<_> = (0..20)
        .map(|i| json!({ "productId": format!("P{i}"), "name": format!("Product {i}"), "price": 1000, "stock": 10_000_000 }))
        .collect();
    std::fs::write(&seed, serde_json::to_vec(&products)?)?;
    let port = free_port()?;
    let mut server = start_server(&args.server, &data, &seed, port, backend)?;
    let result = drive(args, (orders, clients), backend, &data, port)
        .await
        .map(|flow| Flow {
            server: Usage::of(server.id()),
            ..flow
        });
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    result
}

/// How long the emulator must serve nothing but idle polls before the flow's work is done.
const EMULATOR_QUIET: Duration = Duration::from_secs(2);

/// How many customers the orders are spread over.
const CUSTOMERS: usize = 1000;

/// A signed-in token per customer (`c0`, `c1`, ...), minted before the clock starts from the
/// issuer key in the server's data directory (the key `orders serve` verifies with).
fn customer_tokens(data: &Path) -> anyhow::Result<Vec<String>> {
    let issuer = order_api::auth::Issuer::load_or_create(data)?;
    (0..CUSTOMERS)
        .map(|c| {
            let customer = order_domain::CustomerId::parse(&format!("c{c}"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(issuer.mint(&customer, None, false, Duration::from_hours(2))?)
        })
        .collect()
}

async fn drive(
    args: &Args,
    (orders, clients): (usize, usize),
    backend: &Backend<'_>,
    data: &Path,
    port: u16,
) -> anyhow::Result<Flow> {
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        if ready.elapsed() > Duration::from_mins(2) {
            bail!("server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Every request made before the clock starts, as a load tester sends prepared requests:
    // each customer's whole POST (head, token and body) built once (order i is customer
    // i % CUSTOMERS's, of product i % 20, so its request is one of CUSTOMERS), leaving the
    // clients' CPU to sending and reading (`order_tests::load_client`).
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let host = addr.to_string();
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        customer_tokens(data)?
            .into_iter()
            .enumerate()
            .map(|(c, token)| {
                let body = json!({
                    "customerId": format!("c{c}"), "email": "bench@example.com",
                    "items": [{ "productId": format!("P{}", c % 20), "quantity": 1 }], "paymentToken": "tok_visa",
                });
                Ok(load_client::post(
                    &host,
                    "/orders",
                    &format!("Bearer {token}"),
                    &serde_json::to_vec(&body)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(load_client::Connection::open(addr).await?);
    }
    let served_before = match backend {
        Backend::Emulator(url) => Requests::fetch(url).await,
        Backend::Embedded => None,
    };
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = Usage::cpu_of(std::process::id());
    let started = Instant::now();
    let rate = args.rate;
    let mut tasks = Vec::new();
    for mut connection in connections {
        let (next, requests) = (next.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= orders {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                // Open loop: order i is due at i / rate, and its latency counts from then, so
                // a slow answer that delays the next send is charged to the server
                // (no coordinated omission).
                let due = if rate > 0.0 {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    Some(due)
                } else {
                    None
                };
                let request = &requests[i % CUSTOMERS];
                let t = due.unwrap_or_else(Instant::now);
                // A shed POST (503, the backlog at its bound) recorded nothing: the client
                // waits its Retry-After and sends it again, as a well-behaved client does; the
                // wait counts in the order's latency.
                let status = loop {
                    let reply = connection.send(request).await?;
                    match reply.retry_after {
                        Some(wait) if reply.status == 503 => tokio::time::sleep(wait).await,
                        _ => break reply.status,
                    }
                };
                latencies.push(t.elapsed());
                if status != 202 {
                    bail!("POST answered {status}");
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(orders);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let posted = started.elapsed();
    let client_cpu = cpu_before
        .zip(Usage::cpu_of(std::process::id()))
        .map(|(before, after)| after.saturating_sub(before));
    latencies.sort();
    let (db, mut progress) = match backend {
        Backend::Embedded => {
            let db = data.join("orders.db");
            let progress = Progress::open(&db)?;
            (db, Some(progress))
        }
        // The AWS host keeps only its workflow runner's bookkeeping locally.
        Backend::Emulator(_) => (data.join("aws-runner.db"), None),
    };
    loop {
        let (done, events) = match progress.as_mut() {
            Some(p) => {
                let (done, events) = p.poll()?;
                (done, Some(events))
            }
            None => (executions_ended(&db)?, None),
        };
        if done >= orders {
            let finished = started.elapsed();
            let (requests, drained) = match (backend, served_before) {
                (Backend::Emulator(url), Some(before)) => {
                    match Requests::settled(url, EMULATOR_QUIET, Duration::from_mins(5)).await {
                        Some((after, at)) => {
                            (Some(after.since(&before)), Some(at.duration_since(started)))
                        }
                        None => (None, None),
                    }
                }
                _ => (None, None),
            };
            return Ok(Flow {
                orders,
                posted,
                finished,
                events,
                latencies,
                server: None,
                client_cpu,
                clients,
                requests,
                drained,
            });
        }
        if started.elapsed() > Duration::from_mins(10) {
            bail!("only {done} of {orders} orders finished");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The server's CPU per order, by kind of thread, and its I/O per order, as table rows: the
/// figures of the JSON's `server_usage` (`Usage::per_order`), so both say the same.
fn print_usage(usage: &Usage, orders: usize) {
    let per_order = usage.per_order(orders);
    let (user, system) = (per_order.user_us_per_order, per_order.system_us_per_order);
    println!(
        "| server CPU per order (user + system, whole process) | {:.0} µs ({user:.0} + {system:.0}) |",
        user + system
    );
    let threads: Vec<String> = per_order
        .threads
        .iter()
        .map(|t| {
            format!(
                "{} {:.0} + {:.0}",
                t.kind, t.user_us_per_order, t.system_us_per_order
            )
        })
        .collect();
    println!(
        "| server CPU per order by thread (user + system) | {} µs |",
        threads.join(", ")
    );
    if let Some(io) = per_order.io {
        println!(
            "| server I/O per order | writes {:.1} calls, {:.1} KiB ({:.1} KiB to the disk); reads {:.1} calls, {:.1} KiB |",
            io.write_calls_per_order,
            io.written_kib_per_order,
            io.disk_written_kib_per_order,
            io.read_calls_per_order,
            io.read_kib_per_order,
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The table's figures as one JSON object (`--json`); rates per second, latencies in ms.
fn summary_json(
    args: &Args,
    embedded: &Flow,
    emulator: Option<(&Flow, &Ceiling)>,
    raw_single: f64,
    raw_batched: f64,
) -> serde_json::Value {
    let l = &embedded.latencies;
    let events_per_s = embedded.events_per_s();
    let emulator = emulator.map(|(e, ceiling)| {
        let mut fields = json!({
            "orders": e.orders,
            "clients": e.clients,
            "orders_per_s": e.orders_per_s(),
            "post_p50_ms": ms(percentile(&e.latencies, 0.50)),
            "post_p99_ms": ms(percentile(&e.latencies, 0.99)),
            "ratio_to_embedded": e.orders_per_s() / embedded.orders_per_s(),
            "drained_orders_per_s": e.drained_per_s(),
        });
        // Every call an order caused (its emails' included) over the time they took.
        let whole_rate = e.drained_per_s().unwrap_or_else(|| e.orders_per_s());
        ceiling.add_json(&mut fields, whole_rate, e.orders, e.requests.as_ref());
        fields
    });
    json!({
        "bench": "pipeline-bench",
        "orders": embedded.orders,
        "clients": args.clients,
        "rate": args.rate,
        "accepted_per_s": embedded.orders as f64 / embedded.posted.as_secs_f64(),
        "orders_per_s": embedded.orders_per_s(),
        "events": embedded.events,
        "events_per_s": events_per_s,
        "post_p50_ms": ms(percentile(l, 0.50)),
        "post_p99_ms": ms(percentile(l, 0.99)),
        "post_max_ms": ms(l.last().copied().unwrap_or_default()),
        "cpu_us_per_order": embedded
            .server
            .as_ref()
            .map(|u| u.cpu().as_secs_f64() * 1e6 / embedded.orders as f64),
        "server_usage": embedded.server.as_ref().map(|u| u.per_order(embedded.orders)),
        "client_cpu_us_per_order": embedded
            .client_cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / embedded.orders as f64),
        "raw_rows": args.raw_rows,
        "raw_single_rows_per_s": raw_single,
        "raw_batched_rows_per_s": raw_batched,
        "events_per_raw_single": events_per_s / raw_single,
        "events_per_raw_batched": events_per_s / raw_batched,
        "emulator": emulator,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let embedded = run_flow(&args, (args.orders, args.clients), &Backend::Embedded).await?;
    let emulator = match args.emulator.as_deref() {
        Some(url) => {
            let flow = (args.emulator_orders, args.emulator_clients);
            let flow = run_flow(&args, flow, &Backend::Emulator(url)).await?;
            Some((
                flow,
                put_item_ceiling(url, 500, args.emulator_clients).await?,
            ))
        }
        None => None,
    };
    let overload = match &args.overload {
        Some(options) => Some(order_tests::overload::run(options).await?),
        None => None,
    };
    let raw_dir = tempfile::tempdir()?;
    let (raw_single, raw_batched) = raw_commits(&raw_dir.path().join("raw.db"), args.raw_rows)?;
    let store = store_appends(raw_dir.path(), args.raw_rows, args.clients).await?;

    if args.json {
        let emulator = emulator.as_ref().map(|(flow, ceiling)| (flow, ceiling));
        let mut summary = summary_json(&args, &embedded, emulator, raw_single, raw_batched);
        summary["store_appends"] = store.json();
        summary["overload"] = overload.map_or(serde_json::Value::Null, |o| o.json());
        println!("{summary}");
        return Ok(());
    }
    let l = &embedded.latencies;
    let orders_per_s = embedded.orders_per_s();
    let events_per_s = embedded.events_per_s();
    println!("| measure | value |");
    println!("|---|---|");
    let load = if args.rate > 0.0 {
        format!("open loop at {:.0} orders/s", args.rate)
    } else {
        "closed loop (each client sends on its answer)".to_owned()
    };
    println!(
        "| orders, concurrent clients, load | {} orders, {} clients, {load} |",
        embedded.orders, args.clients
    );
    println!(
        "| POST accepted rate | {:.0} orders/s |",
        embedded.orders as f64 / embedded.posted.as_secs_f64()
    );
    println!(
        "| POST latency p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        ms(percentile(l, 0.50)),
        ms(percentile(l, 0.99)),
        ms(l.last().copied().unwrap_or_default())
    );
    println!(
        "| POST → COMPLETED throughput | {orders_per_s:.0} orders/s ({events_per_s:.0} events/s) |"
    );
    if let Some(usage) = &embedded.server {
        print_usage(usage, embedded.orders);
    }
    if let Some(cpu) = embedded.client_cpu {
        println!(
            "| load generator CPU per order (user + system, this process while it posted) | {:.0} µs |",
            cpu.as_secs_f64() * 1e6 / embedded.orders as f64
        );
    }
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
    println!(
        "| the store alone: 1-event appends from 1 / {} appenders | {:.0} / {:.0} events/s ({:.2} / {:.2} of raw 1-row commits) |",
        store.appenders,
        store.one_appender,
        store.concurrent,
        store.one_appender / raw_single,
        store.concurrent / raw_single
    );
    if let Some((e, ceiling)) = emulator {
        let l = &e.latencies;
        println!(
            "| emulator backend: POST → COMPLETED | {:.1} orders/s ({} orders, {} clients) |",
            e.orders_per_s(),
            e.orders,
            e.clients
        );
        println!(
            "| emulator backend: POST latency p50 / p99 | {:.2} / {:.2} ms |",
            ms(percentile(l, 0.50)),
            ms(percentile(l, 0.99))
        );
        println!(
            "| emulator ÷ embedded throughput | {:.3} |",
            e.orders_per_s() / orders_per_s
        );
        if let Some(rate) = e.drained_per_s() {
            println!("| emulator backend: POST → every email sent | {rate:.1} orders/s |");
        }
        let whole_rate = e.drained_per_s().unwrap_or_else(|| e.orders_per_s());
        ceiling.print_rows(whole_rate, e.orders, e.requests.as_ref());
    }
    if let Some(o) = overload {
        o.print_table();
    }
    Ok(())
}
