//! The after-sale half of the read-model contract: orders cancelled, shipped and refunded, and
//! the stock refunds put back, stored and read back by every store exactly as the projection
//! step made them (the order view's flattened after-sale fields, its status in the listing, the
//! inventory after a return).
//!
//! Every order history here is decided command by command on the aggregate
//! (`order_domain::order::decide`), so it is one the pipeline can write, and each decision is
//! appended as one write, as the use cases append it.

use std::collections::BTreeMap;

use order_domain::events::{OrderLine, PaymentRefunded, StockAdded};
use order_domain::order::{
    ChargeResult, OrderCommand, OrderState, OrderStatus, RefundRequest, RefundResult, decide,
    evolve,
};
use order_domain::ports::EventStore;
use order_domain::product::ProductState;
use order_domain::{
    CustomerId, GENESIS_HASH, Money, OrderEvent, OrderId, ProductEvent, ProductId, Quantity,
    RecordedEvent,
};
use order_read_models::order_status::RefundStatus;
use order_read_models::{InventoryView, OrderView, View, ViewStore, advance};

use super::{ReadModelStore, Subject, append, order_view, stock_view, straight};
use crate::events::{meta, one_reserved, order_placed_for, product_added, write_after};

/// The lines every order here has: 3 of `SKU-AS-A` at 2.50 and 1 of `SKU-AS-B` at 10.00.
const LINES: [(&str, u64, i64); 2] = [("SKU-AS-A", 250, 3), ("SKU-AS-B", 1000, 1)];

fn catalog() -> BTreeMap<ProductId, ProductState> {
    LINES
        .iter()
        .map(|(id, price, _)| {
            let id = ProductId::parse(id).unwrap();
            let state = ProductState {
                id: id.clone(),
                price: Money::from_minor(*price),
                stock: 100,
                version: 1,
                head_hash: GENESIS_HASH.into(),
            };
            (id, state)
        })
        .collect()
}

/// What is done to an order after it is placed, in this contract's words.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Validated, paid, stock taken: completed.
    Complete,
    /// Validated only.
    Validate,
    Cancel,
    /// The workflow's OrderFailed step (cancels an order whose cancellation was asked for).
    Close,
    Ship,
    /// A refund of this many of A and of B.
    Refund(i64, i64),
    /// The latest refund issued.
    Issue,
    /// The latest refund failed.
    Fail,
}

fn commands(state: &OrderState, step: Step) -> Vec<OrderCommand> {
    let latest = || match state {
        OrderState::Completed(c) => c.after.refunds.last().map(|r| r.request.refund_id.clone()),
        _ => None,
    };
    match step {
        Step::Complete => vec![
            OrderCommand::Validate {
                products: catalog(),
            },
            OrderCommand::RecordCharge(ChargeResult::Captured {
                payment_id: "ch_as".into(),
            }),
            OrderCommand::Reserve {
                products: catalog(),
            },
        ],
        Step::Validate => vec![OrderCommand::Validate {
            products: catalog(),
        }],
        Step::Cancel => vec![OrderCommand::RequestCancellation {
            reason: "changed my mind".into(),
        }],
        Step::Close => vec![OrderCommand::Fail {
            error: "OrderCancelled".into(),
            refund: state.refund_due().map(|p| PaymentRefunded {
                payment_id: p.payment_id.clone(),
                refund_id: "re_as".into(),
                amount: p.amount,
            }),
        }],
        Step::Ship => vec![OrderCommand::Ship {
            carrier: "DHL".into(),
            tracking_id: "JD0001".into(),
        }],
        Step::Refund(a, b) => {
            let n = match state {
                OrderState::Completed(c) => c.after.refunds.len(),
                _ => 0,
            };
            let items = [(LINES[0].0, a), (LINES[1].0, b)]
                .into_iter()
                .filter(|(_, q)| *q > 0)
                .map(|(p, q)| OrderLine {
                    product_id: ProductId::parse(p).unwrap(),
                    quantity: Quantity::new(q).unwrap(),
                })
                .collect();
            vec![OrderCommand::RequestRefund(RefundRequest {
                idempotency_key: format!("key-{n}"),
                items,
                restock: true,
                reason: "returned".into(),
            })]
        }
        Step::Issue | Step::Fail => {
            let refund_id = latest().expect("a refund to settle");
            let result = if matches!(step, Step::Issue) {
                RefundResult::Issued {
                    gateway_refund_id: format!("re_{refund_id}"),
                }
            } else {
                RefundResult::Failed {
                    message: "gateway unavailable".into(),
                }
            };
            vec![OrderCommand::SettleRefund { refund_id, result }]
        }
    }
}

/// Appends an order of `customer` and then what `steps` decide on it, one append per
/// decision; returns its records.
async fn order_after<E: EventStore>(
    log: &E,
    customer: &CustomerId,
    steps: &[Step],
) -> Vec<RecordedEvent> {
    let id = OrderId::generate();
    let items: Vec<(&str, i64)> = LINES.iter().map(|(p, _, q)| (*p, *q)).collect();
    let mut placed = order_placed_for(id, &items, "tok_visa");
    if let OrderEvent::OrderPlaced(p) = &mut placed {
        p.customer_id = customer.clone();
    }
    let mut state = evolve(OrderState::New, &placed);
    let mut records = append(log, &id.stream(), vec![placed.encode()]).await;
    for &step in steps {
        for command in commands(&state, step) {
            let events = decide(&state, &command)
                .unwrap_or_else(|e| panic!("{step:?}: {command:?} refused: {e}"));
            let write = write_after(
                &id.stream(),
                records.last(),
                events.iter().map(OrderEvent::encode),
                &meta(id),
            );
            log.append(vec![write]).await.unwrap();
            state = events.iter().fold(state, evolve);
            records = log.read_stream(&id.stream(), 0).await.unwrap();
        }
    }
    records
}

/// Projects `records`, each twice, the stream's last record first (a gap the step refolds).
async fn project<E: EventStore, R: ReadModelStore>(s: &Subject<E, R>, records: &[RecordedEvent]) {
    let last = records.last().into_iter();
    for record in last.chain(records).chain(records) {
        advance::<OrderView, _, _>(&s.views, &s.log, record)
            .await
            .unwrap();
    }
}

/// Orders cancelled before and after completion, shipped, refunded in part and in full, and
/// one whose refund failed: each store keeps every view exactly as the projection made it
/// (the flattened shipment, refunds and amount refunded included), GET /orders/{id} answers
/// it, and the customer's listing shows each with its status.
pub async fn after_sale_views_are_stored_and_listed_with_their_status<
    E: EventStore,
    R: ReadModelStore,
>(
    s: &Subject<E, R>,
) {
    use Step::{Cancel, Close, Complete, Fail, Issue, Refund, Ship, Validate};
    let customer = CustomerId::parse(&format!("cust-as-{}", OrderId::generate())).unwrap();
    let cases: [(&[Step], OrderStatus, u64); 8] = [
        (&[Validate, Cancel], OrderStatus::Cancelling, 0),
        (&[Validate, Cancel, Close], OrderStatus::Cancelled, 0),
        (&[Complete, Cancel], OrderStatus::Cancelling, 0),
        (&[Complete, Cancel, Issue], OrderStatus::Cancelled, 1750),
        (&[Complete, Ship], OrderStatus::Shipped, 0),
        (
            &[Complete, Ship, Refund(1, 0), Issue],
            OrderStatus::PartiallyRefunded,
            250,
        ),
        (
            &[Complete, Refund(1, 0), Issue, Refund(2, 1), Issue],
            OrderStatus::Refunded,
            1750,
        ),
        (&[Complete, Refund(0, 1), Fail], OrderStatus::Completed, 0),
    ];
    let mut want = Vec::new();
    for (steps, status, refunded) in cases {
        let records = order_after(&s.log, &customer, steps).await;
        project(s, &records).await;
        let view: OrderView = straight(&records);
        assert_eq!(view.status, status, "{steps:?}");
        assert_eq!(view.after.amount_refunded.minor(), refunded, "{steps:?}");
        let id = view.order_id;
        assert_eq!(
            order_view(&s.views, id).await.as_ref(),
            Some(&view),
            "{steps:?}"
        );
        assert_eq!(s.views.get_order(id).await.unwrap().as_ref(), Some(&view));
        want.push(view);
    }
    let shipped = &want[4].after.shipment;
    assert_eq!(
        shipped
            .as_ref()
            .map(|x| (x.carrier.as_str(), x.tracking_id.as_str())),
        Some(("DHL", "JD0001"))
    );
    let statuses: Vec<RefundStatus> = want[7].after.refunds.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RefundStatus::Failed]);

    let page = s.views.list_orders(&customer, 100, None).await.unwrap();
    assert_eq!(page.next, None);
    want.sort_by(order_read_models::listing::newest_first);
    assert_eq!(
        page.orders, want,
        "every order listed with its latest status"
    );
}

/// A return puts stock back on the product's stream (StockAdded naming the refund): the
/// inventory view shows it, however the records arrive.
pub async fn a_refunds_restock_shows_in_the_inventory<E: EventStore, R: ReadModelStore>(
    s: &Subject<E, R>,
) {
    let id = ProductId::parse(&format!("SKU-RS-{}", OrderId::generate())).unwrap();
    let restocked = |quantity, stock_after, refund_id: Option<&str>| {
        ProductEvent::StockAdded(StockAdded {
            quantity,
            stock_after,
            price: Money::from_minor(1999),
            refund_id: refund_id.map(str::to_owned),
        })
        .encode()
    };
    let events = vec![
        product_added(10).encode(),
        one_reserved(9).encode(),
        one_reserved(8).encode(),
        restocked(2, 10, Some("01ORDER-R1")),
    ];
    let stock = append(&s.log, &id.stream(), events).await;
    // The return first (past a gap: refolded from the log), then everything again.
    for record in stock[3..].iter().chain(&stock) {
        advance::<InventoryView, _, _>(&s.views, &s.log, record)
            .await
            .unwrap();
    }
    let view = stock_view(&s.views, &id).await.unwrap();
    assert_eq!((view.available, view.version), (10, 4));
    assert_eq!(view, straight(&stock));
    assert_eq!(s.views.get_inventory(&id).await.unwrap(), Some(view));

    // A later return moves the view on by itself: every product event restates the stock.
    let more = write_after(
        &id.stream(),
        stock.last(),
        [restocked(1, 11, Some("01ORDER-R2"))],
        &meta(OrderId::generate()),
    );
    s.log.append(vec![more]).await.unwrap();
    let stock = s.log.read_stream(&id.stream(), 0).await.unwrap();
    advance::<InventoryView, _, _>(&s.views, &s.log, &stock[4])
        .await
        .unwrap();
    let view = ViewStore::<InventoryView>::get(&s.views, id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((view.available, view.version), (11, 5));
    assert_eq!(view, View::fold(None, &stock).unwrap().unwrap());
}
