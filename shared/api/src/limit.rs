//! Abuse and overload: a per-customer rate limit (429) and load shedding (503).
//!
//! - [`CustomerLimit`]: each signed-in customer may make `rate` requests per second, with a
//!   burst of the same size (GCRA, the `governor` crate, keyed by the token's subject). The
//!   excess gets 429 `RATE_LIMITED` with `Retry-After`. Checked once the caller is known, so an
//!   unauthenticated flood is refused by sign-in first and never fills the limiter's table.
//! - [`Shedding`]: at most `max_in_flight` requests are handled at once; one more gets an
//!   immediate 503 `OVERLOADED` with `Retry-After: 1` instead of waiting in a queue without
//!   bound, so latency stays bounded for the requests that are served. Health stays served.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use order_domain::CustomerId;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The per-customer request rate limit.
pub struct CustomerLimit {
    limiter: DefaultKeyedRateLimiter<CustomerId>,
    clock: DefaultClock,
}

impl std::fmt::Debug for CustomerLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerLimit").finish_non_exhaustive()
    }
}

/// Customers the limiter remembers before it forgets the idle ones.
const RETAIN_ABOVE: usize = 100_000;

impl CustomerLimit {
    /// `per_second` requests a second for each customer, in bursts of as many.
    pub fn per_second(per_second: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per_second)),
            clock: DefaultClock::default(),
        }
    }

    /// Admits one request of `customer`, or says how long to wait.
    pub fn check(&self, customer: &CustomerId) -> Result<(), ApiError> {
        if self.limiter.len() > RETAIN_ABOVE {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(customer).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many requests for this customer; retry after the Retry-After seconds",
            )
            .retry_after_ms(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
        })
    }
}

/// How many requests are handled at once before the excess is shed.
#[derive(Debug, Clone)]
pub struct Shedding {
    slots: Arc<Semaphore>,
}

impl Shedding {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
        }
    }

    /// Requests being handled now.
    pub fn in_flight(&self, max_in_flight: usize) -> usize {
        max_in_flight.saturating_sub(self.slots.available_permits())
    }
}

/// The shedding middleware: a request that finds no free slot is answered 503 at once.
pub async fn shed(
    axum::extract::State(shedding): axum::extract::State<Shedding>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let Ok(_slot) = shedding.slots.clone().try_acquire_owned() else {
        return overloaded().into_response();
    };
    next.run(request).await
}

fn overloaded() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "OVERLOADED",
        "the server is at capacity; retry after the Retry-After seconds",
    )
    .retry_after_ms(
        Duration::from_secs(1)
            .as_millis()
            .try_into()
            .unwrap_or(1000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_past_the_rate_waits_and_another_customer_does_not() {
        let limit = CustomerLimit::per_second(NonZeroU32::new(3).unwrap());
        let jane = CustomerId::parse("jane").unwrap();
        let joe = CustomerId::parse("joe").unwrap();
        for _ in 0..3 {
            limit.check(&jane).unwrap();
        }
        let refused = limit.check(&jane).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "RATE_LIMITED");
        assert_eq!(refused.retry_after_secs, Some(1));
        limit.check(&joe).unwrap();
    }

    #[test]
    fn shedding_counts_requests_in_flight() {
        let shedding = Shedding::new(2);
        let a = shedding.slots.clone().try_acquire_owned().unwrap();
        let _b = shedding.slots.clone().try_acquire_owned().unwrap();
        assert_eq!(shedding.in_flight(2), 2);
        assert!(shedding.slots.clone().try_acquire_owned().is_err());
        drop(a);
        assert_eq!(shedding.in_flight(2), 1);
    }
}
