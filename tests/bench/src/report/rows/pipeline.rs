//! `pipeline-bench`'s closed and open loops: capacity, CPU per order and the append rate
//! against raw SQLite from the closed loop (at capacity); the POST p99 from the open loop
//! (at capacity POSTs queue by design, so a closed loop's p99 says nothing about latency).
//!
//! The append rate is judged twice against the same raw baseline: the whole pipeline's
//! events/s (every event with the HTTP, crypto, workflow and projection work around it) and
//! the event store's own appends (`store_appends`: `EventStore::append` alone, one event per
//! append, from as many appenders as the loop's clients).
//!
//! A closed loop run several times (`closed_runs`, from [`crate::report::repeats`]) shows the
//! medians, says so, and adds a row with each run's capacity, CPU and events/s ÷ raw; each
//! ratio judged is then the median of the runs' own ratios.

use super::{
    CPU_US_PER_ORDER, EVENTS_PER_RAW_SINGLE, Json, OPEN_LOOP, OPEN_RATE, ORDERS_PER_S, P99_MS,
    PIPELINE,
};
use crate::report::table::{Row, Verdict, grouped};

/// `5,000 orders, 64 clients, closed loop` (or `open loop at 2,000 orders/s`).
fn load(j: &Json<'_>) -> Result<(String, f64), String> {
    let rate = j.f64("rate")?;
    let how = if rate > 0.0 {
        format!("open loop at {} orders/s", grouped(rate))
    } else {
        "closed loop".to_owned()
    };
    let text = format!(
        "{} orders, {} clients, {how}",
        grouped(j.f64("orders")?),
        grouped(j.f64("clients")?)
    );
    Ok((text, rate))
}

/// One closed-loop run's figures, as the runner listed them (`closed_runs`).
struct Run {
    orders_per_s: f64,
    cpu_us_per_order: Option<f64>,
    per_raw: f64,
}

/// The closed loop's runs (`closed_runs`), when there were several.
fn runs(j: &Json<'_>) -> Result<Vec<Run>, String> {
    if j.0.get("closed_runs").is_none() {
        return Ok(Vec::new());
    }
    j.list("closed_runs")?
        .iter()
        .map(|r| {
            Ok(Run {
                orders_per_s: r.f64("orders_per_s")?,
                cpu_us_per_order: r.opt_f64("cpu_us_per_order"),
                per_raw: r.f64("events_per_raw_single")?,
            })
        })
        .collect()
}

/// The row listing each run's figures, the ones the medians above come from.
fn runs_row(runs: &[Run]) -> Row {
    let joined = |f: fn(&Run) -> String| runs.iter().map(f).collect::<Vec<_>>().join(" / ");
    Row::new(
        PIPELINE,
        format!(
            "each closed-loop run, in order ({} runs; the rows above give their medians)",
            runs.len()
        ),
        format!(
            "{} orders/s; {} µs; events/s ÷ raw {}",
            joined(|r| grouped(r.orders_per_s)),
            joined(|r| r.cpu_us_per_order.map_or_else(|| "–".to_owned(), grouped)),
            joined(|r| format!("{:.2}", r.per_raw)),
        ),
        "none: the spread of one machine's runs",
        Verdict::Info,
    )
}

/// The loop's description (saying "median of N runs" when there were several), its offered
/// rate, and its runs.
fn described(j: &Json<'_>) -> Result<(String, f64, Vec<Run>), String> {
    let (load, rate) = load(j)?;
    let runs = runs(j)?;
    let load = if runs.len() > 1 {
        format!("{load}, median of {} runs", runs.len())
    } else {
        load
    };
    Ok((load, rate, runs))
}

/// The load generator shares the two cores: what it spends is the rest of the capacity
/// target's budget (two cores at 5,000 orders/s give 400 µs per order to both).
fn load_generator(j: &Json<'_>) -> Result<Option<Row>, String> {
    let Some(us) = j.opt_f64("client_cpu_us_per_order") else {
        return Ok(None);
    };
    Ok(Some(Row::new(
        PIPELINE,
        format!(
            "load generator CPU per order (its {} clients, while they posted)",
            grouped(j.f64("clients")?)
        ),
        format!("{} µs", grouped(us)),
        "none: with the server's, ≤ 400 µs is what 5,000 orders/s on 2 cores allows",
        Verdict::Info,
    )))
}

pub(super) fn closed_loop(j: &Json<'_>) -> Result<Vec<Row>, String> {
    let (load, rate, runs) = described(j)?;
    let orders_per_s = j.f64("orders_per_s")?;
    let events_per_s = j.f64("events_per_s")?;
    let raw_single = j.f64("raw_single_rows_per_s")?;
    let raw_batched = j.f64("raw_batched_rows_per_s")?;
    let (p50, p99) = (j.f64("post_p50_ms")?, j.f64("post_p99_ms")?);
    // Capacity is a closed loop's figure: an open loop's throughput is the rate it was offered.
    let at_capacity = rate <= 0.0;
    let judged = |verdict: Verdict| {
        if at_capacity { verdict } else { Verdict::Info }
    };
    let cpu = match j.opt_f64("cpu_us_per_order") {
        Some(us) => (
            format!("{} µs", grouped(us)),
            judged(Verdict::at_most(us, CPU_US_PER_ORDER)),
        ),
        None => ("not measured (no /proc)".to_owned(), Verdict::Info),
    };
    let raw_rows = grouped(j.f64("raw_rows")?);
    // Computed from the two rates rather than read, so the row always means what it says; with
    // several runs, the median of each run's own ratio (the runner computed them the same way).
    let per_raw = j
        .opt_f64("events_per_raw_single_median")
        .unwrap_or(events_per_s / raw_single);
    let mut rows = vec![
        Row::new(
            PIPELINE,
            format!("POST → terminal state, {load}"),
            format!("{} orders/s", grouped(orders_per_s)),
            "≥ 5,000 orders/s on 2 cores (closed loop)",
            judged(Verdict::at_least(orders_per_s, ORDERS_PER_S)),
        ),
        Row::new(
            PIPELINE,
            "server CPU per order (user + system) at capacity",
            cpu.0,
            "≤ 150 µs",
            cpu.1,
        ),
    ];
    rows.extend(load_generator(j)?);
    if at_capacity && let Some(usage) = j.obj("server_usage") {
        rows.extend(server_usage(&usage, runs.len() > 1)?);
    }
    rows.extend([
        Row::new(
            PIPELINE,
            format!("POST latency p50 / p99 ({load})"),
            format!("{p50:.1} / {p99:.1} ms"),
            "none at capacity: p99 is judged in the open loop",
            Verdict::Info,
        ),
        Row::new(
            PIPELINE,
            "events appended",
            format!("{} events/s", grouped(events_per_s)),
            "none",
            Verdict::Info,
        ),
        Row::new(
            PIPELINE,
            format!("raw SQLite, 1 row per commit ({raw_rows} rows, WAL, synchronous=NORMAL)"),
            format!("{} rows/s", grouped(raw_single)),
            "baseline",
            Verdict::Baseline,
        ),
        Row::new(
            PIPELINE,
            "events/s ÷ raw 1-row commits (same run; the whole pipeline, every event with its work)",
            format!("{per_raw:.2}"),
            "≥ 0.80",
            judged(Verdict::at_least(per_raw, EVENTS_PER_RAW_SINGLE)),
        ),
        Row::new(
            PIPELINE,
            format!("raw SQLite, 100 rows per commit ({raw_rows} rows)"),
            format!("{} rows/s", grouped(raw_batched)),
            "baseline",
            Verdict::Baseline,
        ),
        Row::new(
            PIPELINE,
            "events/s ÷ raw batched rows",
            format!("{:.3}", events_per_s / raw_batched),
            "none",
            Verdict::Info,
        ),
    ]);
    if runs.len() > 1 {
        rows.push(runs_row(&runs));
    }
    // Lenient: a pipeline-bench before the store's own measure has no such object.
    if let Some(store) = j.obj("store_appends") {
        let median = j.opt_f64("store_per_raw_single_median");
        rows.extend(store_appends(&store, raw_single, median)?);
    }
    Ok(rows)
}

/// Where the server's CPU per order went (user + system by kind of thread) and its read and
/// write calls per order, from `pipeline-bench`'s `server_usage`: what a missed CPU target is
/// made of, the kernel's share apart. With several runs, the one whose CPU was the median's
/// (`crate::report::repeats`), so the parts add up to a figure of the table.
fn server_usage(j: &Json<'_>, of_several: bool) -> Result<Vec<Row>, String> {
    let run = if of_several { ", the median run" } else { "" };
    let (user, system) = (j.f64("user_us_per_order")?, j.f64("system_us_per_order")?);
    let threads = j
        .list("threads")?
        .iter()
        .map(|t| {
            Ok(format!(
                "{} {} + {}",
                t.str("kind")?,
                grouped(t.f64("user_us_per_order")?),
                grouped(t.f64("system_us_per_order")?)
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut rows = vec![Row::new(
        PIPELINE,
        format!("server CPU per order by thread, user + system µs (at capacity{run})"),
        format!(
            "{}; the kernel's {} of {} µs ({:.0} %)",
            threads.join(", "),
            grouped(system),
            grouped(user + system),
            100.0 * system / (user + system).max(f64::MIN_POSITIVE)
        ),
        "none: where the CPU row's time went",
        Verdict::Info,
    )];
    if let Some(io) = j.obj("io") {
        rows.push(Row::new(
            PIPELINE,
            format!("server read and write system calls per order (at capacity{run})"),
            format!(
                "writes {:.1} calls, {:.1} KiB ({:.1} KiB reached the disk); reads {:.1} calls, {:.1} KiB",
                io.f64("write_calls_per_order")?,
                io.f64("written_kib_per_order")?,
                io.f64("disk_written_kib_per_order")?,
                io.f64("read_calls_per_order")?,
                io.f64("read_kib_per_order")?,
            ),
            "none: the WAL's frames, their checkpoints and the HTTP exchange",
            Verdict::Info,
        ));
    }
    Ok(rows)
}

/// The event store alone against the same raw 1-row commits (`median`: the median of several
/// runs' own ratios, which is then the one judged).
fn store_appends(j: &Json<'_>, raw_single: f64, median: Option<f64>) -> Result<Vec<Row>, String> {
    let (one, many) = (j.f64("one_appender_per_s")?, j.f64("concurrent_per_s")?);
    let appenders = grouped(j.f64("appenders")?);
    let per_raw = median.unwrap_or(many / raw_single);
    Ok(vec![
        Row::new(
            PIPELINE,
            format!(
                "the store alone: EventStore::append, 1 event each ({} events), from 1 / {appenders} appenders",
                grouped(j.f64("events")?)
            ),
            format!("{} / {} events/s", grouped(one), grouped(many)),
            "none",
            Verdict::Info,
        ),
        Row::new(
            PIPELINE,
            format!(
                "the store's appends/s ÷ raw 1-row commits, {appenders} appenders (1 appender)"
            ),
            format!("{per_raw:.2} ({:.2})", one / raw_single),
            "≥ 0.80",
            Verdict::at_least(per_raw, EVENTS_PER_RAW_SINGLE),
        ),
    ])
}

pub(super) fn open_loop(j: &Json<'_>) -> Result<Vec<Row>, String> {
    let (load, rate) = load(j)?;
    let (p50, p99) = (j.f64("post_p50_ms")?, j.f64("post_p99_ms")?);
    let (latency, target) = if rate >= OPEN_RATE {
        (Verdict::below(p99, P99_MS), "p99 < 20 ms at 2,000 orders/s")
    } else {
        (
            Verdict::Info,
            "p99 < 20 ms is judged at ≥ 2,000 orders/s offered (--rate 2000)",
        )
    };
    let accepted = j.opt_f64("accepted_per_s").map_or_else(String::new, |a| {
        format!("; POSTs accepted at {}/s", grouped(a))
    });
    let mut rows = vec![
        Row::new(
            OPEN_LOOP,
            format!("POST latency p50 / p99 ({load})"),
            format!("{p50:.1} / {p99:.1} ms{accepted}"),
            target,
            latency,
        ),
        Row::new(
            OPEN_LOOP,
            "POST → terminal state",
            format!("{} orders/s", grouped(j.f64("orders_per_s")?)),
            "none: the offered rate, less the last orders' drain",
            Verdict::Info,
        ),
    ];
    // Below capacity the writer's commits carry a few jobs each, and every commit and
    // every wake-up costs the same whatever it carries: this row shows what that does to the
    // CPU an order costs, beside the closed loop's figure at capacity.
    if let Some(us) = j.opt_f64("cpu_us_per_order") {
        rows.push(Row::new(
            OPEN_LOOP,
            "server CPU per order (user + system) at the offered rate, below capacity",
            format!("{} µs", grouped(us)),
            "none: ≤ 150 µs is judged at capacity (closed loop)",
            Verdict::Info,
        ));
    }
    Ok(rows)
}
