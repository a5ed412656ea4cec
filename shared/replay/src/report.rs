//! One order examined on its own (`--order`), whichever store it was read from: its timeline,
//! its state now or then, and its live row against the log.

use std::fmt;

use crate::compare::{Difference, LiveRow};
use crate::summary::Outcome;
use crate::timeline::Timeline;

/// One order examined on its own (`--order`).
#[derive(Debug, Clone)]
pub struct OrderReport {
    pub timeline: Timeline,
    /// Its live row (not read with `as_of`).
    pub live: Option<LiveRow>,
    /// How the live row differs from the log (up to the projection's checkpoint).
    pub difference: Option<Difference>,
    /// Events the live projection has not applied yet.
    pub pending: u64,
}

impl OrderReport {
    pub fn outcome(&self) -> Outcome {
        if self.timeline.failure.is_some() {
            Outcome::Broken
        } else if self.difference.is_some() {
            Outcome::Differ
        } else {
            Outcome::Match
        }
    }
}

impl fmt::Display for OrderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.timeline)?;
        if self.timeline.as_of.is_some() {
            return Ok(());
        }
        if self.pending > 0 {
            writeln!(
                f,
                "pending: {} events not yet applied by the live projection",
                self.pending
            )?;
        }
        match &self.difference {
            None => writeln!(f, "live row: matches the log"),
            Some(d) => writeln!(f, "live row DIFFERS: {d}"),
        }
    }
}
