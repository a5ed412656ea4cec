//! `pipeline-bench --overload SECS`: POSTs from N connections for SECS seconds without waiting
//! for completion, as a load tester would. Met when completions keep up with acceptances
//! (completed/s ≥ 0.9 × accepted/s over the run), or when the server shed the excess (429/503)
//! before accepting it and its queue stayed within the bound it states.

use super::{Json, OVERLOAD, OVERLOAD_COMPLETED_SHARE, OVERLOAD_TARGETS, part};
use crate::report::Outcome;
use crate::report::table::{Row, Verdict, grouped};

/// What a `pipeline-bench` without the overload run says to `--overload`.
const NO_FLAG: &str = "unknown flag --overload";

/// The overload rows; a `pipeline-bench` that does not know `--overload` yet is a skipped
/// row that says so, not a failure of the report.
pub(super) fn rows(outcome: &Outcome) -> Vec<Row> {
    if let Outcome::Failed(what) = outcome
        && what.contains(NO_FLAG)
    {
        return vec![Row::skipped(
            OVERLOAD,
            "all",
            OVERLOAD_TARGETS,
            "this pipeline-bench has no --overload (it predates the overload run)",
        )];
    }
    part(outcome, OVERLOAD, OVERLOAD_TARGETS, figures)
}

/// How the run stands: met by keeping up, met by shedding within the bound, or missed by how
/// far completions fell short (or the queue overran its bound, when it shed).
pub(super) fn verdict(
    share: f64,
    shed_per_s: f64,
    depth: Option<f64>,
    bound: Option<f64>,
) -> Verdict {
    if share >= OVERLOAD_COMPLETED_SHARE {
        return Verdict::Met;
    }
    match (depth, bound) {
        (Some(d), Some(b)) if shed_per_s > 0.0 && d <= b => Verdict::Met,
        (Some(d), Some(b)) if shed_per_s > 0.0 && b > 0.0 => Verdict::Missed(d / b),
        _ => Verdict::Missed(OVERLOAD_COMPLETED_SHARE / share),
    }
}

fn figures(j: &Json<'_>) -> Result<Vec<Row>, String> {
    let o = j
        .obj("overload")
        .ok_or_else(|| "lacks the object `overload` (was --overload passed?)".to_owned())?;
    let accepted = o.f64("accepted_per_s")?;
    let completed = o.f64("completed_per_s")?;
    let share = o
        .opt_f64("completed_over_accepted")
        .unwrap_or(completed / accepted);
    let shed = o.opt_f64("shed_per_s").unwrap_or(0.0);
    let (depth, bound) = (o.opt_f64("max_queue_depth"), o.opt_f64("backlog_bound"));
    let count = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), grouped);
    let ms = |key: &str| {
        o.opt_f64(key)
            .map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
    };
    let drain = o
        .opt_f64("drain_s")
        .map_or_else(|| "–".to_owned(), |s| format!("{s:.1} s"));
    let run = format!(
        "{} s of POSTs from {} connections, no waiting for completion",
        count(o.opt_f64("seconds")),
        count(o.opt_f64("connections"))
    );
    let queue_verdict = match (depth, bound) {
        (Some(d), Some(b)) => Verdict::at_most(d, b),
        _ => Verdict::Info,
    };
    Ok(vec![
        Row::new(
            OVERLOAD,
            format!("completed ÷ accepted ({run})"),
            format!(
                "{share:.2}: accepted {}/s, completed {}/s, shed {}/s; drain {drain}",
                grouped(accepted),
                grouped(completed),
                grouped(shed)
            ),
            OVERLOAD_TARGETS,
            verdict(share, shed, depth, bound),
        ),
        Row::new(
            OVERLOAD,
            "POST latency p50 / p99 under overload",
            format!("{} / {} ms", ms("post_p50_ms"), ms("post_p99_ms")),
            "none",
            Verdict::Info,
        ),
        Row::new(
            OVERLOAD,
            "queue depth: the most seen / its bound",
            format!(
                "{} / {}",
                count(depth),
                bound.map_or_else(|| "unbounded".to_owned(), grouped)
            ),
            "bounded and stated",
            queue_verdict,
        ),
    ])
}
