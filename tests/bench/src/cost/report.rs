//! The cost model as markdown: the priced lines, the totals for both workflow types, the top
//! contributors, the per-function Lambda use, and what was counted.

use std::fmt::Write as _;

use super::count::Counts;
use super::model::{Assumptions, Line, Observed, Workflow, functions, total};
use super::prices;

/// The target: the deployed design (Express) at most a fifth of the Standard flow, both
/// without the email deliveries (issue 16: every design pays them alike, so they are left out of
/// both sides of the ratio).
pub const TARGET_FRACTION: f64 = 0.2;

/// What the deployed stack also costs, in neither total: none of it is per order, and every
/// design pays it alike.
pub const NOT_PRICED: &str = "Not in either total (none of it is per order, and every design \
     pays it alike): the Cognito user pool, billed per monthly active user (each customer who \
     signs in that month, however many orders they place); the fixed monthly charges of the \
     CloudWatch alarms ($0.10 a month each), the dashboard ($3 a month) and the two KMS keys \
     ($1 a month each); storage, billed per GB-month for as long as it is kept (the tables, \
     their point-in-time recovery, the 30-day log groups, the code bucket), which grows with \
     the history kept rather than with each order's requests; and, with EnableWaf=true, the \
     WAF web ACL (about $7 a month and $0.60 per million requests).";

/// The two totals per million orders, their ratio, and the part both share for email.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub express: f64,
    pub standard: f64,
    /// Express ÷ Standard (0 when Standard is 0).
    pub ratio: f64,
    /// SNS email deliveries, in both totals alike.
    pub email: f64,
}

impl Totals {
    pub fn of(lines: &[Line]) -> Self {
        let express = total(lines, Workflow::Express);
        let standard = total(lines, Workflow::Standard);
        let email = lines
            .iter()
            .filter(|l| l.unit == "email")
            .map(Line::usd_per_million_orders)
            .sum();
        Self {
            express,
            standard,
            ratio: if standard > 0.0 {
                express / standard
            } else {
                0.0
            },
            email,
        }
    }

    /// The most the part of the Express total that is not email (nor Express-only) may
    /// cost for the target. With `s` shared lines (email included) and `x` the Express-only
    /// ones, `x + s <= f (t + s)` where `t` is the Standard-only lines, so
    /// `s <= (f t - x) / (1 - f)`; minus the email.
    pub fn shared_non_email_budget(lines: &[Line]) -> f64 {
        let only = |w| -> f64 {
            lines
                .iter()
                .filter(|l| l.only == Some(w))
                .map(Line::usd_per_million_orders)
                .sum()
        };
        let (x, t) = (only(Workflow::Express), only(Workflow::Standard));
        let email = Self::of(lines).email;
        (TARGET_FRACTION * t - x) / (1.0 - TARGET_FRACTION) - email
    }

    /// Express without the email deliveries.
    pub fn express_without_email(&self) -> f64 {
        self.express - self.email
    }

    /// Standard without the email deliveries.
    pub fn standard_without_email(&self) -> f64 {
        self.standard - self.email
    }

    /// The target's ratio: Express ÷ Standard, both without the email (0 when Standard is 0).
    pub fn ratio_without_email(&self) -> f64 {
        let standard = self.standard_without_email();
        if standard > 0.0 {
            self.express_without_email() / standard
        } else {
            0.0
        }
    }

    /// The most the Express total without email may cost for the target, Standard as it is.
    pub fn express_without_email_max(&self) -> f64 {
        TARGET_FRACTION * self.standard_without_email()
    }

    /// Whether the target (without email) is met.
    pub fn met(&self) -> bool {
        self.ratio_without_email() <= TARGET_FRACTION
    }
}

pub(super) fn usd(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        format!("{x:.4}")
    } else {
        format!("{x:.2}")
    }
}

pub(super) fn qty(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        format!("{x:.2e}")
    } else {
        format!("{x:.3}")
    }
}

/// The whole report.
pub fn render(
    counts: &Counts,
    observed: &Observed,
    assumptions: &Assumptions,
    lines: &[Line],
) -> String {
    let (c, o, a) = (counts, observed, assumptions);
    let mut s = String::new();
    let Totals {
        express,
        standard,
        ratio,
        email,
    } = Totals::of(lines);
    let _ = writeln!(
        s,
        "Cost per million orders, {} ({} orders counted in one local run of {:.1} s).\n",
        prices::PRICES_AS_OF,
        c.accepted,
        c.seconds
    );
    let _ = writeln!(
        s,
        "| service | what | per order | unit | basis | how | Express $/M orders | Standard $/M orders |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---|---|---:|---:|");
    for l in lines {
        let cost = usd(l.usd_per_million_orders());
        let (in_express, in_standard) = match l.only {
            None => (cost.clone(), cost),
            Some(Workflow::Express) => (cost, "–".to_owned()),
            Some(Workflow::Standard) => ("–".to_owned(), cost),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {in_express} | {in_standard} |",
            l.service,
            l.item,
            qty(l.quantity),
            l.unit,
            l.basis.as_str(),
            l.how
        );
    }
    let _ = writeln!(
        s,
        "| **total** | | | | | | **{}** | **{}** |",
        usd(express),
        usd(standard)
    );
    let totals = Totals::of(lines);
    let _ = writeln!(
        s,
        "\nWithout the email deliveries (${} in both totals: every design pays them alike): \
         Express ${}, Standard ${}; ratio {:.3} (1/{:.1}); target ≤ {TARGET_FRACTION} → {} \
         (Express without email ≤ ${} needed).",
        usd(email),
        usd(totals.express_without_email()),
        usd(totals.standard_without_email()),
        totals.ratio_without_email(),
        1.0 / totals.ratio_without_email().max(f64::EPSILON),
        if totals.met() { "met" } else { "missed" },
        usd(totals.express_without_email_max()),
    );
    let _ = writeln!(
        s,
        "With the email: Express ÷ Standard {ratio:.3} (1/{:.1}).",
        1.0 / ratio.max(f64::EPSILON),
    );
    let _ = writeln!(s, "\n{NOT_PRICED}");
    let _ = writeln!(s, "\nTop contributors (Express):\n");
    let mut ranked: Vec<&Line> = lines
        .iter()
        .filter(|l| l.only.is_none_or(|w| w == Workflow::Express))
        .collect();
    ranked.sort_by(|x, y| {
        y.usd_per_million_orders()
            .total_cmp(&x.usd_per_million_orders())
    });
    for l in ranked.iter().take(5) {
        let _ = writeln!(
            s,
            "1. {} {}: ${} ({:.0} %)",
            l.service,
            l.item,
            usd(l.usd_per_million_orders()),
            100.0 * l.usd_per_million_orders() / express.max(f64::EPSILON)
        );
    }
    render_functions(&mut s, o, a);
    render_counts(&mut s, c, o);
    let _ = writeln!(s, "\nPrices used ({}):\n", prices::PRICES_AS_OF);
    for (what, price, unit, url) in prices::SOURCES {
        let _ = writeln!(s, "- {what}: ${price:.10} per {unit} — <{url}>");
    }
    s
}

fn render_functions(s: &mut String, o: &Observed, a: &Assumptions) {
    let _ = writeln!(
        s,
        "\nLambda per order (memory from template.yaml; duration assumed: {} ms per AWS call + {} ms CPU):\n",
        a.call_ms, a.cpu_ms
    );
    let _ = writeln!(
        s,
        "| function | memory (MB) | invocations per order | basis | AWS calls per invocation | billed ms | GB-s per order | how |"
    );
    let _ = writeln!(s, "|---|---:|---:|---|---:|---:|---:|---|");
    for f in functions(o, a) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {} | {:.2} | {} | {:.5} | {} |",
            f.name,
            f.memory_mb,
            f.invocations,
            f.basis.as_str(),
            f.calls_per_invocation,
            f.billed_ms(a),
            f.gb_seconds(a),
            f.how
        );
    }
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn render_counts(s: &mut String, c: &Counts, o: &Observed) {
    let n = c.accepted.max(1) as f64;
    let _ = writeln!(
        s,
        "\nCounted in the local run ({} orders accepted):\n",
        c.accepted
    );
    let _ = writeln!(s, "- outcomes: {:?}", c.outcomes);
    let _ = writeln!(s, "- events by type: {:?}", c.events_by_type);
    let _ = writeln!(
        s,
        "- per order: {:.2} lines, {:.2} order events, {:.2} product events, {:.2} appends as PutItem, {:.2} as TransactWriteItems",
        o.lines, o.order_events, o.product_events, o.event_puts, o.event_transactions
    );
    let _ = writeln!(
        s,
        "- executions: {} ({:.2} per order), {} states executed ({:.2} per order), {:.1} ms per execution locally",
        c.executions,
        o.executions,
        c.transitions,
        o.transitions,
        c.execution_ms as f64 / (c.executions.max(1) as f64)
    );
    let _ = writeln!(
        s,
        "- queue operations (local queue, triggers): {:?}",
        c.queue_ops
    );
    let _ = writeln!(s, "- outbox emails by topic: {:?}", c.emails_by_topic);
    let _ = writeln!(
        s,
        "- order stream read: {} RRU; order view put: {} WRU (from counted sizes)",
        c.order_stream_rru, c.order_view_wru
    );
    let _ = writeln!(
        s,
        "- logs at INFO as JSON: {} lines, {} bytes ({:.1} lines, {:.0} bytes per order)",
        c.log_lines,
        c.log_bytes,
        c.log_lines as f64 / n,
        c.log_bytes as f64 / n
    );
}
