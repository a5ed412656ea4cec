//! `cost-model`: the deployed (Express) design against the Standard one per million orders,
//! from counted requests. The target leaves out the email delivery itself, which every design
//! pays alike: (Express − email) ÷ (Standard − email) ≤ 0.2.

use super::{COST, COST_RATIO, Json};
use crate::report::table::{Row, Verdict, grouped};

/// The two totals without the email, from the first source the JSON has: `ratio_without_email`
/// with `express_without_email` / `standard_without_email`, the `…_without_email_per_million`
/// pair, or the totals less `email_per_million`.
fn without_email(j: &Json<'_>, express: f64, standard: f64) -> Result<(f64, f64, f64), String> {
    let pair = |e: &str, s: &str| Some((j.opt_f64(e)?, j.opt_f64(s)?));
    let given = pair("express_without_email", "standard_without_email").or_else(|| {
        pair(
            "express_without_email_per_million",
            "standard_without_email_per_million",
        )
    });
    let (e, s) = if let Some(p) = given {
        p
    } else {
        let email = j.f64("email_per_million").map_err(|e| {
            format!("{e} (nor `ratio_without_email`, nor the totals without the email)")
        })?;
        (express - email, standard - email)
    };
    Ok((e, s, j.opt_f64("ratio_without_email").unwrap_or(e / s)))
}

pub(super) fn rows(j: &Json<'_>) -> Result<Vec<Row>, String> {
    let express = j.f64("express_per_million")?;
    let standard = j.f64("standard_per_million")?;
    let (express_bare, standard_bare, ratio) = without_email(j, express, standard)?;
    let orders = grouped(j.f64("orders")?);
    let email = j
        .opt_f64("email_per_million")
        .map_or_else(String::new, |e| format!(" (email ${e:.2})"));
    Ok(vec![
        Row::new(
            COST,
            format!("Standard workflow, the same design and emails ({orders} orders counted)"),
            format!("${standard:.2} per million orders{email}"),
            "baseline",
            Verdict::Baseline,
        ),
        Row::new(
            COST,
            format!("deployed design, Express workflow ({orders} orders counted)"),
            format!("${express:.2} per million orders"),
            "none",
            Verdict::Info,
        ),
        Row::new(
            COST,
            "Express ÷ Standard with the email",
            format!("{:.2}", express / standard),
            "none: the email is the same in both",
            Verdict::Info,
        ),
        Row::new(
            COST,
            "Express ÷ Standard without the email",
            format!(
                "{ratio:.2} (1/{:.1}): ${express_bare:.2} ÷ ${standard_bare:.2}",
                1.0 / ratio
            ),
            "≤ 0.20 (a fifth)",
            Verdict::at_most(ratio, COST_RATIO),
        ),
    ])
}
