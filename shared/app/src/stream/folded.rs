//! Orders this process has folded, remembered by the head of the history they were folded
//! from, so the next load of the same order folds only the events after it.
//!
//! Every step of an order loads its stream and folds it from the first event: the third task
//! decoded the OrderPlaced (its lines, product ids, sealed personal data) for the third time,
//! and the emails a fourth and fifth. On the embedded host every step runs in this process, so
//! the fold the previous step made is still here.
//!
//! # Why it is never wrong
//! An entry is an [`Order`] folded from a stream's events `1..=v` by [`Order::from_history`]'s
//! own steps, kept with `v` and the hash of event `v`. It is used for a history only when that
//! history's event `v` has the same version and hash; each event's hash covers its
//! predecessor's, so the two histories agree on every event up to `v`, and folding the rest
//! onto the entry is folding the whole history. Nothing else is ever put in: not the state a
//! step computes after its append, only folds of events as the store answered them (decoded
//! from their text, or lent the typed event this process sealed them from, which decodes from
//! that text to itself: `order_domain::decoded`). A history that does not continue an entry
//! is folded from its start, as without the memo.
//!
//! Memory is bounded by two generations of [`GENERATION`] orders; on a Lambda, whose
//! functions each run one step of an order, an entry is rarely met again and costs only that.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use foldhash::fast::RandomState;

use order_domain::events::{DecodeError, decode_order};
use order_domain::order::Order;
use order_domain::{OrderId, RecordedEvent};

/// Orders per generation: the last 4,096–8,192 orders folded, under a second of orders at full
/// speed, where an order's steps follow each other within milliseconds (its first load, by
/// ValidateOrder, finds nothing to continue anyway).
const GENERATION: usize = 4096;

#[derive(Default)]
struct Generations {
    /// foldhash, as the other per-process maps an order's every step looks into.
    young: HashMap<OrderId, Order, RandomState>,
    old: HashMap<OrderId, Order, RandomState>,
}

static FOLDED: LazyLock<Mutex<Generations>> = LazyLock::new(Mutex::default);

/// The order `history` (the whole stream of `id`, in version order from 1) folds to.
pub fn fold(id: OrderId, history: &[RecordedEvent]) -> Result<Order, DecodeError> {
    let (mut order, done) = match remembered(id) {
        Some(order) if continues(&order, history) => {
            let done = usize::try_from(order.version).unwrap_or(usize::MAX);
            (order, done)
        }
        _ => (Order::default(), 0),
    };
    for e in &history[done..] {
        order.apply(e.version, &e.hash, &*decode_order(e)?);
    }
    if !history.is_empty() {
        remember(id, order.clone());
    }
    Ok(order)
}

/// Whether `history` holds the events `order` was folded from: its event at the order's
/// version has that version and the order's head hash.
fn continues(order: &Order, history: &[RecordedEvent]) -> bool {
    let Some(last) = usize::try_from(order.version)
        .ok()
        .and_then(|v| v.checked_sub(1))
    else {
        return false;
    };
    history
        .get(last)
        .is_some_and(|e| e.version == order.version && e.hash == order.head_hash)
}

/// Takes the order's entry out (no copy): a load of the same order meanwhile folds from the
/// start, and the fold puts its result back.
fn remembered(id: OrderId) -> Option<Order> {
    let mut g = FOLDED.lock().ok()?;
    g.young.remove(&id).or_else(|| g.old.remove(&id))
}

fn remember(id: OrderId, order: Order) {
    let evicted = {
        let Ok(mut g) = FOLDED.lock() else {
            return;
        };
        let full = !g.young.contains_key(&id) && g.young.len() >= GENERATION;
        let evicted = full.then(|| {
            let young = std::mem::take(&mut g.young);
            std::mem::replace(&mut g.old, young)
        });
        g.young.insert(id, order);
        evicted
    };
    // The oldest generation is freed after the lock is let go.
    drop(evicted);
}

#[cfg(test)]
mod tests;
