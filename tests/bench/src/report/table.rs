//! A row of the report, its verdict against its target, and the markdown table.

use std::fmt::Write as _;

/// How a row stands against its target.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Met,
    /// Missed by this factor (≥ 1: how far off the target the value is).
    Missed(f64),
    /// A baseline, measured for the ratios next to it.
    Baseline,
    /// A figure shown for context; no target applies to it.
    Info,
    Skipped,
    Failed,
}

impl Verdict {
    /// `value ≥ target` (a rate).
    pub fn at_least(value: f64, target: f64) -> Self {
        if value >= target {
            Self::Met
        } else {
            Self::Missed(target / value)
        }
    }

    /// `value < target` (a latency bound the issue states as strict).
    pub fn below(value: f64, target: f64) -> Self {
        if value < target {
            Self::Met
        } else {
            Self::Missed(value / target)
        }
    }

    /// `value ≤ target` (a time, a cost, a ratio of them).
    pub fn at_most(value: f64, target: f64) -> Self {
        if value <= target {
            Self::Met
        } else {
            Self::Missed(value / target)
        }
    }

    fn text(&self) -> String {
        match self {
            Self::Met => "met".into(),
            Self::Missed(by) if by.is_finite() => format!("**missed** (by {by:.2}×)"),
            Self::Missed(_) => "**missed**".into(),
            Self::Baseline | Self::Info => "–".into(),
            Self::Skipped => "skipped".into(),
            Self::Failed => "**failed**".into(),
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Which benchmark it comes from (`local pipeline`, `cold start`, …).
    pub part: String,
    pub measure: String,
    pub value: String,
    pub target: String,
    pub verdict: Verdict,
    /// The load average (1, 5, 15 min) before → after the run the row comes from; empty for a
    /// run that did not happen.
    pub load: String,
}

impl Row {
    pub fn new(
        part: &str,
        measure: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        verdict: Verdict,
    ) -> Self {
        Self {
            part: part.into(),
            measure: measure.into(),
            value: value.into(),
            target: target.into(),
            verdict,
            load: String::new(),
        }
    }

    /// A row for a part that was not run.
    pub fn skipped(part: &str, measure: &str, target: &str, why: &str) -> Self {
        Self::new(
            part,
            measure,
            format!("skipped: {why}"),
            target,
            Verdict::Skipped,
        )
    }

    /// A row for a part that failed.
    pub fn failed(part: &str, measure: &str, target: &str, what: &str) -> Self {
        Self::new(
            part,
            measure,
            format!("failed: {what}"),
            target,
            Verdict::Failed,
        )
    }
}

/// The rows as one markdown table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| part | measure | value | target | result | load avg before → after |\n\
         |---|---|---:|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r.part),
            cell(&r.measure),
            cell(&r.value),
            cell(&r.target),
            r.verdict.text(),
            if r.load.is_empty() { "–" } else { &r.load }
        );
    }
    out
}

/// Whether any row reports a failure (the runner then exits non-zero).
pub fn any_failed(rows: &[Row]) -> bool {
    rows.iter().any(|r| r.verdict == Verdict::Failed)
}

/// Text fit for one markdown cell: one line, no column breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A count or rate rounded to a whole number, with thousands separators: `1,225`.
pub fn grouped(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    #[allow(clippy::cast_possible_truncation)] // rounded rates and counts, far below 2^63
    let n = value.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}
