//! The customers' data keys on AWS (sealed personal data, `shared/aws` keys): KMS requests and
//! the key table's reads and writes, per order.
//!
//! template.yaml gives the key table and the KMS key to exactly four functions, which open a
//! customer's key: order-placement's POST (the current key: a new customer's is made and
//! stored, a returning customer's read), process-payment (the sealed payment token), and the
//! two handlers that email the customer (order-success-handler, order-update-handler). Each
//! function runs in its own containers, and a container keeps a key for `KEY_CACHE_TTL` (one
//! minute): an order's steps meet four different containers within seconds, and a customer's
//! next order is assumed to come more than a minute later. So every open is a consistent
//! GetItem (a new customer's POST reads before it makes one). A new customer's key is stored in
//! the same `TransactWriteItems` as their order's OrderPlaced (`shared/aws` intake): the key's
//! item costs 2 WRU there, and the OrderPlaced 2 instead of the 1 its PutItem would have.
//!
//! A customer's key is wrapped under the stack's wrapping key, which a container unwraps once
//! (a GetItem of its item and a KMS Decrypt) and keeps for its life: opening and making a
//! customer's key is local AES-GCM, no KMS request. So KMS is paid per container start, not
//! per order; the wrapping key itself was made once for the stack (one GenerateDataKey).

use super::lines::line;
use super::model::{Assumptions, Basis, Line, Observed};
use super::prices as p;

/// The functions that open customers' keys, each unwrapping the wrapping key once per container.
pub const KEY_FUNCTIONS: f64 = 4.0;

/// What storing a new key adds to its order's writes: the key's item (2 WRU in a transaction)
/// and the OrderPlaced's second unit (2 in the transaction, 1 as the PutItem it replaces).
pub const KEY_WITH_EVENT_WRU: f64 = 3.0;

/// A customer's key opened per order: the POST, the payment, the confirmation (completed
/// orders) and the order-received email (every order placed).
pub fn opens(o: &Observed) -> f64 {
    o.posts + o.validated + o.completed + 1.0
}

/// Containers started per order among the four key functions: each function starts
/// `key_container_starts_per_hour` of them at the month's steady hourly rate of orders.
pub fn container_starts(a: &Assumptions) -> f64 {
    let orders_per_hour = a.orders_per_month / (30.0 * 24.0);
    KEY_FUNCTIONS * a.key_container_starts_per_hour / orders_per_hour.max(f64::EPSILON)
}

/// The key lines of one order.
pub fn lines(o: &Observed, a: &Assumptions) -> Vec<Line> {
    let opens = opens(o);
    let starts = container_starts(a);
    vec![
        line(
            "KMS",
            "Decrypt (the stack's wrapping key, once per container)",
            starts,
            "request",
            Basis::Assumed,
            &format!(
                "{} key functions, each starting {} containers an hour, over the month's orders an \
                 hour; a customer's key is wrapped and unwrapped in the function (no KMS request \
                 per open)",
                KEY_FUNCTIONS, a.key_container_starts_per_hour
            ),
            p::KMS_REQUEST,
        ),
        line(
            "DynamoDB",
            "customer key reads (consistent GetItem)",
            opens + starts,
            "RRU",
            Basis::Derived,
            &format!(
                "{opens:.2} opens per order (POST, payment, confirmation, order-received email), \
                 each in its own function's containers, whose one-minute cache an order's next \
                 step never meets; and the wrapping key's item per container start; an item \
                 under 4 KB"
            ),
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB",
            "customer key writes (in the first order's TransactWriteItems)",
            o.new_keys * KEY_WITH_EVENT_WRU,
            "WRU",
            Basis::Counted,
            "per key created (customer keys in the run's table: one per customer who ordered): \
             the key's item and the OrderPlaced in one transaction, 2 WRU each (items under \
             1 KB), less the 1 WRU the OrderPlaced's PutItem is counted at among the appends",
            p::DYNAMODB_WRU,
        ),
    ]
}
