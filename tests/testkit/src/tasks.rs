//! Driving an order through the app's task functions by hand, as the state machine would: for
//! tests that need a log with every ending (completed, declined, out of stock) on any store.

use order_app::gateway::SimulatedGateway;
use order_app::tasks::{
    CaughtError, TaskError, TaskInput, order_failed, process_payment, update_inventory,
    validate_order,
};
use order_app::vault::NoKeys;
use order_domain::OrderId;
use order_domain::ports::EventStore;

use crate::events::place;

mod failing;
pub use failing::{
    a_paid_order_a_rival_completes_first_is_not_refunded,
    a_rival_reserving_after_the_failure_was_recorded_is_refused,
};

/// A task's input for `id`, carrying the error a Catch caught (if any).
pub fn input(id: OrderId, error: Option<&TaskError>) -> TaskInput {
    TaskInput {
        order_id: id,
        attempt: 0,
        error: error.map(|e| CaughtError {
            error: e.error_type().to_owned(),
            cause: e.message().to_owned(),
        }),
    }
}

/// The state machine's path by hand: validate, pay, reserve; any failure goes to OrderFailed
/// with the caught error. The orders are placed by [`place`], whose personal data is in the
/// clear form of an old log, so paying opens it without a key store.
pub async fn drive<S: EventStore>(store: &S, id: OrderId) {
    let gateway = SimulatedGateway;
    let result = async {
        validate_order(store, input(id, None)).await?;
        process_payment(store, &gateway, &NoKeys, input(id, None)).await?;
        update_inventory(store, input(id, None)).await
    }
    .await;
    if let Err(e) = result {
        order_failed(store, &gateway, input(id, Some(&e)))
            .await
            .unwrap();
    }
}

/// Two orders for one `product` of which one is left, both validated and paid before either
/// reserves: the first takes it, the second runs out of stock, is refunded and fails.
/// Returns `(winner, out_of_stock)`.
pub async fn race_for_the_last_one<S: EventStore>(store: &S, product: &str) -> (OrderId, OrderId) {
    let a = place(store, &[(product, 1)], "tok_visa").await;
    let b = place(store, &[(product, 1)], "tok_visa").await;
    let gateway = SimulatedGateway;
    for id in [a, b] {
        validate_order(store, input(id, None)).await.unwrap();
    }
    for id in [a, b] {
        process_payment(store, &gateway, &NoKeys, input(id, None))
            .await
            .unwrap();
    }
    update_inventory(store, input(a, None)).await.unwrap();
    let err = update_inventory(store, input(b, None)).await.unwrap_err();
    assert_eq!(err.error_type(), "OutOfStock");
    order_failed(store, &gateway, input(b, Some(&err)))
        .await
        .unwrap();
    (a, b)
}

/// Every case of the workflow's steps racing another execution, as `#[tokio::test]`s in a
/// module named `$backend`, on the event store `$make` builds.
#[macro_export]
macro_rules! step_cases {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                tasks,
                [
                    a_step_whose_order_moved_after_its_load_decides_again_and_appends_once,
                    a_charge_captured_after_a_rival_closed_the_order_is_given_back,
                    a_paid_order_a_rival_completes_first_is_not_refunded,
                    a_rival_reserving_after_the_failure_was_recorded_is_refused,
                ]
            );
        }
    };
}

/// Another execution of the same step (Step Functions delivers at least once).
type Rival = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// An event store whose first write (an append, or a read-decide-append) waits until a rival
/// execution of the same step, which loaded the order at the same moment, has run to its end:
/// the step under test decides on the order it loaded before the rival wrote.
struct Raced<S> {
    inner: S,
    rival: std::sync::Mutex<Option<Rival>>,
}

impl<S: EventStore> Raced<S> {
    fn new(inner: S, rival: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Self {
            inner,
            rival: std::sync::Mutex::new(Some(Box::pin(rival))),
        }
    }

    fn rival_ran(&self) -> bool {
        self.rival.lock().unwrap().is_none()
    }

    async fn let_the_rival_win(&self) {
        let rival = self.rival.lock().unwrap().take();
        if let Some(rival) = rival {
            rival.await;
        }
    }
}

impl<S: EventStore> EventStore for Raced<S> {
    async fn read_stream(
        &self,
        stream: &order_domain::StreamId,
        after_version: u64,
    ) -> Result<Vec<order_domain::RecordedEvent>, order_domain::ports::StoreError> {
        self.inner.read_stream(stream, after_version).await
    }

    async fn read_heads(
        &self,
        streams: &[order_domain::StreamId],
    ) -> Result<Vec<Option<order_domain::RecordedEvent>>, order_domain::ports::StoreError> {
        self.inner.read_heads(streams).await
    }

    async fn append(
        &self,
        writes: Vec<order_domain::StreamWrite>,
    ) -> Result<(), order_domain::ports::StoreError> {
        self.let_the_rival_win().await;
        self.inner.append(writes).await
    }

    async fn decide_and_append<T, E, F>(
        &self,
        streams: Vec<order_domain::StreamId>,
        decide: F,
    ) -> Result<T, order_domain::ports::DecideError<E>>
    where
        F: FnMut(
                &[Option<order_domain::RecordedEvent>],
            ) -> Result<(Vec<order_domain::StreamWrite>, T), E>
            + Send
            + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.let_the_rival_win().await;
        self.inner.decide_and_append(streams, decide).await
    }
}

/// ValidateOrder, ProcessPayment and UpdateInventory decide first on the order they loaded.
/// When a rival execution of the same step wrote between that load and their write, the
/// conditional append refuses them; they reload, find the step done, and answer its outcome:
/// one OrderValidated, one charge, one reservation.
pub async fn a_step_whose_order_moved_after_its_load_decides_again_and_appends_once<
    S: EventStore + Clone,
>(
    store: &crate::Fixture<S>,
) {
    let store = &**store;
    order_app::seed::seed_inventory(store, &[crate::events::seed_product("RACED", 500, 10)])
        .await
        .unwrap();
    let id = place(store, &[("RACED", 2)], "tok_visa").await;
    let types = |stream: order_domain::StreamId| async move {
        let history = store.read_stream(&stream, 0).await.unwrap();
        history
            .into_iter()
            .map(|e| e.event_type)
            .collect::<Vec<_>>()
    };

    let rival = store.clone();
    let raced = Raced::new(store.clone(), async move {
        validate_order(&rival, input(id, None)).await.unwrap();
    });
    let validated = validate_order(&raced, input(id, None)).await.unwrap();
    assert!(raced.rival_ran());
    assert_eq!(validated["status"], "VALIDATED");
    assert_eq!(types(id.stream()).await, ["OrderPlaced", "OrderValidated"]);

    let rival = store.clone();
    let raced = Raced::new(store.clone(), async move {
        let paying = process_payment(&rival, &SimulatedGateway, &NoKeys, input(id, None));
        paying.await.unwrap();
    });
    let paid = process_payment(&raced, &SimulatedGateway, &NoKeys, input(id, None))
        .await
        .unwrap();
    assert!(raced.rival_ran());
    assert_eq!(
        (&paid["status"], &paid["amount"]),
        (&"PAID".into(), &1000.into())
    );
    let paid_once = ["OrderPlaced", "OrderValidated", "PaymentCaptured"];
    assert_eq!(types(id.stream()).await, paid_once);

    let rival = store.clone();
    let raced = Raced::new(store.clone(), async move {
        update_inventory(&rival, input(id, None)).await.unwrap();
    });
    let reserved = update_inventory(&raced, input(id, None)).await.unwrap();
    assert!(raced.rival_ran());
    assert_eq!(reserved["status"], "COMPLETED");
    let order = types(id.stream()).await;
    assert_eq!(order[..3], paid_once);
    assert_eq!(
        order.iter().filter(|t| *t == "InventoryReserved").count(),
        1
    );
    let product = order_domain::ProductId::parse("RACED").unwrap().stream();
    assert_eq!(types(product).await, ["ProductAdded", "StockReserved"]);
}

/// ProcessPayment's charge is in flight when the customer cancels, and a second execution of
/// the order (Express runs one at least once) reaches ProcessPayment after the cancellation:
/// it is refused, and its OrderFailed step closes the order CANCELLED with nothing to refund.
/// The first execution's capture then cannot be recorded on the closed order, so that step
/// gives it back itself, under the order's refund key: the customer is not left charged.
pub async fn a_charge_captured_after_a_rival_closed_the_order_is_given_back<
    S: EventStore + Clone,
>(
    store: &crate::Fixture<S>,
) {
    let store = &**store;
    order_app::seed::seed_inventory(store, &[crate::events::seed_product("INFLIGHT", 500, 10)])
        .await
        .unwrap();
    let id = place(store, &[("INFLIGHT", 2)], "tok_visa").await;
    validate_order(store, input(id, None)).await.unwrap();

    let gateway = crate::gateway::RecordingGateway::default();
    let (rival, rival_gateway) = (store.clone(), gateway.clone());
    let raced = Raced::new(store.clone(), async move {
        order_app::after::cancel(&rival, id, |_: &str| true, "changed my mind")
            .await
            .unwrap();
        let refused = process_payment(&rival, &rival_gateway, &NoKeys, input(id, None))
            .await
            .unwrap_err();
        let ended = order_failed(&rival, &rival_gateway, input(id, Some(&refused)))
            .await
            .unwrap();
        assert_eq!(
            (&ended["kind"], &ended["refunded"]),
            (&"cancelled".into(), &false.into())
        );
    });
    let refused = process_payment(&raced, &gateway, &NoKeys, input(id, None)).await;
    assert!(raced.rival_ran());
    assert!(
        refused.is_err(),
        "the capture cannot be recorded: {refused:?}"
    );
    let history = store.read_stream(&id.stream(), 0).await.unwrap();
    let types: Vec<_> = history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderValidated",
            "CancellationRequested",
            "OrderCancelled"
        ]
    );
    assert_eq!(
        gateway.refunds(),
        [(id.to_string(), format!("ch_{id}"), 1000)],
        "the charge made in flight is given back, once, under the order's refund key"
    );

    // A step that finds the order ended before it charges makes no charge and no refund.
    let again = process_payment(store, &gateway, &NoKeys, input(id, None)).await;
    assert!(again.is_err());
    assert_eq!(gateway.refunds().len(), 1);
}
