//! `lambda-cold-start`: every function binary's cold start through a stub Runtime API on
//! loopback, next to two baselines built with the same profile, as one markdown table.
//!
//! For each binary and each repetition: a fresh stub, a fresh first event (the repo fixture,
//! for an order the emulator holds in the right state), exec, then the time to the first
//! `GET /next` (init) and to the first invocation's answer. Repetitions are interleaved
//! (round after round over all binaries), so a change in the shared machine's load hits every
//! row alike; one untimed run per binary first warms the page cache, and each exec waits for
//! the emulator to settle after the event's preparation (`--settle-ms`, 200 by default).
//!
//! `hello-sdk` also runs a second time drawing one random number before its first poll
//! (`HELLO_SDK_FIRST_RANDOM=1`), which is when aws-lc seeds its generator (on AWS: a function's
//! first TLS handshake). The workspace builds aws-lc without its CPU jitter entropy
//! (`.cargo/config.toml`); `--jitter-dir DIR` adds the `hello-sdk` found in DIR, built with
//! `AWS_LC_SYS_NO_JITTER_ENTROPY=0` (aws-lc's default), to show what that setting saves. The
//! exact commands are in `BENCHMARKS.md`.
//!
//! `--endpoint https://…` with `--ca-bundle PEM` (the emulator served over TLS, e.g.
//! `moto_serialized.py --tls-cert … --tls-key …`) makes each function's first answer include
//! its first TLS handshake, as on AWS; the bundle reaches the functions as `AWS_CA_BUNDLE`.
//!
//! `--json` prints one JSON object with every row's figures instead of the table (for
//! `bench-report`, which puts every benchmark into one table).
// Each run prepares its first event by placing orders through the app, whose nested futures
// (a POST's product lookups together among them) go past the default depth of 128 when the
// compiler lays out `run_once`'s future.
#![recursion_limit = "256"]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use order_bench::artifact::{self, Sizes};
use order_bench::cold_start::{Launch, Outcome, Sample, measure};
use order_bench::functions::{Emulator, EventKind, FUNCTIONS, hello_event};
use order_bench::runtime_api::{Invocation, StubRuntime};
use order_bench::stats::{median, ms, percentile};

/// The init-time target: each function within 1.2× of the SDK hello world.
const TARGET_RATIO: f64 = 1.2;
const SDK_BASELINE: &str = "hello-sdk";

/// The flags it takes (`--help` prints them).
const FLAGS: &str = "--repeats N --bin-dir DIR --jitter-dir DIR --endpoint URL --ca-bundle PEM \
     --only a,b --logs DIR --settle-ms MS --json";

struct Args {
    repeats: usize,
    bin_dir: PathBuf,
    jitter_dir: Option<PathBuf>,
    endpoint: String,
    ca_bundle: Option<PathBuf>,
    only: Option<Vec<String>>,
    logs: Option<PathBuf>,
    settle: Duration,
    json: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        repeats: 10,
        bin_dir: std::env::current_exe()?
            .parent()
            .context("the executable's directory")?
            .to_path_buf(),
        jitter_dir: None,
        ca_bundle: None,
        endpoint: std::env::var("AWS_ENDPOINT_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:5577".into()),
        only: None,
        logs: None,
        settle: Duration::from_millis(200),
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("flag needs a value");
        match flag.as_str() {
            "--repeats" => a.repeats = value()?.parse()?,
            "--bin-dir" => a.bin_dir = value()?.into(),
            "--jitter-dir" => a.jitter_dir = Some(value()?.into()),
            "--endpoint" => a.endpoint = value()?,
            "--ca-bundle" => a.ca_bundle = Some(value()?.into()),
            "--only" => a.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--logs" => a.logs = Some(value()?.into()),
            "--settle-ms" => a.settle = Duration::from_millis(value()?.parse()?),
            "--json" => a.json = true,
            "-h" | "--help" => {
                println!("lambda-cold-start {FLAGS}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other} (use {FLAGS})"),
        }
    }
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    Ok(a)
}

/// One row of the table: a binary and how to invoke it.
struct Subject {
    label: String,
    launch: Launch,
    /// `None`: a baseline, invoked with a hello event.
    event: Option<EventKind>,
    sizes: Sizes,
    samples: Vec<Sample>,
    failures: Vec<String>,
}

fn binary(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build it with `cargo build --release -p {}`",
            path.display(),
            if name.starts_with("hello-") {
                "order-bench"
            } else {
                name
            }
        );
    }
    Ok(path)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn subjects(args: &Args, emulator: &Emulator) -> anyhow::Result<Vec<Subject>> {
    let wanted = |name: &str| {
        args.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|n| n == name))
    };
    let mut out = Vec::new();
    let mut baseline = |label: String, program: PathBuf, first_random: bool| {
        let mut env = vec![("AWS_ENDPOINT_URL".into(), emulator.endpoint.clone())];
        if first_random {
            env.push(("HELLO_SDK_FIRST_RANDOM".into(), "1".into()));
        }
        out.push(Subject {
            label,
            sizes: artifact::sizes(&program)?,
            launch: Launch {
                name: "hello".into(),
                program,
                memory_mb: 256,
                env,
            },
            event: None,
            samples: vec![],
            failures: vec![],
        });
        anyhow::Ok(())
    };
    baseline(
        "hello-runtime".into(),
        binary(&args.bin_dir, "hello-runtime")?,
        false,
    )?;
    let sdk = binary(&args.bin_dir, SDK_BASELINE)?;
    baseline(SDK_BASELINE.into(), sdk.clone(), false)?;
    baseline(format!("{SDK_BASELINE} + first random"), sdk, true)?;
    if let Some(dir) = &args.jitter_dir {
        let sdk = binary(dir, SDK_BASELINE)?;
        baseline(
            format!("{SDK_BASELINE} (jitter entropy)"),
            sdk.clone(),
            false,
        )?;
        baseline(
            format!("{SDK_BASELINE} + first random (jitter entropy)"),
            sdk,
            true,
        )?;
    }
    for f in FUNCTIONS.iter().filter(|f| wanted(f.name)) {
        // Functions always come from --bin-dir: the jitter directory is read for hello-sdk
        // only, so a copy of a function there can never pass for the shipped build.
        let program = binary(&args.bin_dir, f.name)?;
        out.push(Subject {
            label: f.name.to_owned(),
            sizes: artifact::sizes(&program)?,
            launch: Launch {
                name: f.name.into(),
                program,
                memory_mb: f.memory_mb,
                env: emulator.function_env(f)?,
            },
            event: Some(f.event),
            samples: vec![],
            failures: vec![],
        });
    }
    Ok(out)
}

async fn run_once(
    subject: &Subject,
    emulator: &Emulator,
    log: &Path,
    settle: Duration,
) -> anyhow::Result<Sample> {
    let mut stub = StubRuntime::start(&subject.launch.name).await?;
    let event = match subject.event {
        Some(kind) => emulator.event(kind, &stub.response_url()).await?,
        None => hello_event(),
    };
    let invocation = Invocation::new(event);
    stub.push(invocation.clone());
    // Preparing the event keeps the emulator (a Python process on the same cores) busy for a
    // moment after its last answer; let it settle so it does not slow this binary's init.
    tokio::time::sleep(settle).await;
    measure(
        &subject.launch,
        &mut stub,
        &invocation,
        log,
        Duration::from_secs(30),
    )
    .await
}

fn outcome_text(samples: &[Sample]) -> String {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in samples {
        let text = match &s.outcome {
            Outcome::Response => "response".to_owned(),
            Outcome::Error(t) => format!("error `{t}`"),
        };
        *seen.entry(text).or_default() += 1;
    }
    seen.into_iter()
        .map(|(t, n)| format!("{t} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[allow(clippy::cast_precision_loss)] // millisecond ratios
fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn print_table(subjects: &[Subject]) {
    let sdk = subjects
        .iter()
        .find(|s| s.label == SDK_BASELINE)
        .and_then(|s| median(&inits(s)));
    println!(
        "| binary | memory (MB) | stripped binary (MiB) | zip (MiB) | init median (ms) | init p90 (ms) | init ÷ SDK hello | first response median (ms) | first response p90 (ms) | first answer |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for s in subjects {
        let init = inits(s);
        let first: Vec<Duration> = s.samples.iter().map(|x| x.first_response).collect();
        let cell = |d: Option<Duration>| d.map_or_else(|| "–".into(), ms);
        let r = match (median(&init), sdk) {
            (Some(m), Some(base)) => {
                let r = ratio(m, base);
                let mark = if s.event.is_none() {
                    ""
                } else if r <= TARGET_RATIO {
                    " ✓"
                } else {
                    " ✗"
                };
                format!("{r:.2}{mark}")
            }
            _ => "–".into(),
        };
        let mut answer = outcome_text(&s.samples);
        if !s.failures.is_empty() {
            let _ = write!(answer, "; {} failed runs", s.failures.len());
        }
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.label,
            s.launch.memory_mb,
            artifact::mib(s.sizes.binary),
            artifact::mib(s.sizes.zipped),
            cell(median(&init)),
            cell(percentile(&init, 90)),
            r,
            cell(median(&first)),
            cell(percentile(&first, 90)),
            answer,
        );
    }
}

fn inits(s: &Subject) -> Vec<Duration> {
    s.samples.iter().map(|x| x.init).collect()
}

/// Every row's figures as one JSON object (`--json`): times in ms, sizes in bytes, baselines
/// and functions apart; `ratio_to_sdk` is the init median ÷ hello-sdk's; `over_tls` says the
/// endpoint was HTTPS, so each first response includes the function's first TLS handshake.
fn summary_json(
    subjects: &[Subject],
    repeats: usize,
    over_tls: bool,
    load_before: &str,
    load_after: &str,
) -> serde_json::Value {
    let millis = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    let sdk = subjects
        .iter()
        .find(|s| s.label == SDK_BASELINE)
        .and_then(|s| median(&inits(s)));
    let row = |s: &Subject| {
        let init = inits(s);
        let first: Vec<Duration> = s.samples.iter().map(|x| x.first_response).collect();
        let errors = s
            .samples
            .iter()
            .filter(|x| matches!(x.outcome, Outcome::Error(_)))
            .count();
        serde_json::json!({
            "name": s.label,
            "memory_mb": s.launch.memory_mb,
            "binary_bytes": s.sizes.binary,
            "zip_bytes": s.sizes.zipped,
            "init_median_ms": millis(median(&init)),
            "init_p90_ms": millis(percentile(&init, 90)),
            "ratio_to_sdk": median(&init).zip(sdk).map(|(m, base)| ratio(m, base)),
            "first_response_median_ms": millis(median(&first)),
            "first_response_p90_ms": millis(percentile(&first, 90)),
            "runs": s.samples.len(),
            "failed_runs": s.failures.len(),
            "error_answers": errors,
            "answers": outcome_text(&s.samples),
        })
    };
    serde_json::json!({
        "bench": "lambda-cold-start",
        "repeats": repeats,
        "over_tls": over_tls,
        "target_ratio": TARGET_RATIO,
        "load_before": load_before,
        "load_after": load_after,
        "baselines": subjects.iter().filter(|s| s.event.is_none()).map(row).collect::<Vec<_>>(),
        "functions": subjects.iter().filter(|s| s.event.is_some()).map(row).collect::<Vec<_>>(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let logs = match &args.logs {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("lambda-cold-start-{}", std::process::id())),
    };
    std::fs::create_dir_all(&logs)?;
    let prefix = format!(
        "bench{}-",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    eprintln!(
        "provisioning {prefix}* on {} (load average {})",
        args.endpoint,
        load_average()
    );
    let emulator = Emulator::provision(&args.endpoint, &prefix, args.ca_bundle.as_deref()).await?;
    let mut subjects = subjects(&args, &emulator)?;
    for s in &subjects {
        if artifact::has_symbols(&s.launch.program)? {
            eprintln!("warning: {} is not stripped", s.launch.program.display());
        }
    }
    eprintln!("warm-up: one untimed run per binary");
    for s in &subjects {
        let log = logs.join(format!("{}.log", s.label.replace(' ', "_")));
        if let Err(e) = run_once(s, &emulator, &log, args.settle).await {
            eprintln!("warm-up of {} failed: {e:#}", s.label);
        }
    }
    let load_before = load_average();
    for round in 1..=args.repeats {
        eprintln!("round {round}/{}", args.repeats);
        for s in &mut subjects {
            let log = logs.join(format!("{}.log", s.label.replace(' ', "_")));
            match run_once(s, &emulator, &log, args.settle).await {
                Ok(sample) => s.samples.push(sample),
                Err(e) => {
                    eprintln!("{} round {round}: {e:#}", s.label);
                    s.failures.push(format!("{e:#}"));
                }
            }
        }
    }
    let load_after = load_average();
    if args.json {
        println!(
            "{}",
            summary_json(
                &subjects,
                args.repeats,
                args.endpoint.starts_with("https://"),
                &load_before,
                &load_after
            )
        );
        eprintln!("function output: {}", logs.display());
        return Ok(());
    }
    println!(
        "Lambda cold start: {} repetitions per binary, interleaved; load average {load_before} before, {load_after} after.\n",
        args.repeats
    );
    print_table(&subjects);
    println!("\nFirst answers (last repetition, truncated):\n");
    for s in &subjects {
        if let Some(last) = s.samples.last() {
            let body = String::from_utf8_lossy(&last.body);
            let cut: String = body.chars().take(160).collect();
            println!("- {}: `{}`", s.label, cut.replace('`', "'"));
        }
    }
    eprintln!("function output: {}", logs.display());
    Ok(())
}
