//! Sustained overload, as a load tester would try it (`pipeline-bench --overload SECS`): the
//! real `orders` binary in its own process; `connections` keep-alive clients (`load_client`) POST orders as fast
//! as they are answered for `seconds`, never waiting for an order to complete; then the bench
//! waits for every accepted order to end (the drain).
//!
//! What it reports ([`Overload::json`]): accepted POSTs/s and shed POSTs/s (by status) over the
//! overload; completed orders/s over the whole run (completed ÷ (overload + drain)) and its
//! ratio to the accepted rate (issue 16's target: ≥ 0.9, or the excess shed); the orders
//! completed within the overload window ÷ those accepted; the drain time; POST latency p50/p99
//! of every answer and of the accepted ones; and the largest backlog (orders accepted, not yet
//! ended: the server's `order_pipeline_orders_open` gauge) and OrdersQueue depth seen, sampled
//! every 100 ms from `/metrics`. Completion is read from the server's database (read-only,
//! incrementally), so watching it costs the server almost nothing.

// Rates and percentiles are float arithmetic on counts far below 2^52.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::load_client;
use crate::progress::Progress;

/// How to run the overload.
#[derive(Debug, Clone)]
pub struct Options {
    pub seconds: f64,
    pub connections: usize,
    /// The `orders` binary.
    pub server: PathBuf,
    /// `--max-backlog` for the server (`None`: its default; 0: no bound).
    pub max_backlog: Option<u64>,
}

/// What one overload run measured.
#[derive(Debug, Clone)]
pub struct Overload {
    pub options: Options,
    /// From the first POST to the last answer of the overload.
    pub overload: Duration,
    /// From the last answer of the overload until every accepted order had ended.
    pub drain: Duration,
    pub accepted: usize,
    /// Answers other than 202, by status (0: no answer, a transport error).
    pub refused: BTreeMap<u16, usize>,
    pub completed: usize,
    pub completed_in_window: usize,
    /// Latency of every answer, and of the accepted ones.
    pub all: Vec<Duration>,
    pub accepted_latencies: Vec<Duration>,
    pub max_backlog: u64,
    pub max_queue_visible: u64,
}

/// How many customers the orders are spread over (their tokens minted before the clock starts).
const CUSTOMERS: usize = 1000;
const PRODUCTS: usize = 20;

impl Overload {
    fn per_s(&self, n: usize) -> f64 {
        n as f64 / self.overload.as_secs_f64()
    }

    pub fn accepted_per_s(&self) -> f64 {
        self.per_s(self.accepted)
    }

    pub fn shed_per_s(&self) -> f64 {
        self.per_s(self.shed())
    }

    /// Answers 429 and 503: the excess refused before it was accepted.
    fn shed(&self) -> usize {
        self.refused
            .iter()
            .filter(|(s, _)| matches!(s, 429 | 503))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn completed_per_s(&self) -> f64 {
        self.completed as f64 / (self.overload + self.drain).as_secs_f64()
    }

    /// Completed orders/s over the run ÷ accepted POSTs/s during the overload.
    pub fn completed_over_accepted(&self) -> f64 {
        self.completed_per_s() / self.accepted_per_s().max(f64::MIN_POSITIVE)
    }

    fn backlog_bound(&self) -> u64 {
        self.options
            .max_backlog
            .unwrap_or(order_app::backlog::DEFAULT_BOUND)
    }

    /// The figures as JSON (`pipeline-bench --json`'s `"overload"`); rates per second, ms.
    pub fn json(&self) -> Value {
        let refused: BTreeMap<String, usize> = self
            .refused
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        json!({
            "seconds": self.options.seconds,
            "connections": self.options.connections,
            "overload_s": self.overload.as_secs_f64(),
            "accepted": self.accepted,
            "accepted_per_s": self.accepted_per_s(),
            "shed_per_s": self.shed_per_s(),
            "refused_by_status": refused,
            "completed": self.completed,
            "completed_per_s": self.completed_per_s(),
            "completed_over_accepted": self.completed_over_accepted(),
            "completed_in_window_over_accepted":
                self.completed_in_window as f64 / self.accepted.max(1) as f64,
            "drain_s": self.drain.as_secs_f64(),
            "post_p50_ms": ms(percentile(&self.all, 0.50)),
            "post_p99_ms": ms(percentile(&self.all, 0.99)),
            "accepted_p50_ms": ms(percentile(&self.accepted_latencies, 0.50)),
            "accepted_p99_ms": ms(percentile(&self.accepted_latencies, 0.99)),
            "max_queue_depth": self.max_backlog,
            "max_orders_queue_visible": self.max_queue_visible,
            "backlog_bound": self.backlog_bound(),
            "target_met": self.completed_over_accepted() >= 0.9,
        })
    }

    /// The figures as rows of the bench's Markdown table.
    pub fn print_table(&self) {
        let bound = match self.backlog_bound() {
            0 => "off".to_owned(),
            n => n.to_string(),
        };
        println!(
            "| overload: {} connections for {:.0} s, backlog bound {bound} | {:.0} POSTs/s accepted, {:.0}/s shed {:?} |",
            self.options.connections,
            self.options.seconds,
            self.accepted_per_s(),
            self.shed_per_s(),
            self.refused
        );
        println!(
            "| overload: completed/s over the run (÷ accepted/s) | {:.0} orders/s ({:.2}; target ≥ 0.9) |",
            self.completed_per_s(),
            self.completed_over_accepted()
        );
        println!(
            "| overload: completed in the window ÷ accepted; drain | {:.2}; {:.1} s |",
            self.completed_in_window as f64 / self.accepted.max(1) as f64,
            self.drain.as_secs_f64()
        );
        println!(
            "| overload: POST p50 / p99 (all; accepted) | {:.2} / {:.2} ms; {:.2} / {:.2} ms |",
            ms(percentile(&self.all, 0.50)),
            ms(percentile(&self.all, 0.99)),
            ms(percentile(&self.accepted_latencies, 0.50)),
            ms(percentile(&self.accepted_latencies, 0.99))
        );
        println!(
            "| overload: max backlog (orders open); max OrdersQueue depth | {}; {} |",
            self.max_backlog, self.max_queue_visible
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Starts the server, overloads it for `options.seconds`, waits for the drain, stops it.
pub async fn run(options: &Options) -> anyhow::Result<Overload> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    let products: Vec<_> = (0..PRODUCTS)
        .map(|i| json!({ "productId": format!("P{i}"), "name": format!("Product {i}"), "price": 1000, "stock": 100_000_000 }))
        .collect();
    std::fs::write(&seed, serde_json::to_vec(&products)?)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = start_server(options, &data, &seed, port)?;
    let result = drive(options, &data, &format!("http://127.0.0.1:{port}")).await;
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    result
}

fn start_server(options: &Options, data: &Path, seed: &Path, port: u16) -> anyhow::Result<Child> {
    let mut cmd = Command::new(&options.server);
    cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .arg("--seed")
        .arg(seed)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(n) = options.max_backlog {
        cmd.args(["--max-backlog", &n.to_string()]);
    }
    cmd.spawn()
        .with_context(|| format!("starting {}", options.server.display()))
}

/// One client's answers: (status, 0 for no answer; latency).
type Answers = Vec<(u16, Duration)>;

async fn drive(options: &Options, data: &Path, base: &str) -> anyhow::Result<Overload> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .build()?;
    let ready = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        if ready.elapsed() > Duration::from_mins(2) {
            bail!("server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut progress = Progress::open(&data.join("orders.db"))?;
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample(client.clone(), base.to_owned(), sampling.clone()));

    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .context("the server's address")?;
    let requests = Arc::new(prepared(&tokens(data)?, addr)?);
    let mut connections = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        connections.push(load_client::Connection::open(addr).await?);
    }

    let started = Instant::now();
    let end = started + Duration::from_secs_f64(options.seconds);
    let clients: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(c, connection)| {
            tokio::spawn(post_until(
                connection,
                requests.clone(),
                (c, options.connections),
                end,
            ))
        })
        .collect();
    let mut answers = Answers::new();
    for c in clients {
        answers.extend(c.await?);
    }
    let overload = started.elapsed();
    let completed_in_window = progress.poll()?.0;
    let accepted = answers.iter().filter(|(s, _)| *s == 202).count();
    let drained = Instant::now();
    let completed = loop {
        let done = progress.poll()?.0;
        if done >= accepted {
            break done;
        }
        if drained.elapsed() > Duration::from_mins(15) {
            bail!("only {done} of {accepted} accepted orders ended within 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let drain = drained.elapsed();
    sampling.store(false, Ordering::Release);
    let (max_backlog, max_queue_visible) = sampler.await?;

    let mut refused = BTreeMap::new();
    for (status, _) in answers.iter().filter(|(s, _)| *s != 202) {
        *refused.entry(*status).or_insert(0) += 1;
    }
    let mut accepted_latencies: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s == 202)
        .map(|(_, l)| *l)
        .collect();
    accepted_latencies.sort_unstable();
    let mut all: Vec<_> = answers.into_iter().map(|(_, l)| l).collect();
    all.sort_unstable();
    Ok(Overload {
        options: options.clone(),
        overload,
        drain,
        accepted,
        refused,
        completed,
        completed_in_window,
        all,
        accepted_latencies,
        max_backlog,
        max_queue_visible,
    })
}

/// Client `first` of `clients`: POSTs one order after another on its keep-alive connection
/// until `end`. A failed exchange counts as status 0 and the next one reconnects.
async fn post_until(
    mut connection: load_client::Connection,
    requests: Arc<Vec<Vec<u8>>>,
    (first, clients): (usize, usize),
    end: Instant,
) -> Answers {
    let mut answers = Answers::new();
    let mut order = first;
    while Instant::now() < end {
        let sent_at = Instant::now();
        let status = connection
            .send(&requests[order % CUSTOMERS])
            .await
            .map_or(0, |reply| reply.status);
        answers.push((status, sent_at.elapsed()));
        order += clients;
    }
    answers
}

/// Each customer's whole POST, built once as a load tester prepares its requests: customer c
/// orders product c % PRODUCTS (order i is customer i % CUSTOMERS's).
fn prepared(tokens: &[String], addr: std::net::SocketAddr) -> anyhow::Result<Vec<Vec<u8>>> {
    tokens
        .iter()
        .enumerate()
        .map(|(c, token)| {
            let body = json!({
                "email": "bench@example.com",
                "items": [{ "productId": format!("P{}", c % PRODUCTS), "quantity": 1 }],
                "paymentToken": "tok_visa",
            });
            Ok(load_client::post(
                &addr.to_string(),
                "/orders",
                &format!("Bearer {token}"),
                &serde_json::to_vec(&body)?,
            ))
        })
        .collect()
}

/// A token per customer (`c0`, `c1`, ...) from the issuer key in the server's data directory.
fn tokens(data: &Path) -> anyhow::Result<Vec<String>> {
    let issuer = order_api::auth::Issuer::load_or_create(data)?;
    (0..CUSTOMERS)
        .map(|c| {
            let customer = order_domain::CustomerId::parse(&format!("c{c}"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(issuer.mint(&customer, None, false, Duration::from_hours(2))?)
        })
        .collect()
}

/// Samples `/metrics` every 100 ms while `sampling`: the largest backlog gauge and OrdersQueue
/// depth seen.
async fn sample(client: reqwest::Client, base: String, sampling: Arc<AtomicBool>) -> (u64, u64) {
    let url = format!("{base}/metrics");
    let (mut backlog, mut visible) = (0, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while sampling.load(Ordering::Acquire) {
        tick.tick().await;
        let Ok(r) = client.get(&url).send().await else {
            continue;
        };
        let Ok(text) = r.text().await else { continue };
        backlog = backlog.max(gauge(&text, order_app::metrics::ORDERS_OPEN));
        visible = visible.max(gauge(&text, order_app::metrics::QUEUE_VISIBLE));
    }
    (backlog, visible)
}

/// A label-free gauge's value in a Prometheus text page (0 when absent).
fn gauge(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0, |v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_is_read_from_its_own_line_only() {
        let page = "# HELP order_pipeline_orders_open x\norder_pipeline_orders_open 42\n\
                    order_pipeline_orders_open_other 7\n";
        assert_eq!(gauge(page, "order_pipeline_orders_open"), 42);
        assert_eq!(gauge(page, "order_pipeline_missing"), 0);
    }
}
