//! The customers' data keys on AWS (sealed personal data, `shared/aws` keys): KMS requests and
//! the key table's reads and writes, per order.
//!
//! template.yaml gives the key table and the KMS key to exactly four functions, which open a
//! customer's key: order-placement's POST (the current key: a new customer's is generated and
//! stored, a returning customer's read), process-payment (the sealed payment token), and the
//! two handlers that email the customer (order-success-handler, order-update-handler). Each
//! function runs in its own containers, and a container keeps a key for `KEY_CACHE_TTL` (one
//! minute): an order's steps meet four different containers within seconds, and a customer's
//! next order is assumed to come more than a minute later. So every open is a consistent
//! GetItem (a new customer's POST reads before it generates), and every open but a new
//! customer's POST is a KMS Decrypt.

use super::lines::line;
use super::model::{Basis, Line, Observed};
use super::prices as p;

/// A customer's key opened per order: the POST, the payment, the confirmation (completed
/// orders) and the order-received email (every order placed).
pub fn opens(o: &Observed) -> f64 {
    o.posts + o.validated + o.completed + 1.0
}

/// The key lines of one order.
pub fn lines(o: &Observed) -> Vec<Line> {
    let opens = opens(o);
    let decrypts = (opens - o.new_keys).max(0.0);
    vec![
        line(
            "KMS",
            "GenerateDataKey (a new customer's data key)",
            o.new_keys,
            "request",
            Basis::Counted,
            "customer keys created in the run (one per customer who ordered)",
            p::KMS_REQUEST,
        ),
        line(
            "KMS",
            "Decrypt (a customer's key unwrapped)",
            decrypts,
            "request",
            Basis::Derived,
            &format!(
                "{opens:.2} opens per order (POST, payment, confirmation, order-received email), \
                 each in its own function's containers, whose one-minute cache an order's next \
                 step never meets; all but a new customer's POST unwrap"
            ),
            p::KMS_REQUEST,
        ),
        line(
            "DynamoDB",
            "customer key reads (consistent GetItem)",
            opens,
            "RRU",
            Basis::Derived,
            "one per open, an item under 4 KB",
            p::DYNAMODB_RRU,
        ),
        line(
            "DynamoDB",
            "customer key writes (conditional PutItem)",
            o.new_keys,
            "WRU",
            Basis::Counted,
            "one per key created, an item under 1 KB",
            p::DYNAMODB_WRU,
        ),
    ]
}
