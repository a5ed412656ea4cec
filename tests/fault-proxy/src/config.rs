//! Which faults, how often, and how a request's fault is drawn.
//!
//! Each request draws one number in [0, 1) from a seeded RNG and falls into at most one fault's
//! slice (the fractions laid end to end), so the fractions are the expected share of requests
//! each fault gets, and the same seed over the same sequence of requests injects the same faults.

use std::fmt;
use std::time::Duration;

/// A kind of fault, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Answered as the service answers when it throttles (400, or 429 where the service does);
    /// the request never reaches the emulator.
    Throttle,
    /// Answered 500 `InternalFailure` or 503 `ServiceUnavailable`; not forwarded.
    ServerError,
    /// The connection closed with no answer; the request never reached the emulator.
    DropBefore,
    /// Forwarded and answered by the emulator, then the connection closed with no answer: the
    /// request took effect but the client sees a transport error (and its SDK retries it).
    DropAfter,
    /// Forwarded, and the answer held back for a while.
    Slow,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [Self; 5] = [
        Self::Throttle,
        Self::ServerError,
        Self::DropBefore,
        Self::DropAfter,
        Self::Slow,
    ];

    /// The kind's name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Throttle => "throttle",
            Self::ServerError => "5xx",
            Self::DropBefore => "drop-before",
            Self::DropAfter => "drop-after",
            Self::Slow => "slow",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A configuration the proxy refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("the {0} fraction must be within 0 and 1, not {1}")]
    Fraction(FaultKind, f64),
    #[error("the fractions add up to {0}, more than 1")]
    Sum(f64),
    #[error("the slow delay's range is empty: {min:?} > {max:?}")]
    Delay { min: Duration, max: Duration },
}

/// The faults to inject: the share of requests each kind gets, and the RNG's seed.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    pub throttle: f64,
    pub server_error: f64,
    pub drop_before: f64,
    pub drop_after: f64,
    pub slow: f64,
    /// A slow answer is held back for a uniform draw in `slow_min..=slow_max`.
    pub slow_min: Duration,
    pub slow_max: Duration,
    pub seed: u64,
    /// Only calls with this label (`service.Action`, e.g. `dynamodb.PutItem`) get faults; the
    /// rest pass. `None`: every call may.
    pub only_call: Option<String>,
    /// At most this many faults, then none (`None`: no limit). With `only_call` and a fraction
    /// of 1, the first `n` such calls get the fault: a test aims one fault at one call.
    pub max_faults: Option<u64>,
}

impl Default for FaultConfig {
    /// No faults at all: a transparent proxy.
    fn default() -> Self {
        Self {
            throttle: 0.0,
            server_error: 0.0,
            drop_before: 0.0,
            drop_after: 0.0,
            slow: 0.0,
            slow_min: Duration::from_millis(200),
            slow_max: Duration::from_millis(1500),
            seed: 13,
            only_call: None,
            max_faults: None,
        }
    }
}

impl FaultConfig {
    /// The modest mix the fault tests run: 5% throttles, 2% 5xx, 1% drops before forwarding,
    /// 1% drops after, 2% slow answers.
    pub fn modest(seed: u64) -> Self {
        Self {
            throttle: 0.05,
            server_error: 0.02,
            drop_before: 0.01,
            drop_after: 0.01,
            slow: 0.02,
            seed,
            ..Self::default()
        }
    }

    /// Every fraction times `factor` (e.g. 3 for a harsher run of [`FaultConfig::modest`]).
    #[must_use]
    pub fn scaled(self, factor: f64) -> Self {
        Self {
            throttle: self.throttle * factor,
            server_error: self.server_error * factor,
            drop_before: self.drop_before * factor,
            drop_after: self.drop_after * factor,
            slow: self.slow * factor,
            ..self
        }
    }

    /// The fraction of `kind`.
    pub fn fraction(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::Throttle => self.throttle,
            FaultKind::ServerError => self.server_error,
            FaultKind::DropBefore => self.drop_before,
            FaultKind::DropAfter => self.drop_after,
            FaultKind::Slow => self.slow,
        }
    }

    /// Checks that each fraction is a share and that they fit in one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut sum = 0.0;
        for kind in FaultKind::ALL {
            let f = self.fraction(kind);
            if !(0.0..=1.0).contains(&f) {
                return Err(ConfigError::Fraction(kind, f));
            }
            sum += f;
        }
        if sum > 1.0 + 1e-9 {
            return Err(ConfigError::Sum(sum));
        }
        if self.slow_min > self.slow_max {
            return Err(ConfigError::Delay {
                min: self.slow_min,
                max: self.slow_max,
            });
        }
        Ok(())
    }

    /// The fault whose slice `draw` (in [0, 1)) falls into, if any.
    pub fn pick(&self, draw: f64) -> Option<FaultKind> {
        let mut upto = 0.0;
        for kind in FaultKind::ALL {
            upto += self.fraction(kind);
            if draw < upto {
                return Some(kind);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_gets_its_own_slice_and_the_rest_passes() {
        let c = FaultConfig::modest(1);
        assert_eq!(c.pick(0.0), Some(FaultKind::Throttle));
        assert_eq!(c.pick(0.049), Some(FaultKind::Throttle));
        assert_eq!(c.pick(0.05), Some(FaultKind::ServerError));
        assert_eq!(c.pick(0.075), Some(FaultKind::DropBefore));
        assert_eq!(c.pick(0.085), Some(FaultKind::DropAfter));
        assert_eq!(c.pick(0.095), Some(FaultKind::Slow));
        assert_eq!(c.pick(0.11), None);
        assert_eq!(FaultConfig::default().pick(0.0), None);
    }

    #[test]
    fn fractions_outside_a_share_or_past_one_in_sum_are_refused() {
        let bad = FaultConfig {
            throttle: 1.5,
            ..FaultConfig::default()
        };
        assert_eq!(
            bad.validate(),
            Err(ConfigError::Fraction(FaultKind::Throttle, 1.5))
        );
        let sum = FaultConfig {
            throttle: 0.6,
            slow: 0.6,
            ..FaultConfig::default()
        };
        assert!(matches!(sum.validate(), Err(ConfigError::Sum(_))));
        assert_eq!(FaultConfig::modest(3).validate(), Ok(()));
    }
}
