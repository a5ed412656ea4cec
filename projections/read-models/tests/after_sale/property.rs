//! For any history the aggregate can decide, the view shows the aggregate's status (and its
//! shipment and refunds) at every version, and any redelivery or reordering of the history
//! ends in the straight fold.

use order_domain::events::DecodeError;
use order_domain::order::{ChargeResult, OrderCommand, OrderState, Progress, RefundSettlement};
use order_domain::{Money, RecordedEvent};
use order_read_models::order_status::RefundStatus;
use order_read_models::{OrderView, Step, View, advance_batch};
use proptest::prelude::*;

use crate::story::{Story, cancel, captured, catalog, issued, refund, refund_failed, ship};

/// What happens next to the order (refused when the order is not at that step).
#[derive(Debug, Clone)]
enum Act {
    /// The workflow's next step, as it would run it now (validate, charge, take stock, or
    /// close an order that cannot go on).
    Next,
    Validate,
    /// Validation against a product that has run out.
    ValidateShort,
    Capture,
    Decline,
    Reserve,
    /// Stock ran out between validation and reservation.
    ReserveShort,
    /// The workflow's OrderFailed step (refunding a charge due).
    Fail,
    /// The OrderFailed step's first write on a paid order (`OrderFailing`), its refund and
    /// OrderFailed not yet appended.
    BeginFailure,
    Cancel,
    Ship,
    /// A refund of `a` of A and `b` of B (zero-quantity lines left out).
    Refund {
        a: i64,
        b: i64,
        restock: bool,
    },
    /// Settles the `n`th refund (mod the refunds there are).
    Settle {
        n: usize,
        issued: bool,
    },
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        12 => Just(Act::Next),
        1 => Just(Act::Validate),
        1 => Just(Act::ValidateShort),
        1 => Just(Act::Capture),
        1 => Just(Act::Decline),
        1 => Just(Act::Reserve),
        1 => Just(Act::ReserveShort),
        1 => Just(Act::Fail),
        1 => Just(Act::BeginFailure),
        2 => Just(Act::Cancel),
        2 => Just(Act::Ship),
        4 => (0i64..=3, 0i64..=1, any::<bool>())
            .prop_map(|(a, b, restock)| Act::Refund { a, b, restock }),
        4 => (0usize..4, prop::bool::weighted(0.7))
            .prop_map(|(n, issued)| Act::Settle { n, issued }),
    ]
}

fn command(story: &Story, act: &Act, key: usize) -> Option<OrderCommand> {
    Some(match act {
        Act::Validate => OrderCommand::Validate {
            products: catalog(10),
        },
        Act::ValidateShort => OrderCommand::Validate {
            products: catalog(0),
        },
        Act::Capture => captured(),
        Act::Decline => OrderCommand::RecordCharge(ChargeResult::Declined {
            code: "card_declined".into(),
            message: "declined".into(),
        }),
        Act::Reserve => OrderCommand::Reserve {
            products: catalog(10),
        },
        Act::ReserveShort => OrderCommand::Reserve {
            products: catalog(1),
        },
        Act::Fail => return None,
        Act::BeginFailure => OrderCommand::BeginFailure {
            error: "States.Timeout".into(),
        },
        Act::Next => return next_step(story),
        Act::Cancel => cancel(),
        Act::Ship => ship(),
        Act::Refund { a, b, restock } => {
            let items: Vec<(&str, i64)> = [("A", *a), ("B", *b)]
                .into_iter()
                .filter(|(_, q)| *q > 0)
                .collect();
            if items.is_empty() {
                return None;
            }
            refund(&format!("k{key}"), &items, *restock)
        }
        Act::Settle { n, issued: ok } => {
            let OrderState::Completed(c) = story.state() else {
                return None;
            };
            let count = c.after.refunds.len();
            if count == 0 {
                return None;
            }
            let id = c.after.refunds[n % count].request.refund_id.clone();
            if *ok { issued(&id) } else { refund_failed(&id) }
        }
    })
}

/// What the workflow runs next on the order; `None` once it has nothing left to do (or the
/// step is the OrderFailed step, which [`play`] runs itself).
fn next_step(story: &Story) -> Option<OrderCommand> {
    let OrderState::Open(progress) = story.state() else {
        return None;
    };
    if progress.cancellation().is_some() || progress.failing().is_some() {
        return None;
    }
    match progress.stage() {
        Progress::Placed(_) => Some(OrderCommand::Validate {
            products: catalog(10),
        }),
        Progress::Validated(_) => Some(captured()),
        Progress::Paid(_) => Some(OrderCommand::Reserve {
            products: catalog(10),
        }),
        _ => None,
    }
}

/// The story the acts decide: each act's command decided on the order as it stands, a refused
/// one appending nothing.
fn play(acts: &[Act]) -> Story {
    let mut story = Story::placed();
    for (key, act) in acts.iter().enumerate() {
        let closes = matches!(act, Act::Fail)
            || (matches!(act, Act::Next)
                && matches!(story.state(), OrderState::Open(_))
                && next_step(&story).is_none());
        if closes {
            let _ = story.fail();
        } else if let Some(c) = command(&story, act, key) {
            let _ = story.try_run(&c);
        }
    }
    story
}

/// The view's after-sale fields say what the aggregate holds.
fn same_after_sale(view: &OrderView, state: &OrderState) -> Result<(), TestCaseError> {
    let OrderState::Completed(c) = state else {
        prop_assert!(view.after.refunds.is_empty() && view.after.shipment.is_none());
        return Ok(());
    };
    prop_assert_eq!(
        view.after.amount_refunded,
        Money::from_minor(c.after.amount_refunded())
    );
    prop_assert_eq!(view.after.shipment.is_some(), c.after.shipment.is_some());
    prop_assert_eq!(view.after.refunds.len(), c.after.refunds.len());
    for (shown, held) in view.after.refunds.iter().zip(&c.after.refunds) {
        prop_assert_eq!(&shown.refund_id, &held.request.refund_id);
        prop_assert_eq!(shown.amount, held.request.amount);
        let status = match held.settlement {
            RefundSettlement::Pending => RefundStatus::Pending,
            RefundSettlement::Issued(_) => RefundStatus::Issued,
            RefundSettlement::Failed(_) => RefundStatus::Failed,
        };
        prop_assert_eq!(shown.status, status);
    }
    Ok(())
}

fn deliver(log: &[RecordedEvent], order: &[usize]) -> Option<OrderView> {
    let mut stored: Option<OrderView> = None;
    for &i in order {
        let moved = advance_batch::<OrderView, DecodeError>(
            [&log[i]],
            |_| Ok(stored.clone()),
            |_, after| Ok(log[usize::try_from(after).unwrap_or(0)..].to_vec()),
        )
        .unwrap();
        // The put every store makes: guarded by the view's version.
        if let Some(v) = moved.into_iter().last()
            && stored.as_ref().is_none_or(|s| s.version < v.version)
        {
            stored = Some(v);
        }
    }
    stored
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_view_shows_the_aggregates_status_at_every_version(
        acts in prop::collection::vec(act(), 0..24),
    ) {
        let story = play(&acts);
        let mut view: Option<OrderView> = None;
        for (n, record) in story.recorded.iter().enumerate() {
            // The step that copies the view, next to the fold's in-place one.
            let copied = match OrderView::step(view.as_ref(), record).unwrap() {
                Step::Apply(next) => Some(next),
                _ => view.clone(),
            };
            view = OrderView::fold(view, std::slice::from_ref(record)).unwrap();
            prop_assert_eq!(&copied, &view);
            let order = order_domain::order::Order::from_history(&story.recorded[..=n]).unwrap();
            let shown = view.as_ref().expect("a placed order has a view");
            prop_assert_eq!(
                Some(shown.status), order.state.status(),
                "after {} (version {}) of {:?}", record.event_type, record.version,
                story.recorded.iter().map(|r| r.event_type.as_str()).collect::<Vec<_>>()
            );
            same_after_sale(shown, &order.state)?;
        }
    }

    #[test]
    fn redelivered_and_reordered_after_sale_histories_end_in_the_straight_fold(
        acts in prop::collection::vec(act(), 8..24),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        seed in any::<u64>(),
    ) {
        let story = play(&acts);
        let log = &story.recorded;
        let straight = OrderView::fold(None, log).unwrap();
        let mut order: Vec<usize> = (0..log.len()).collect();
        order.extend(picks.iter().map(|i| i.index(log.len())));
        let mut s = seed | 1;
        for i in (1..order.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            order.swap(i, usize::try_from(s % (i as u64 + 1)).unwrap());
        }
        prop_assert_eq!(deliver(log, &order), straight);
    }
}

/// The histories above are worth their cases: between them they reach every status, and the
/// statuses after completion often.
#[test]
fn the_generated_histories_reach_every_status() {
    use std::collections::BTreeMap;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let strategy = prop::collection::vec(act(), 0..24);
    let mut runner = TestRunner::deterministic();
    let mut reached: BTreeMap<&'static str, usize> = BTreeMap::new();
    for _ in 0..400 {
        let acts = strategy.new_tree(&mut runner).unwrap().current();
        let story = play(&acts);
        let mut view: Option<OrderView> = None;
        for record in &story.recorded {
            view = OrderView::fold(view, std::slice::from_ref(record)).unwrap();
            if let Some(v) = &view {
                *reached.entry(v.status.as_str()).or_default() += 1;
            }
        }
    }
    for status in [
        "PLACED",
        "VALIDATED",
        "PAID",
        "COMPLETED",
        "FAILED",
        "CANCELLING",
        "CANCELLED",
        "SHIPPED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ] {
        assert!(
            reached.get(status).is_some_and(|n| *n >= 5),
            "{status}: {reached:?}"
        );
    }
}
