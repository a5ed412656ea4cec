//! Admission control: the orders accepted and not yet ended (the backlog), and whether one more
//! may be accepted.
//!
//! # What is counted, and why that
//! An order is open from the moment `POST /orders` admits it until its first terminal event
//! (OrderCompleted, OrderFailed or OrderCancelled) is appended. That is the whole of the work
//! the server still owes: the OrdersQueue message, the workflow execution started from it and
//! every task of it. OrdersQueue's depth alone would not bound it: the consumer moves messages
//! into executions as fast as it can, so under overload the queue stays short while the
//! executions pile up in the runner.
//!
//! # How it is counted
//! One atomic per process ([`PROCESS`]), so reading it costs no query: `+1` when a request is
//! admitted ([`Backlog::try_admit`], a compare-and-swap against the bound, so concurrent
//! requests never take it past the bound), given back if that request did not record a new
//! order (refused, replayed, failed); `-1` where the first terminal event's append succeeds
//! ([`crate::metrics::appended`], the same place that times the order once). A restarted
//! server starts from the orders its status view holds open ([`open_in`]).
//!
//! Per process: right for `orders serve` (either backend), which places orders and runs their
//! workflows itself. A Lambda sees only its own invocations, so the API Lambda does not admit
//! through it; API Gateway's stage throttling bounds the rate there instead.
//!
//! # The verdict
//! [`verdict`]: a pure function of the backlog and the bound, so the rule is written once.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use order_domain::order::OrderStatus;
use order_domain::ports::PortError;

use crate::ReadModels;

/// The default bound: about a second of the local server's capacity at its best (some 4,000 to
/// 5,000 orders/s on two cores) and four under a heavy overload on a busy machine (some 1,300
/// orders/s, the shed requests' own work included), so an admitted order still ends within
/// seconds and a burst of that size is absorbed without a single 503. Over a 60 s overload
/// completions then keep up with acceptances: the run's completed/s ÷ accepted/s is about
/// 60 ÷ (60 + bound ÷ capacity), 0.9 or more down to some 830 orders/s (measured 0.95-0.98).
pub const DEFAULT_BOUND: u64 = 5_000;

/// Seconds a shed client is told to wait: the default backlog drains in about that.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Whether one more order may be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admit,
    /// The backlog is at its bound: answer 503 with Retry-After, append nothing.
    Shed,
}

/// The rule: with `backlog` orders open, admit one more only below `bound` (`None`: no bound).
pub fn verdict(backlog: u64, bound: Option<NonZeroU64>) -> Verdict {
    match bound {
        Some(bound) if backlog >= bound.get() => Verdict::Shed,
        _ => Verdict::Admit,
    }
}

/// The count of open orders.
#[derive(Debug, Default)]
pub struct Backlog {
    open: AtomicU64,
}

/// This process's backlog: what `orders serve` admits against and `/metrics` shows.
pub static PROCESS: Backlog = Backlog::new();

impl Backlog {
    pub const fn new() -> Self {
        Self {
            open: AtomicU64::new(0),
        }
    }

    /// Orders admitted and not yet ended.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Acquire)
    }

    /// Admits one order if [`verdict`] says so, counting it open; `None` when it is shed.
    pub fn try_admit(&self, bound: Option<NonZeroU64>) -> Option<Admitted<'_>> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (verdict(open, bound) == Verdict::Admit).then_some(open + 1)
            })
            .ok()
            .map(|_| Admitted {
                backlog: self,
                kept: false,
            })
    }

    /// Counts `n` orders open that this process did not admit (a restart's leftovers).
    pub fn add(&self, n: u64) {
        self.open.fetch_add(n, Ordering::AcqRel);
    }

    /// One open order ended. Never below zero: an order admitted by a previous process and
    /// not counted at the restart must not make the count wrap.
    pub fn ended(&self) {
        let _ = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                open.checked_sub(1)
            });
    }
}

/// An admitted request's place in the backlog: given back when dropped, unless [`Self::keep`]
/// says it recorded a new order (which then ends by its terminal event).
#[derive(Debug)]
#[must_use = "dropping it gives the place back"]
pub struct Admitted<'a> {
    backlog: &'a Backlog,
    kept: bool,
}

impl Admitted<'_> {
    /// The request recorded a new order: it stays open until its first terminal event.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.backlog.ended();
        }
    }
}

/// The orders `reads`' status view holds open (PLACED, VALIDATED or PAID), which a restarted
/// server adds to [`PROCESS`]. A CANCELLING order is left out: it may be a completed order
/// being refunded, which has ended already.
pub async fn open_in<R: ReadModels>(reads: &R) -> Result<u64, PortError> {
    let counts = reads.count_by_status().await?;
    Ok([
        OrderStatus::Placed,
        OrderStatus::Validated,
        OrderStatus::Paid,
    ]
    .into_iter()
    .map(|s| counts.get(s))
    .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(n: u64) -> Option<NonZeroU64> {
        NonZeroU64::new(n)
    }

    #[test]
    fn the_verdict_admits_below_the_bound_and_sheds_at_it() {
        assert_eq!(verdict(0, bound(3)), Verdict::Admit);
        assert_eq!(verdict(2, bound(3)), Verdict::Admit);
        assert_eq!(verdict(3, bound(3)), Verdict::Shed);
        assert_eq!(verdict(4, bound(3)), Verdict::Shed);
        assert_eq!(verdict(u64::MAX, None), Verdict::Admit);
    }

    #[test]
    fn admitted_orders_hold_their_place_until_they_end_and_a_dropped_one_gives_it_back() {
        let backlog = Backlog::new();
        let a = backlog.try_admit(bound(2)).unwrap();
        let b = backlog.try_admit(bound(2)).unwrap();
        assert!(backlog.try_admit(bound(2)).is_none(), "at the bound");
        assert_eq!(backlog.open(), 2);
        drop(b); // refused or replayed: nothing new recorded
        assert_eq!(backlog.open(), 1);
        a.keep();
        backlog.try_admit(bound(2)).unwrap().keep();
        assert_eq!(backlog.open(), 2);
        backlog.ended();
        assert_eq!(backlog.open(), 1);
        assert!(backlog.try_admit(bound(2)).is_some());
    }

    #[test]
    fn the_count_never_wraps_below_zero() {
        let backlog = Backlog::new();
        backlog.ended();
        assert_eq!(backlog.open(), 0);
        backlog.add(3);
        assert_eq!(backlog.open(), 3);
    }

    #[test]
    fn concurrent_admissions_never_pass_the_bound() {
        let backlog = std::sync::Arc::new(Backlog::new());
        let admitted = std::sync::Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (backlog, admitted) = (backlog.clone(), admitted.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if let Some(a) = backlog.try_admit(bound(100)) {
                            a.keep();
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::Relaxed), 100);
        assert_eq!(backlog.open(), 100);
    }
}
