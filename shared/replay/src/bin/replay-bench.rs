//! `replay-bench`: replay throughput next to the raw rate of reading and decoding the same rows,
//! measured in one run on one generated log.
//!
//! ```text
//! cargo run --release -p order-replay --bin replay-bench -- [--events 1000000] [--products 50] [--dir PATH]
//! ```
//!
//! Generates (or, when `--dir` already holds one, reuses) a log of at least `--events` events (default one million) with live read models
//! projected by the embedded projection code, then times, in `--runs` rounds (default 2, best
//! kept): the raw rate (`SELECT` every row in storage order + `order_domain::events::decode`,
//! nothing else; once with the in-place row reader replay uses, once with `row_to_event`), replay
//! (fold + compare with the live rows) and replay with `--verify` (plus every hash). Ratios are
//! against the faster raw line. Wall time rules; process CPU time is shown beside it because
//! this machine is shared and a busy neighbour stretches wall time, not CPU time.
//!
//! `--json` prints one JSON object with the same figures instead of the table (for
//! `bench-report`, which puts every benchmark into one table).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use order_domain::Timestamp;
use order_replay::sqlite::{open_reader, read_and_decode, read_and_decode_owned, replay};
use order_replay::summary::{Summary, grouped, rate};
use order_replay::synthetic::Generated;
use order_replay::{Outcome, ReplayOptions};

struct Args {
    events: u64,
    products: usize,
    runs: usize,
    dir: Option<PathBuf>,
    json: bool,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        events: 1_000_000,
        products: 50,
        runs: 2,
        dir: None,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => args.events = value()?.parse()?,
            "--products" => args.products = value()?.parse()?,
            "--runs" => args.runs = value()?.parse::<usize>()?.max(1),
            "--dir" => args.dir = Some(PathBuf::from(value()?)),
            "--json" => args.json = true,
            "-h" | "--help" => {
                println!(
                    "replay-bench [--events N] [--products N] [--runs N] [--dir PATH] [--json]\n\
                     Generates a log in PATH (default: a temporary folder, removed afterwards);\n\
                     a log already in PATH is reused. --json prints one JSON object instead of\n\
                     the table."
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(args)
}

/// One timed run: wall time, and the process's CPU time where Linux tells it.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    events: u64,
    wall: Duration,
    cpu: Option<Duration>,
}

impl Timing {
    fn measure(run: &dyn Fn() -> Result<u64, Box<dyn Error>>) -> Result<Self, Box<dyn Error>> {
        let (cpu, started) = (cpu_time(), Instant::now());
        let events = run()?;
        let wall = started.elapsed();
        let cpu = cpu.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
        Ok(Self { events, wall, cpu })
    }

    fn rate(&self) -> f64 {
        rate(self.events, self.wall)
    }
}

/// User + system CPU time of this process, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// What an existing log holds.
fn count_log(db: &Path) -> Result<Generated, Box<dyn Error>> {
    let conn = open_reader(db)?;
    let count = |sql: &str| -> Result<u64, Box<dyn Error>> {
        Ok(u64::try_from(
            conn.query_row(sql, [], |r| r.get::<_, i64>(0))?,
        )?)
    };
    Ok(Generated {
        events: count("SELECT COUNT(*) FROM events")?,
        orders: count("SELECT COUNT(*) FROM order_status")?,
        products: count("SELECT COUNT(*) FROM inventory")?,
    })
}

const VERIFY: ReplayOptions = ReplayOptions {
    verify: true,
    as_of: None,
    rebuild: false,
};

/// Times the four runs in `runs` rounds; the best of each.
fn measure(db: &Path, runs: usize) -> Result<[Timing; 4], Box<dyn Error>> {
    // Warm the page cache so that every timed run reads the same way.
    read_and_decode(db)?;
    // Rounds of every measurement in turn, so that a busy moment hurts them alike; best kept.
    let mut best = [Timing::default(); 4];
    for _ in 0..runs {
        let runs: [&dyn Fn() -> Result<u64, Box<dyn Error>>; 4] = [
            &|| Ok(read_and_decode(db)?.events),
            &|| Ok(read_and_decode_owned(db)?.events),
            &|| {
                let s = replay(db, &ReplayOptions::default(), &mut ())?;
                Ok(s.events)
            },
            &|| {
                let s = replay(db, &VERIFY, &mut ())?;
                Ok(s.events)
            },
        ];
        for (slot, run) in best.iter_mut().zip(runs) {
            let timing = Timing::measure(run)?;
            if slot.events == 0 || timing.wall < slot.wall {
                *slot = timing;
            }
        }
    }
    Ok(best)
}

const NAMES: [&str; 4] = [
    "raw: SELECT + decode (in-place rows)",
    "raw: SELECT + decode (row_to_event per row)",
    "replay: fold + compare with live rows",
    "replay --verify: + every hash chain",
];

fn print_table(best: &[Timing; 4], checks: &[Summary]) {
    let raw_rate = best[0].rate();
    println!();
    println!(
        "| run                                            |    events | seconds | cpu s |  events/s | vs raw |"
    );
    println!(
        "|------------------------------------------------|----------:|--------:|------:|----------:|-------:|"
    );
    for (name, t) in NAMES.iter().zip(best) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let per_second = t.rate().round() as u64;
        println!(
            "| {name:<46} | {:>9} | {:>7.2} | {:>5} | {:>9} | {:>5.2}x |",
            grouped(t.events),
            t.wall.as_secs_f64(),
            t.cpu
                .map_or_else(|| "-".to_owned(), |c| format!("{:.2}", c.as_secs_f64())),
            grouped(per_second),
            t.rate() / raw_rate
        );
    }
    println!();
    for s in checks {
        println!(
            "replay{}: {:?}, {} rows compared, {} differences, {} failures",
            if s.options.verify { " --verify" } else { "" },
            s.outcome(),
            grouped(s.rows_compared),
            s.differences,
            s.failures
        );
    }
}

/// The table's figures as one JSON object (`--json`): rates in events/s, ratios against the
/// raw in-place read + decode, as in the table.
fn summary_json(
    generated: &Generated,
    best: &[Timing; 4],
    runs: usize,
    matches: bool,
) -> serde_json::Value {
    let raw = best[0].rate();
    serde_json::json!({
        "bench": "replay-bench",
        "events": generated.events,
        "orders": generated.orders,
        "runs": runs,
        "raw_events_per_s": raw,
        "raw_owned_events_per_s": best[1].rate(),
        "replay_events_per_s": best[2].rate(),
        "verify_events_per_s": best[3].rate(),
        "ratio": best[2].rate() / raw,
        "verify_ratio": best[3].rate() / raw,
        "matches": matches,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("replay-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("orders.db");
    let started = Instant::now();
    let reused = db.exists();
    let generated = if reused {
        // A log left by an earlier run with --dir: measure it again as it is.
        eprintln!("reusing the log in {}", db.display());
        count_log(&db)?
    } else {
        eprintln!(
            "generating {} events in {} ...",
            grouped(args.events),
            dir.display()
        );
        order_replay::synthetic::generate(
            &db,
            args.events,
            args.products,
            Timestamp::from_millis(1_767_225_600_000),
        )?
    };
    let generation = started.elapsed();

    let best = measure(&db, args.runs)?;
    let mut checks = Vec::new();
    for options in [ReplayOptions::default(), VERIFY] {
        checks.push(replay(&db, &options, &mut ())?);
    }
    let ok = checks.iter().all(|s| s.outcome() == Outcome::Match);
    if args.json {
        println!("{}", summary_json(&generated, &best, args.runs, ok));
    } else {
        println!(
            "replay-bench: {} events ({} orders, {} products), {} in {:.1} s; best of {} runs",
            grouped(generated.events),
            grouped(generated.orders),
            grouped(generated.products),
            if reused { "reused" } else { "generated" },
            generation.as_secs_f64(),
            args.runs
        );
        print_table(&best, &checks);
    }
    if temporary {
        std::fs::remove_dir_all(&dir)?;
    }
    if !ok {
        return Err("the generated log did not replay to its live read models".into());
    }
    Ok(())
}
