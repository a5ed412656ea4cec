//! Signed-in customers over HTTP, the same scenarios on both hosts, against the real `orders`
//! binary: the embedded default (`<scenario>::embedded`) and the AWS backend on the emulator
//! (`serve --backend aws --provision`, `<scenario>::on_the_emulator`). Each scenario is one
//! function of a running [`host::Host`], which mints tokens with the server's own issuer and
//! keeps every body it was answered; each ends by checking that none of them shows a payment
//! token or an unmasked email.
//!
//! The emulator tests need `AWS_ENDPOINT_URL` (moto); without it they say they were skipped,
//! except under `CI=true`, where a missing emulator is a failure.
//!
//! - `tokens`: every kind of bad token is a 401, and nothing is appended for it.
//! - `owners`: a foreign `customerId` is 403, another customer's order 404 like an unknown
//!   one, an operator sees it; idempotency keys are scoped by customer.
//! - `paging` (tests `listing::*`): `GET /orders` across 50 orders, its parameters, `?customerId=`.
//! - `forget`: `DELETE /customers/{id}`.
//! - `limits`: the per-customer rate limit's 429 and `Retry-After`.

mod forget;
mod host;
mod limits;
mod owners;
mod paging;
mod tokens;

/// A module `$name` with two tests running `$scenario` on a server started with `$args`:
/// `embedded` and `on_the_emulator`.
macro_rules! on_both_hosts {
    ($name:ident, $scenario:path, [$($args:expr),*]) => {
        mod $name {
            use crate::host::Host;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let host = Host::embedded(&[$($args),*]).await;
                $scenario(&host).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_the_emulator() {
                let test = concat!(stringify!($name), "::on_the_emulator");
                let Some(host) = Host::aws(test, &[$($args),*]).await else {
                    return;
                };
                $scenario(&host).await;
            }
        }
    };
}

on_both_hosts!(
    bad_tokens,
    crate::tokens::every_bad_token_is_401_and_appends_nothing,
    []
);
on_both_hosts!(
    ownership,
    crate::owners::orders_belong_to_their_customer,
    []
);
on_both_hosts!(
    idempotency,
    crate::owners::idempotency_keys_are_scoped_by_customer,
    []
);
on_both_hosts!(
    listing,
    crate::paging::listing_pages_a_customers_orders_newest_first,
    ["--rate-limit", "off"]
);
on_both_hosts!(
    forgetting,
    crate::forget::an_operator_forgets_a_customer,
    []
);
on_both_hosts!(
    rate_limit,
    crate::limits::a_customer_past_the_rate_waits_while_others_are_served,
    ["--rate-limit", crate::limits::RATE]
);
