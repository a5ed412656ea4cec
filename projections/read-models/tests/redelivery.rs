//! Any duplication or reordering of change-feed deliveries gives the same read models as a
//! straight fold of the log.

use std::collections::BTreeMap;

use order_domain::events::DecodeError;
use order_domain::events::{
    InventoryReserved, OrderCompleted, PaymentCaptured, ProductAdded, ReservedLine, StockReserved,
};
use order_domain::{
    Money, OrderEvent, OrderId, ProductEvent, ProductId, Quantity, RecordedEvent, StreamId,
};
use order_read_models::{InventoryView, OrderView, Step, View, advance_batch};
use proptest::prelude::*;

mod support;
use support::{placed_and_validated, seal_all};

/// A log of `orders` orders, each cut after `lens[i]` of its five events, on one product.
fn log(lens: &[usize]) -> Vec<RecordedEvent> {
    let p = ProductId::parse("P1").unwrap();
    let q = Quantity::new(1).unwrap();
    let mut product = vec![
        ProductEvent::ProductAdded(ProductAdded {
            name: "Mug".into(),
            price: Money::from_minor(100),
            stock: 1000,
        })
        .encode(),
    ];
    let mut all = Vec::new();
    for (i, len) in lens.iter().enumerate() {
        let id = OrderId::generate();
        let [placed, validated] = placed_and_validated(id, &p);
        let full = [
            placed,
            validated,
            OrderEvent::PaymentCaptured(PaymentCaptured {
                payment_id: format!("ch_{i}"),
                amount: Money::from_minor(100),
            }),
            OrderEvent::InventoryReserved(InventoryReserved {
                lines: vec![ReservedLine {
                    product_id: p.clone(),
                    quantity: q,
                    stock_after: 999 - i as u64,
                }],
            }),
            OrderEvent::OrderCompleted(OrderCompleted {
                total: Money::from_minor(100),
            }),
        ];
        if *len >= 4 {
            product.push(
                ProductEvent::StockReserved(StockReserved {
                    order_id: id,
                    quantity: q,
                    stock_after: 1000 - product.len() as u64,
                    price: Money::from_minor(100),
                })
                .encode(),
            );
        }
        all.extend(seal_all(
            &id.stream(),
            full[..*len].iter().map(OrderEvent::encode).collect(),
        ));
    }
    all.extend(seal_all(&p.stream(), product));
    all
}

#[derive(Default, Debug, PartialEq)]
struct Models {
    orders: BTreeMap<String, OrderView>,
    inventory: BTreeMap<String, InventoryView>,
}

fn history(log: &[RecordedEvent], stream: &StreamId, after: u64) -> Vec<RecordedEvent> {
    log.iter()
        .filter(|e| &e.stream_id == stream && e.version > after)
        .cloned()
        .collect()
}

/// Delivers `records` one by one through the shared projection step, as a worker does.
fn project(log: &[RecordedEvent], records: &[&RecordedEvent]) -> Models {
    Models {
        orders: deliver(log, records),
        inventory: deliver(log, records),
    }
}

fn deliver<V: View>(log: &[RecordedEvent], records: &[&RecordedEvent]) -> BTreeMap<String, V> {
    let mut stored: BTreeMap<String, V> = BTreeMap::new();
    for r in records {
        let moved = advance_batch::<V, DecodeError>(
            [*r],
            |key| Ok(stored.get(key).cloned()),
            |r, after| Ok(history(log, &r.stream_id, after)),
        )
        .unwrap();
        // The put every store makes: guarded by the view's version.
        for view in moved {
            let key = V::key(&r.stream_id).unwrap();
            if stored
                .get(&key)
                .is_none_or(|s| s.version() < view.version())
            {
                stored.insert(key, view);
            }
        }
    }
    stored
}

/// Every record of `log` plus the duplicates `picks` names, in an order shuffled from `seed`
/// (Fisher-Yates on a xorshift stream, so a failing case replays exactly).
fn redelivered<'l>(
    log: &'l [RecordedEvent],
    picks: &[prop::sample::Index],
    seed: u64,
) -> Vec<&'l RecordedEvent> {
    let mut deliveries: Vec<&RecordedEvent> = log.iter().collect();
    deliveries.extend(picks.iter().map(|i| &log[i.index(log.len())]));
    let mut s = seed | 1;
    for i in (1..deliveries.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let j = usize::try_from(s % (i as u64 + 1)).unwrap();
        deliveries.swap(i, j);
    }
    deliveries
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn duplicated_and_reordered_deliveries_equal_a_straight_fold(
        lens in prop::collection::vec(1usize..=5, 1..5),
        dup_picks in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        seed in any::<u64>(),
    ) {
        let log = log(&lens);
        let straight = project(&log, &log.iter().collect::<Vec<_>>());
        let deliveries = redelivered(&log, &dup_picks, seed);
        let shuffled = project(&log, &deliveries);
        prop_assert_eq!(shuffled, straight);
    }
}

/// Steps each stream's view through `records` twice, by `step` (a copy, replaced) and by
/// `step_in_place`, and checks that both say the same and leave the same view every time.
fn steps_agree<V: View + std::fmt::Debug>(records: &[&RecordedEvent]) -> Result<(), TestCaseError> {
    let mut copied: BTreeMap<String, Option<V>> = BTreeMap::new();
    let mut in_place: BTreeMap<String, Option<V>> = BTreeMap::new();
    for r in records {
        let Some(key) = V::key(&r.stream_id) else {
            continue;
        };
        let a = copied.entry(key.clone()).or_default();
        let said = match V::step(a.as_ref(), r).unwrap() {
            Step::Apply(next) => {
                *a = Some(next);
                Step::Apply(())
            }
            Step::Skip => Step::Skip,
            Step::NeedHistory { after_version } => Step::NeedHistory { after_version },
        };
        let b = in_place.entry(key).or_default();
        prop_assert_eq!(
            V::step_in_place(b, r).unwrap(),
            said,
            "{} v{}",
            r.stream_id,
            r.version
        );
        prop_assert_eq!(&*a, &*b);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Both ways of taking a step, on every order and product view, whatever the deliveries.
    #[test]
    fn stepping_in_place_is_stepping_a_copy(
        lens in prop::collection::vec(1usize..=5, 1..5),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        seed in any::<u64>(),
    ) {
        let log = log(&lens);
        let deliveries = redelivered(&log, &picks, seed);
        steps_agree::<OrderView>(&deliveries)?;
        steps_agree::<InventoryView>(&deliveries)?;
    }
}

#[test]
fn a_straight_fold_reaches_completed_with_the_total() {
    let log = log(&[5]);
    let m = project(&log, &log.iter().collect::<Vec<_>>());
    let v = m.orders.values().next().unwrap();
    assert_eq!(v.status.as_str(), "COMPLETED");
    assert_eq!(v.total, Some(Money::from_minor(100)));
    assert_eq!(m.inventory.values().next().unwrap().available, 999);
}
