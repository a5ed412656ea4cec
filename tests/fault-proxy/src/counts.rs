//! What the proxy did, for a test's report: requests seen, and faults injected per kind and per
//! call (`service.Action`), so a test can tell, say, how many SNS publishes took effect while
//! their client saw a dropped connection.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use crate::config::FaultKind;

/// The live counters, shared by the proxy's connections.
#[derive(Debug, Default)]
pub struct Counters {
    inner: Mutex<FaultCounts>,
}

impl Counters {
    /// One request seen (`armed`: faults were being injected), and its fault if any.
    pub(crate) fn record(&self, label: &str, fault: Option<FaultKind>) {
        let mut c = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        c.requests += 1;
        if let Some(kind) = fault {
            *c.by_kind.entry(kind).or_default() += 1;
            *c.by_call
                .entry(label.to_owned())
                .or_default()
                .entry(kind)
                .or_default() += 1;
        }
    }

    /// A copy of the counts so far.
    pub fn snapshot(&self) -> FaultCounts {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Every request the proxy received (faulted or not).
    pub requests: u64,
    pub by_kind: BTreeMap<FaultKind, u64>,
    /// `service.Action` → kind → count.
    pub by_call: BTreeMap<String, BTreeMap<FaultKind, u64>>,
}

impl FaultCounts {
    /// Faults of `kind`.
    pub fn of(&self, kind: FaultKind) -> u64 {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// Faults of `kind` on `label` (`service.Action`, e.g. `sns.Publish`).
    pub fn of_call(&self, label: &str, kind: FaultKind) -> u64 {
        self.by_call
            .get(label)
            .and_then(|k| k.get(&kind))
            .copied()
            .unwrap_or(0)
    }

    /// Every fault injected.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

impl fmt::Display for FaultCounts {
    /// `N requests, M faults: throttle a, 5xx b, ...` then one line per faulted call.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} requests, {} faults:", self.requests, self.total())?;
        for kind in FaultKind::ALL {
            write!(f, " {kind} {}", self.of(kind))?;
        }
        for (call, kinds) in &self.by_call {
            write!(f, "\n  {call}:")?;
            for (kind, n) in kinds {
                write!(f, " {kind} {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_kind_and_by_call() {
        let c = Counters::default();
        c.record("sns.Publish", Some(FaultKind::DropAfter));
        c.record("sns.Publish", None);
        c.record("dynamodb.PutItem", Some(FaultKind::Throttle));
        let s = c.snapshot();
        assert_eq!(s.requests, 3);
        assert_eq!(s.total(), 2);
        assert_eq!(s.of_call("sns.Publish", FaultKind::DropAfter), 1);
        assert_eq!(s.of(FaultKind::Throttle), 1);
        assert!(s.to_string().contains("drop-after 1"));
    }
}
