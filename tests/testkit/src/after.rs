//! Cancel, ship and refund (`order_app::after` and the refund workflow's tasks) on each host's
//! event store: the same decisions, the same appends, and the same refusal of a race that would
//! give back more than a line holds. Orders are driven through the task functions by hand, as the
//! state machines would.

use order_app::after::{AfterError, cancel, request_refund, ship};
use order_app::gateway::SimulatedGateway;
use order_app::seed::seed_inventory;
use order_app::tasks::{
    CaughtError, RefundTaskInput, TaskError, order_failed, process_payment, process_refund,
    refund_failed, update_inventory, validate_order,
};
use order_app::vault::NoKeys;
use order_domain::events::{OrderLine, decode_product};
use order_domain::order::{
    Order, OrderError, OrderState, OrderStatus, RefundRequest, RefundSettlement,
};
use order_domain::ports::{DecideError, EventStore, StoreError};
use order_domain::{OrderId, ProductEvent, ProductId, Quantity};

use crate::Fixture;
use crate::events::{place, seed_product};
use crate::tasks::{drive, input};

/// Every case as `#[tokio::test]`s in a module named `$backend`, on the event store `$make`
/// builds.
#[macro_export]
macro_rules! after_cases {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                after,
                [
                    an_order_cancelled_before_processing_ends_cancelled_without_a_charge,
                    a_paid_order_cancelled_is_refunded_by_the_workflow_and_ends_cancelled,
                    a_completed_order_cancelled_is_refunded_in_full_and_restocked,
                    a_shipped_order_cannot_be_cancelled,
                    a_partial_refund_then_the_rest_ends_refunded,
                    twenty_concurrent_refunds_never_exceed_the_line,
                    a_refund_the_gateway_never_makes_fails_and_frees_its_lines,
                    a_refund_made_while_the_log_was_down_is_recorded_issued_not_failed,
                    someone_elses_order_cannot_be_cancelled,
                ]
            );
        }
    };
}

const PRODUCT: &str = "AFTER";
const OWNER: &str = "customer-1";

fn owner(customer: &str) -> bool {
    customer == OWNER
}

async fn state<E: EventStore>(log: &E, id: OrderId) -> OrderState {
    let history = log.read_stream(&id.stream(), 0).await.unwrap();
    Order::from_history(&history).unwrap().state
}

async fn stock<E: EventStore>(log: &E) -> u64 {
    let id = ProductId::parse(PRODUCT).unwrap();
    let heads = log.read_heads(&[id.stream()]).await.unwrap();
    let head = heads[0].as_ref().unwrap();
    match decode_product(head).unwrap().into_owned() {
        ProductEvent::ProductAdded(p) => p.stock,
        ProductEvent::StockReserved(r) => r.stock_after,
        ProductEvent::StockAdded(a) => a.stock_after,
    }
}

/// A completed order of `quantity` units at 1,000 each, from a seeded stock of 100.
async fn completed<E: EventStore>(log: &E, quantity: i64, token: &str) -> OrderId {
    seed_inventory(log, &[seed_product(PRODUCT, 1000, 100)])
        .await
        .unwrap();
    let id = place(log, &[(PRODUCT, quantity)], token).await;
    drive(log, id).await;
    assert_eq!(state(log, id).await.status(), Some(OrderStatus::Completed));
    id
}

fn refund_of(key: &str, quantity: i64, restock: bool) -> RefundRequest {
    RefundRequest {
        idempotency_key: key.to_owned(),
        items: vec![OrderLine {
            product_id: ProductId::parse(PRODUCT).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
        }],
        restock,
        reason: "damaged".to_owned(),
    }
}

fn task(id: OrderId, refund_id: &str, error: Option<&TaskError>) -> RefundTaskInput {
    RefundTaskInput {
        order_id: id,
        refund_id: refund_id.to_owned(),
        attempt: 0,
        error: error.map(|e| CaughtError {
            error: e.error_type().to_owned(),
            cause: e.message().to_owned(),
        }),
    }
}

/// Runs the refund workflow by hand: ProcessRefund, and RefundFailed if it fails.
async fn settle<E: EventStore>(log: &E, id: OrderId, refund_id: &str) {
    if let Err(e) = process_refund(log, &SimulatedGateway, task(id, refund_id, None)).await {
        refund_failed(log, &SimulatedGateway, task(id, refund_id, Some(&e)))
            .await
            .unwrap();
    }
}

pub async fn an_order_cancelled_before_processing_ends_cancelled_without_a_charge<E: EventStore>(
    log: &Fixture<E>,
) {
    seed_inventory(&**log, &[seed_product(PRODUCT, 1000, 100)])
        .await
        .unwrap();
    let id = place(&**log, &[(PRODUCT, 1)], "tok_visa").await;
    let s = cancel(&**log, id, owner, "changed my mind").await.unwrap();
    assert_eq!(s.status(), Some(OrderStatus::Cancelling));
    drive(&**log, id).await;
    let s = state(&**log, id).await;
    assert_eq!(s.status(), Some(OrderStatus::Cancelled));
    assert!(s.paid().is_none(), "nothing was charged");
    assert_eq!(stock(&**log).await, 100);
}

pub async fn a_paid_order_cancelled_is_refunded_by_the_workflow_and_ends_cancelled<
    E: EventStore,
>(
    log: &Fixture<E>,
) {
    seed_inventory(&**log, &[seed_product(PRODUCT, 1000, 100)])
        .await
        .unwrap();
    let id = place(&**log, &[(PRODUCT, 2)], "tok_visa").await;
    validate_order(&**log, input(id, None)).await.unwrap();
    process_payment(&**log, &SimulatedGateway, &NoKeys, input(id, None))
        .await
        .unwrap();
    cancel(&**log, id, owner, "").await.unwrap();
    let stopped = update_inventory(&**log, input(id, None)).await.unwrap_err();
    assert_eq!(stopped.error_type(), "OrderCancelled");
    let answer = order_failed(&**log, &SimulatedGateway, input(id, Some(&stopped)))
        .await
        .unwrap();
    assert_eq!(answer["kind"], "cancelled");
    let OrderState::Cancelled(c) = state(&**log, id).await else {
        panic!("not cancelled")
    };
    assert_eq!(c.cancelled.refunded.minor(), 2000);
    assert_eq!(stock(&**log).await, 100, "an open order holds no stock");
}

pub async fn a_completed_order_cancelled_is_refunded_in_full_and_restocked<E: EventStore>(
    log: &Fixture<E>,
) {
    let id = completed(&**log, 3, "tok_visa").await;
    assert_eq!(stock(&**log).await, 97);
    let s = cancel(&**log, id, owner, "").await.unwrap();
    assert_eq!(s.status(), Some(OrderStatus::Cancelling));
    settle(&**log, id, &format!("{id}-R1")).await;
    settle(&**log, id, &format!("{id}-R1")).await;
    let OrderState::Completed(c) = state(&**log, id).await else {
        panic!("not completed")
    };
    assert_eq!(c.status(), OrderStatus::Cancelled);
    assert_eq!(c.after.amount_refunded(), 3000);
    assert_eq!(stock(&**log).await, 100, "restocked once");
}

pub async fn a_shipped_order_cannot_be_cancelled<E: EventStore>(log: &Fixture<E>) {
    let id = completed(&**log, 1, "tok_visa").await;
    ship(&**log, id, "UPS", "1Z999").await.unwrap();
    ship(&**log, id, "UPS", "1Z999").await.unwrap();
    assert!(matches!(
        ship(&**log, id, "DHL", "X").await,
        Err(AfterError::Refused(OrderError::AlreadyShipped))
    ));
    assert!(matches!(
        cancel(&**log, id, owner, "").await,
        Err(AfterError::Refused(OrderError::AlreadyShipped))
    ));
    assert_eq!(state(&**log, id).await.status(), Some(OrderStatus::Shipped));
}

pub async fn a_partial_refund_then_the_rest_ends_refunded<E: EventStore>(log: &Fixture<E>) {
    let id = completed(&**log, 3, "tok_refund_error").await;
    let (_, first) = request_refund(&**log, id, refund_of("k1", 1, true))
        .await
        .unwrap();
    let (_, again) = request_refund(&**log, id, refund_of("k1", 1, true))
        .await
        .unwrap();
    assert_eq!(first, again, "the same key is the same refund");
    assert!(matches!(
        request_refund(&**log, id, refund_of("k2", 3, true)).await,
        Err(AfterError::Refused(OrderError::ExceedsLine {
            refundable: 2,
            ..
        }))
    ));
    // tok_refund_error: the first two attempts fail, as the workflow's retries would see.
    let retried = |attempt| RefundTaskInput {
        attempt,
        ..task(id, &first.request.refund_id, None)
    };
    assert!(
        process_refund(&**log, &SimulatedGateway, retried(0))
            .await
            .is_err()
    );
    assert!(
        process_refund(&**log, &SimulatedGateway, retried(1))
            .await
            .is_err()
    );
    process_refund(&**log, &SimulatedGateway, retried(2))
        .await
        .unwrap();
    assert_eq!(
        state(&**log, id).await.status(),
        Some(OrderStatus::PartiallyRefunded)
    );
    let (_, rest) = request_refund(&**log, id, refund_of("k2", 2, false))
        .await
        .unwrap();
    let last = RefundTaskInput {
        attempt: 2,
        ..task(id, &rest.request.refund_id, None)
    };
    process_refund(&**log, &SimulatedGateway, last)
        .await
        .unwrap();
    assert_eq!(
        state(&**log, id).await.status(),
        Some(OrderStatus::Refunded)
    );
    assert_eq!(stock(&**log).await, 98, "one unit restocked, two kept");
}

pub async fn twenty_concurrent_refunds_never_exceed_the_line<E: EventStore + Clone>(
    log: &Fixture<E>,
) {
    let id = completed(&**log, 3, "tok_visa").await;
    let mut racers = tokio::task::JoinSet::new();
    for n in 0..20 {
        let log: E = (**log).clone();
        racers.spawn(async move {
            request_refund(&log, id, refund_of(&format!("k{n}"), 1, true)).await
        });
    }
    let (mut granted, mut refused) = (Vec::new(), 0);
    while let Some(outcome) = racers.join_next().await {
        match outcome.unwrap() {
            Ok((_, refund)) => granted.push(refund.request.refund_id),
            Err(AfterError::Refused(OrderError::ExceedsLine { .. })) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((granted.len(), refused), (3, 17));
    for refund_id in &granted {
        settle(&**log, id, refund_id).await;
    }
    let OrderState::Completed(c) = state(&**log, id).await else {
        panic!("not completed")
    };
    assert_eq!(c.after.amount_refunded(), 3000, "never more than was paid");
    assert_eq!(c.status(), OrderStatus::Refunded);
    assert_eq!(stock(&**log).await, 100);
}

pub async fn a_refund_the_gateway_never_makes_fails_and_frees_its_lines<E: EventStore>(
    log: &Fixture<E>,
) {
    let id = completed(&**log, 2, "tok_refund_down").await;
    let (_, refund) = request_refund(&**log, id, refund_of("k1", 2, true))
        .await
        .unwrap();
    settle(&**log, id, &refund.request.refund_id).await;
    let OrderState::Completed(c) = state(&**log, id).await else {
        panic!("not completed")
    };
    let settled = &c
        .after
        .refund(&refund.request.refund_id)
        .unwrap()
        .settlement;
    assert!(
        matches!(settled, RefundSettlement::Failed(_)),
        "{settled:?}"
    );
    assert_eq!(c.refundable(&ProductId::parse(PRODUCT).unwrap()), 2);
    assert_eq!(c.status(), OrderStatus::Completed);
    assert_eq!(stock(&**log).await, 98, "nothing restocked");
}

pub async fn someone_elses_order_cannot_be_cancelled<E: EventStore>(log: &Fixture<E>) {
    let id = completed(&**log, 1, "tok_visa").await;
    assert!(matches!(
        cancel(&**log, id, |c| c == "someone-else", "").await,
        Err(AfterError::NotFound)
    ));
    assert!(matches!(
        cancel(&**log, OrderId::generate(), owner, "").await,
        Err(AfterError::NotFound)
    ));
    assert_eq!(
        state(&**log, id).await.status(),
        Some(OrderStatus::Completed)
    );
}

/// A log whose first read-decide-append answers "unavailable", as DynamoDB can through a
/// step's retries.
struct DownOnce<E> {
    inner: E,
    down: std::sync::atomic::AtomicBool,
}

impl<E: EventStore> EventStore for DownOnce<E> {
    async fn read_stream(
        &self,
        stream: &order_domain::StreamId,
        after_version: u64,
    ) -> Result<Vec<order_domain::RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, after_version).await
    }

    async fn read_heads(
        &self,
        streams: &[order_domain::StreamId],
    ) -> Result<Vec<Option<order_domain::RecordedEvent>>, StoreError> {
        self.inner.read_heads(streams).await
    }

    async fn append(&self, writes: Vec<order_domain::StreamWrite>) -> Result<(), StoreError> {
        self.inner.append(writes).await
    }

    async fn decide_and_append<T, Err, F>(
        &self,
        streams: Vec<order_domain::StreamId>,
        decide: F,
    ) -> Result<T, DecideError<Err>>
    where
        F: FnMut(
                &[Option<order_domain::RecordedEvent>],
            ) -> Result<(Vec<order_domain::StreamWrite>, T), Err>
            + Send
            + 'static,
        T: Send + 'static,
        Err: Send + 'static,
    {
        if self.down.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(DecideError::Store(StoreError::Unavailable(
                "the table is throttled".into(),
            )));
        }
        self.inner.decide_and_append(streams, decide).await
    }
}

/// ProcessRefund's gateway made the refund, and the log could not record it through the
/// step's retries: RefundFailed must not free the lines of a refund that was made (a second
/// request would be paid again under a new key). It asks the gateway once more under the
/// refund's key, gets the same refund back, and records it issued, restocked once.
pub async fn a_refund_made_while_the_log_was_down_is_recorded_issued_not_failed<
    E: EventStore + Clone,
>(
    log: &Fixture<E>,
) {
    let id = completed(&**log, 2, "tok_visa").await;
    let (_, refund) = request_refund(&**log, id, refund_of("k1", 2, true))
        .await
        .unwrap();
    let refund_id = refund.request.refund_id;
    let gateway = crate::gateway::RecordingGateway::default();
    let down = DownOnce {
        inner: (**log).clone(),
        down: std::sync::atomic::AtomicBool::new(true),
    };
    let e = process_refund(&down, &gateway, task(id, &refund_id, None))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "EventStoreUnavailable");
    let settled = refund_failed(&**log, &gateway, task(id, &refund_id, Some(&e)))
        .await
        .unwrap();
    assert_eq!(settled["status"], "ISSUED");
    let OrderState::Completed(c) = state(&**log, id).await else {
        panic!("not completed")
    };
    let settlement = &c.after.refund(&refund_id).unwrap().settlement;
    assert!(
        matches!(settlement, RefundSettlement::Issued(_)),
        "{settlement:?}"
    );
    assert_eq!(c.refundable(&ProductId::parse(PRODUCT).unwrap()), 0);
    assert_eq!(stock(&**log).await, 100, "restocked once");
    let keys: Vec<_> = gateway.refunds().into_iter().map(|r| r.0).collect();
    assert_eq!(
        keys,
        [refund_id.clone(), refund_id],
        "one refund, asked twice"
    );
    assert!(
        request_refund(&**log, id, refund_of("k2", 1, true))
            .await
            .is_err(),
        "nothing is left to refund"
    );
}
