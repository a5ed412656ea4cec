//! `lambda-cold-start`'s rows: the two baselines, then each function against hello-sdk.

use serde_json::Value;

use super::{COLD_START, INIT_RATIO, Json};
use crate::functions::FUNCTIONS;
use crate::report::table::{Row, Verdict, grouped};

pub(super) fn rows(j: &Json<'_>) -> Result<Vec<Row>, String> {
    // Over TLS (an emulator served over HTTPS), each first response includes the function's
    // first TLS handshake, as on AWS; over plain HTTP it does not.
    let runs = format!(
        "{} runs{}",
        grouped(j.f64("repeats")?),
        if j.0.get("over_tls").and_then(Value::as_bool) == Some(true) {
            ", over TLS"
        } else {
            ""
        }
    );
    let mut rows = Vec::new();
    for b in j.list("baselines")? {
        let name = b.str("name")?;
        rows.push(Row::new(
            COLD_START,
            format!("{name} (baseline, {runs})"),
            figures(&b)?,
            "baseline",
            if failed(&b)? {
                Verdict::Failed
            } else {
                Verdict::Baseline
            },
        ));
    }
    let target = format!("init ≤ {INIT_RATIO:.1} × hello-sdk");
    let mut worst: Option<(f64, String)> = None;
    let mut all_met = true;
    let functions = j.list("functions")?;
    for f in &functions {
        let name = f.str("name")?;
        let ratio = f.opt_f64("ratio_to_sdk");
        if let Some(r) = ratio
            && worst.as_ref().is_none_or(|(w, _)| r > *w)
        {
            worst = Some((r, name.to_owned()));
        }
        let verdict = match ratio {
            Some(r) if !failed(f)? => Verdict::at_most(r, INIT_RATIO),
            // No ratio: no run of it (or of hello-sdk) succeeded.
            _ => Verdict::Failed,
        };
        all_met &= verdict == Verdict::Met;
        rows.push(Row::new(
            COLD_START,
            format!("{name} ({runs})"),
            figures(f)?,
            target.clone(),
            verdict,
        ));
    }
    if let Some((ratio, name)) = worst {
        // "Every function" means every one the deploy script packages: a run limited with
        // `--only` can miss the target, but cannot meet it.
        let deployed = FUNCTIONS.len();
        let (measure, verdict) = match (functions.len() < deployed, all_met) {
            (_, false) => (
                format!("all {} functions: the highest init ratio", functions.len()),
                Verdict::at_most(ratio, INIT_RATIO),
            ),
            (true, true) => (
                format!(
                    "all {} functions: the highest init ratio (of the {deployed} deployed; \
                     run without --only)",
                    functions.len()
                ),
                Verdict::Info,
            ),
            (false, true) => (
                format!("all {} functions: the highest init ratio", functions.len()),
                Verdict::Met,
            ),
        };
        rows.push(Row::new(
            COLD_START,
            measure,
            format!("{ratio:.2} × hello-sdk ({name})"),
            target,
            verdict,
        ));
    }
    Ok(rows)
}

/// Whether any run of this binary failed, or none ran.
fn failed(b: &Json<'_>) -> Result<bool, String> {
    Ok(b.f64("failed_runs")? > 0.0 || b.f64("runs")? == 0.0)
}

/// `init 9.16 ms (1.00 × hello-sdk); first response 9.42 ms; zip 5.7 MiB`, plus failures and
/// error answers when there were any.
fn figures(b: &Json<'_>) -> Result<String, String> {
    let ms = |key: &str| {
        b.opt_f64(key)
            .map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
    };
    let init = match b.opt_f64("ratio_to_sdk") {
        Some(r) => format!("init {} ms ({r:.2} × hello-sdk)", ms("init_median_ms")),
        None => format!("init {} ms", ms("init_median_ms")),
    };
    let zip_mib = b.f64("zip_bytes")? / (1024.0 * 1024.0);
    let mut parts = vec![
        init,
        format!("first response {} ms", ms("first_response_median_ms")),
        format!("zip {zip_mib:.1} MiB"),
    ];
    let failed_runs = b.f64("failed_runs")?;
    if failed_runs > 0.0 {
        parts.push(format!("{} failed runs", grouped(failed_runs)));
    }
    if b.opt_f64("error_answers").is_some_and(|n| n > 0.0) {
        let answers = b.0.get("answers").and_then(Value::as_str).unwrap_or("");
        parts.push(format!("answers: {answers}"));
    }
    Ok(parts.join("; "))
}
