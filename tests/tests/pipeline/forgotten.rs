//! A forgotten customer on the embedded adapters, step by step: no confirmation email can be
//! written for their completed order (the success handler answers `Erased`), and a validated
//! order of theirs is declined `personal_data_erased` without the gateway being asked.
//!
//! The orders are real sealed ones, placed through `place_order` with the SQLite key store, so
//! forgetting destroys the key they were sealed under (the testkit's `place` writes clear data,
//! which no forget can erase).

use order_app::forward::bus_event;
use order_app::gateway::SimulatedGateway;
use order_app::notify::{Confirmation, confirm_order};
use order_app::place::{PlaceOrder, place_order};
use order_app::seed::seed_inventory;
use order_app::tasks::{self, TaskError, TaskInput};
use order_app::vault;
use order_domain::events::OrderLine;
use order_domain::ports::{EventStore, Topic};
use order_domain::{CustomerId, Email, OrderId, PaymentToken, ProductId, Quantity, RecordedEvent};
use order_embedded::db::{Db, Durability};
use order_embedded::idempotency::SqliteIdempotency;
use order_embedded::intake::SqliteIntake;
use order_embedded::keys::SqliteKeys;
use order_embedded::outbox::OutboxNotifier;
use order_embedded::queue::SqliteQueue;
use order_embedded::read_models::{Projection, SqliteReadModels};
use order_embedded::store::SqliteEventStore;
use order_testkit::events::seed_product;
use serde_json::{Value, json};

const ALICE: &str = "alice.forgotten.5521@example.com";
const BOB: &str = "bob.kept.5521@example.com";

/// The embedded adapters over one fresh database, with a product P in stock.
struct Rig {
    dir: tempfile::TempDir,
    db: Db,
    store: SqliteEventStore,
    intake: SqliteIntake,
    idempotency: SqliteIdempotency,
    reads: SqliteReadModels,
    keys: SqliteKeys,
}

impl Rig {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("orders.db"), Durability::Normal).unwrap();
        let store = SqliteEventStore::new(db.clone());
        seed_inventory(&store, &[seed_product("P", 500, 100)])
            .await
            .unwrap();
        // POST /orders checks that the product exists in the inventory view.
        let batch = store.read_after(0, 100).await.unwrap();
        db.write(move |c| Projection::Inventory.apply_batch(c, &batch))
            .await
            .unwrap();
        Self {
            intake: SqliteIntake {
                store: store.clone(),
                queue: SqliteQueue::orders(db.clone()),
            },
            idempotency: SqliteIdempotency::new(db.clone()),
            reads: SqliteReadModels::new(db.clone()),
            keys: SqliteKeys::open(db.clone(), dir.path()).unwrap(),
            store,
            db,
            dir,
        }
    }

    /// A sealed order for one P, placed as POST /orders places it.
    async fn place(&self, customer: &str, email: &str, token: &str) -> OrderId {
        let request = PlaceOrder {
            customer_id: CustomerId::parse(customer).unwrap(),
            email: Email::parse(email).unwrap(),
            items: vec![OrderLine {
                product_id: ProductId::parse("P").unwrap(),
                quantity: Quantity::new(1).unwrap(),
            }],
            payment_token: PaymentToken::parse(token).unwrap(),
        };
        let placed = place_order(
            &self.intake,
            &self.idempotency,
            &self.reads,
            &self.keys,
            request,
            None,
            "req-1",
        )
        .await
        .unwrap();
        placed.order_id
    }

    /// Validate, pay, reserve: the order ends COMPLETED.
    async fn complete(&self, id: OrderId) {
        tasks::validate_order(&self.store, input(id)).await.unwrap();
        tasks::process_payment(&self.store, &SimulatedGateway, &self.keys, input(id))
            .await
            .unwrap();
        tasks::update_inventory(&self.store, input(id))
            .await
            .unwrap();
        assert_eq!(self.types(id).await.last().unwrap(), "OrderCompleted");
    }

    async fn events(&self, id: OrderId) -> Vec<RecordedEvent> {
        self.store.read_stream(&id.stream(), 0).await.unwrap()
    }

    async fn types(&self, id: OrderId) -> Vec<String> {
        let events = self.events(id).await;
        events.into_iter().map(|e| e.event_type.into()).collect()
    }

    /// The payload of the order's (only) event of type `kind`.
    async fn payload(&self, id: OrderId, kind: &str) -> Value {
        let events = self.events(id).await;
        let e = events.iter().find(|e| e.event_type == kind).unwrap();
        serde_json::from_str(&e.payload).unwrap()
    }

    async fn forget(&self, customer: &str) -> u32 {
        vault::forget(&self.keys, &CustomerId::parse(customer).unwrap())
            .await
            .unwrap()
    }
}

fn input(id: OrderId) -> TaskInput {
    TaskError::parse_input(json!({ "orderId": id })).unwrap()
}

/// Completed, then forgotten: the success handler writes nothing for the order and says
/// `Erased`; the control customer's confirmation is written to their address as usual.
#[tokio::test]
async fn no_confirmation_is_written_for_a_customer_forgotten_after_completion() {
    let r = Rig::new().await;
    let alice = r.place("alice", ALICE, "tok_visa").await;
    let bob = r.place("bob", BOB, "tok_visa").await;
    r.complete(alice).await;
    r.complete(bob).await;
    let notifier = OutboxNotifier::new(
        &r.dir.path().join("outbox"),
        &Email::parse("ops@example.com").unwrap(),
    )
    .unwrap();
    let completed = async |id: OrderId| {
        let events = r.events(id).await;
        bus_event(&r.store, events.last().unwrap())
            .await
            .unwrap()
            .expect("OrderCompleted is a bus event")
    };

    assert_eq!(r.forget("alice").await, 1);
    let erased = confirm_order(&r.store, &notifier, &r.keys, &completed(alice).await)
        .await
        .unwrap();
    assert_eq!(erased, Confirmation::Erased);
    let sent = confirm_order(&r.store, &notifier, &r.keys, &completed(bob).await)
        .await
        .unwrap();
    assert_eq!(sent, Confirmation::Sent);
    // A redelivery of the bus event for the forgotten customer is still skipped.
    let again = confirm_order(&r.store, &notifier, &r.keys, &completed(alice).await)
        .await
        .unwrap();
    assert_eq!(again, Confirmation::Erased);

    let mails = notifier.messages(Topic::OrderAlerts);
    assert_eq!(mails.len(), 1, "only the control customer's confirmation");
    assert!(mails[0].contains(BOB) && mails[0].contains(&bob.to_string()));
    let outbox = std::fs::read_dir(r.dir.path().join("outbox")).unwrap();
    for entry in outbox {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(ALICE), "the forgotten address was written");
        assert!(!text.contains(&alice.to_string()), "a mail for their order");
    }
    r.db.close();
}

/// Validated, then forgotten before payment: no charge is asked of the gateway, the charge is
/// recorded as declined `personal_data_erased`, and the workflow's catch fails the order as
/// PAYMENT_DECLINED. The control customer's order is charged as usual.
#[tokio::test]
async fn a_forgotten_customers_validated_order_is_declined_without_a_charge() {
    let r = Rig::new().await;
    let gateway = order_testkit::gateway::RecordingGateway::default();
    let alice = r.place("alice", ALICE, "tok_visa").await;
    let bob = r.place("bob", BOB, "tok_visa").await;
    for id in [alice, bob] {
        tasks::validate_order(&r.store, input(id)).await.unwrap();
    }
    assert_eq!(r.forget("alice").await, 1);

    let err = tasks::process_payment(&r.store, &gateway, &r.keys, input(alice))
        .await
        .unwrap_err();
    assert!(matches!(err, TaskError::PaymentDeclined(_)), "{err}");
    assert!(err.message().contains("personal_data_erased"), "{err}");
    assert_eq!(gateway.charges().len(), 0, "nothing charged");
    // A retried task answers the same from the log, still without a charge.
    let retried = tasks::process_payment(&r.store, &gateway, &r.keys, input(alice))
        .await
        .unwrap_err();
    assert_eq!(retried, err);
    assert_eq!(gateway.charges().len(), 0);
    let declined = r.payload(alice, "PaymentDeclined").await;
    assert_eq!(declined["code"], "personal_data_erased", "{declined}");

    let caught = json!({
        "orderId": alice,
        "error": { "Error": err.error_type(), "Cause": err.message() },
    });
    let failed = tasks::order_failed(&r.store, &gateway, TaskError::parse_input(caught).unwrap())
        .await
        .unwrap();
    assert_eq!(failed["reason"], "PAYMENT_DECLINED", "{failed}");
    assert_eq!(
        r.types(alice).await,
        [
            "OrderPlaced",
            "OrderValidated",
            "PaymentDeclined",
            "OrderFailed"
        ]
    );
    assert_eq!(
        r.payload(alice, "OrderFailed").await["reason"],
        "PAYMENT_DECLINED"
    );

    tasks::process_payment(&r.store, &gateway, &r.keys, input(bob))
        .await
        .unwrap();
    assert_eq!(gateway.charges().len(), 1, "the control is charged");
    r.db.close();
}
