//! The running tally of a replay and the report it prints.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::audit::Ledger;
use crate::compare::Difference;
use crate::fold::{Failure, FoldedStream, ReplayOptions};
use crate::judge::Verdict;
use crate::view::View;

/// How many differences and failures a summary keeps to show (all are counted).
pub const KEEP: usize = 20;

/// What `--rebuild` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildStats {
    /// Rows written (new, repaired, or brought up to the log's head).
    pub written: u64,
    /// Rows deleted because the log does not justify them.
    pub deleted: u64,
    /// Repairs skipped because, by the time of the write, the live row had moved past the
    /// rebuilt version (or the log had come to justify it).
    pub kept: u64,
    /// Differences that are still there after the rebuild (skipped repairs of differing rows).
    pub unresolved: u64,
}

/// How a replay ended, and the process exit code for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The live read models equal the log's (after a rebuild: now equal).
    Match,
    /// Some live rows differ from the log.
    Differ,
    /// The log itself fails: a broken hash chain or version sequence, or an unreadable event.
    Broken,
}

impl Outcome {
    /// 0 match, 1 the read models differ, 3 the log fails verification. (2 is the usage error
    /// code of the argument parser; 4 is kept for "could not run".)
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Match => 0,
            Self::Differ => 1,
            Self::Broken => 3,
        }
    }
}

/// The result of a replay.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub options: ReplayOptions,
    /// Events read.
    pub events: u64,
    pub streams: u64,
    /// Events the live projections had not applied yet (the live rows are compared with the log
    /// up to each projection's checkpoint).
    pub pending: u64,
    /// Rows rebuilt, per model.
    pub orders: u64,
    pub products: u64,
    /// Rebuilt orders by status.
    pub statuses: BTreeMap<&'static str, u64>,
    /// Live rows compared (rows on either side).
    pub rows_compared: u64,
    pub differences: u64,
    pub first_differences: Vec<Difference>,
    pub failures: u64,
    pub first_failures: Vec<Failure>,
    /// Failures of the log itself (a broken chain, an event that does not decode or read),
    /// as opposed to the audit's.
    pub broken: u64,
    /// The audit's violations (with `verify`; counted in `failures` too).
    pub violations: u64,
    /// The audit's per-product books (with `verify`).
    pub ledger: Ledger,
    /// Whether the audit's cross-stream check ran ([`Summary::finish`]; left out on a log that
    /// fails verification).
    pub stock_audited: bool,
    pub rebuild: RebuildStats,
    pub elapsed: Duration,
}

impl Summary {
    pub fn new(options: ReplayOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Counts a finished stream and the verdict on its row.
    pub fn record(&mut self, folded: &FoldedStream, verdict: &Verdict) {
        self.events += folded.events;
        self.streams += 1;
        self.pending += folded.pending;
        match &folded.rebuilt {
            Some(View::Order(v)) => {
                self.orders += 1;
                *self.statuses.entry(v.status.as_str()).or_default() += 1;
            }
            Some(View::Inventory(_)) => self.products += 1,
            None => {}
        }
        if let Some(f) = &folded.failure {
            self.record_failure(f.clone());
        }
        if let Some(audit) = &folded.audit {
            for v in audit.violations() {
                self.record_failure(Failure::Audit(v));
            }
            self.ledger.add(audit);
        }
        if self.options.as_of.is_none() && folded.readable && folded.target.is_some() {
            self.rows_compared += 1;
        }
        self.record_verdict(verdict);
    }

    /// Counts a verdict (a stream's, or an orphan live row's).
    pub fn record_verdict(&mut self, verdict: &Verdict) {
        if let Some(d) = &verdict.difference {
            self.differences += 1;
            if self.first_differences.len() < KEEP {
                self.first_differences.push(d.clone());
            }
        }
    }

    /// Counts a live row that no stream backs.
    pub fn record_orphan(&mut self, verdict: &Verdict) {
        self.rows_compared += 1;
        self.record_verdict(verdict);
    }

    pub fn record_failure(&mut self, failure: Failure) {
        self.failures += 1;
        if matches!(failure, Failure::Audit(_)) {
            self.violations += 1;
        } else {
            self.broken += 1;
        }
        if self.first_failures.len() < KEEP {
            self.first_failures.push(failure);
        }
    }

    /// Ends a replay (every driver calls it once, after the last stream): with `verify`, the
    /// audit's cross-stream check of every product's stock, unless the log failed verification
    /// (the books of a broken log would only restate its failure).
    pub fn finish(&mut self) {
        if !self.options.verify || self.stock_audited || self.broken > 0 {
            return;
        }
        self.stock_audited = true;
        for v in self.ledger.violations() {
            self.record_failure(Failure::Audit(v));
        }
    }

    /// Events per second over the whole run.
    pub fn events_per_second(&self) -> f64 {
        rate(self.events, self.elapsed)
    }

    pub fn outcome(&self) -> Outcome {
        let unresolved = if self.options.rebuild {
            self.rebuild.unresolved
        } else {
            self.differences
        };
        if self.failures > 0 {
            Outcome::Broken
        } else if unresolved > 0 {
            Outcome::Differ
        } else {
            Outcome::Match
        }
    }
}

/// `count` per second of `elapsed` (0 for an instant run).
#[allow(clippy::cast_precision_loss)]
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let per_second = self.events_per_second().round() as u64;
        writeln!(
            f,
            "replayed {} in {} ({}, {}) in {:.2} s: {} events/s",
            plural(self.events, "event", "events"),
            plural(self.streams, "stream", "streams"),
            plural(self.orders, "order", "orders"),
            plural(self.products, "product", "products"),
            self.elapsed.as_secs_f64(),
            grouped(per_second),
        )?;
        if let Some(t) = self.options.as_of {
            let by_status: Vec<String> = self
                .statuses
                .iter()
                .map(|(s, n)| format!("{s} {}", grouped(*n)))
                .collect();
            writeln!(
                f,
                "as of {t}: {} ({})",
                plural(self.orders, "order", "orders"),
                if by_status.is_empty() {
                    "none".to_owned()
                } else {
                    by_status.join(", ")
                }
            )?;
        }
        if self.options.verify {
            if self.broken == 0 {
                writeln!(
                    f,
                    "chains: every stream verified, no event changed, removed or inserted"
                )?;
            }
            self.write_audit(f)?;
        } else {
            writeln!(f, "chains: not verified (add --verify)")?;
        }
        if self.failures > 0 {
            writeln!(
                f,
                "log: {} FAILED:",
                plural(self.failures, "stream", "streams")
            )?;
            for x in &self.first_failures {
                writeln!(f, "  {x}")?;
            }
            more(f, self.failures, self.first_failures.len())?;
        }
        if self.options.as_of.is_some() {
            return Ok(());
        }
        if self.pending > 0 {
            writeln!(
                f,
                "pending: {} not yet applied by the live projections (rows compared as of their checkpoints)",
                plural(self.pending, "event", "events")
            )?;
        }
        if self.differences == 0 {
            writeln!(
                f,
                "read models: match ({} compared)",
                plural(self.rows_compared, "row", "rows")
            )?;
        } else {
            writeln!(
                f,
                "read models: {} of {} DIFFER:",
                grouped(self.differences),
                plural(self.rows_compared, "row", "rows")
            )?;
            for d in &self.first_differences {
                writeln!(f, "  {}", Clip(d))?;
            }
            more(f, self.differences, self.first_differences.len())?;
        }
        if self.options.rebuild {
            let r = self.rebuild;
            writeln!(
                f,
                "rebuild: wrote {}, deleted {}, kept {} (live row newer); {} unresolved",
                plural(r.written, "row", "rows"),
                grouped(r.deleted),
                grouped(r.kept),
                grouped(r.unresolved)
            )?;
        }
        Ok(())
    }
}

impl Summary {
    /// The audit's line of the report (its violations are listed with the failures).
    fn write_audit(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (orders, products) = self.ledger.counts();
        if self.broken > 0 {
            writeln!(
                f,
                "audit: stock not checked (the log fails verification: the failures below)"
            )
        } else if self.violations > 0 {
            writeln!(
                f,
                "audit: {} found (below)",
                plural(self.violations, "violation", "violations")
            )
        } else {
            writeln!(
                f,
                "audit: money and stock add up: {} refunded within their capture and lines, \
                 {} at seeded − taken by completed orders + restocked",
                plural(orders, "order", "orders"),
                plural(products, "product", "products"),
            )
        }
    }
}

fn more(f: &mut fmt::Formatter<'_>, total: u64, shown: usize) -> fmt::Result {
    let shown = shown as u64;
    if total > shown {
        writeln!(f, "  ... and {} more", grouped(total - shown))?;
    }
    Ok(())
}

/// Displays a difference cut to a readable line length.
struct Clip<'a>(&'a Difference);

impl fmt::Display for Clip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 400;
        let text = self.0.to_string();
        if text.chars().count() <= MAX {
            f.write_str(&text)
        } else {
            let cut: String = text.chars().take(MAX).collect();
            write!(f, "{cut}…")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
