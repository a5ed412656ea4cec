//! OrderUpdateHandler (OrderUpdateRule) fed EventBridge events as the rule delivers them, on the
//! embedded adapters: one customer email per OrderPlaced, OrderCancelled, OrderShipped and
//! RefundIssued however often it is delivered, none for a cancellation's RefundIssued (the
//! cancellation email says what was refunded) and none for a forgotten customer. [`local_bus`]
//! runs the local host's path: the forwarder's loop over the log into the local rule bus.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use order_app::forward::bus_event;
use order_app::notify_update::CustomerNotice;
use order_app::seed::seed_inventory;
use order_app::stream::{execute, seal};
use order_app::vault::{self, NoKeys};
use order_domain::events::{OrderLine, OrderPlaced};
use order_domain::order::{OrderCommand, RefundRequest, RefundResult};
use order_domain::personal::{Personal, PersonalData};
use order_domain::ports::{BusEvent, EventStore, KeyStore, Topic};
use order_domain::{
    CustomerId, Email, GENESIS_HASH, OrderEvent, OrderId, PaymentToken, ProductId, Quantity,
};
use order_embedded::db::{Db, Durability};
use order_embedded::keys::SqliteKeys;
use order_embedded::outbox::OutboxNotifier;
use order_embedded::store::SqliteEventStore;
use order_lambda::confirm::handle_update_event;
use order_testkit::events::{meta, place_as, seed_product};
use order_testkit::tasks::drive;
use serde_json::{Value, json};

mod local_bus;

const ORDER: &str = "01JDQ5Z8M7X3K9V2N4B6C8D0EF";

struct Rig {
    dir: tempfile::TempDir,
    db: Db,
    store: SqliteEventStore,
    notifier: OutboxNotifier,
}

impl Rig {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let store = SqliteEventStore::new(db.clone());
        let notifier = OutboxNotifier::new(
            &dir.path().join("outbox"),
            &Email::parse("ops@example.com").unwrap(),
        )
        .unwrap();
        seed_inventory(&store, &[seed_product("MUG", 900, 10)])
            .await
            .unwrap();
        Self {
            dir,
            db,
            store,
            notifier,
        }
    }

    /// An order for two MUGs, driven to COMPLETED.
    async fn completed(&self) -> OrderId {
        let id = OrderId::parse(ORDER).unwrap();
        place_as(&self.store, id, &[("MUG", 2)], "tok_visa").await;
        drive(&self.store, id).await;
        id
    }

    async fn run(&self, id: OrderId, command: OrderCommand) {
        execute(&self.store, id, &command).await.unwrap();
    }

    /// The bus event of the order's latest event of type `kind`, as the forwarder puts it.
    async fn bus_event(&self, id: OrderId, kind: &str) -> BusEvent {
        let events = self.store.read_stream(&id.stream(), 0).await.unwrap();
        let record = events.iter().rev().find(|e| e.event_type == kind).unwrap();
        bus_event(&self.store, record).await.unwrap().unwrap()
    }

    /// Delivers `event` to the handler `times` times, answering each delivery's notice.
    async fn deliver<K: KeyStore>(
        &self,
        keys: &K,
        event: &BusEvent,
        times: usize,
    ) -> Vec<CustomerNotice> {
        let mut notices = Vec::new();
        for _ in 0..times {
            let delivered = eventbridge_event(event);
            notices.push(
                handle_update_event(&self.store, &self.notifier, keys, delivered)
                    .await
                    .unwrap(),
            );
        }
        notices
    }

    fn mails(&self) -> Vec<String> {
        self.notifier.messages(Topic::OrderAlerts)
    }
}

/// A bus event as EventBridge delivers it to a rule's target (its own id, the detail as put).
fn eventbridge_event(e: &BusEvent) -> EventBridgeEvent<Value> {
    serde_json::from_value(json!({
        "version": "0",
        "id": ulid::Ulid::generate().to_string(),
        "detail-type": e.detail_type,
        "source": e.source,
        "account": "123456789012",
        "time": "2026-11-25T20:13:40Z",
        "region": "us-east-1",
        "resources": [],
        "detail": e.detail,
    }))
    .unwrap()
}

fn fixture(path: &str) -> EventBridgeEvent<Value> {
    let text =
        std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn one_mug() -> Vec<OrderLine> {
    vec![OrderLine {
        product_id: ProductId::parse("MUG").unwrap(),
        quantity: Quantity::new(1).unwrap(),
    }]
}

fn issued(refund_id: String) -> OrderCommand {
    OrderCommand::SettleRefund {
        refund_id,
        result: RefundResult::Issued {
            gateway_refund_id: "re_1".into(),
        },
    }
}

/// The rule's OrderPlaced event sends the customer one "order received" email, named by the
/// log's event id, however often it is delivered.
#[tokio::test]
async fn an_eventbridge_order_placed_sends_one_order_received_email() {
    let r = Rig::new().await;
    let id = OrderId::parse(ORDER).unwrap();
    place_as(&r.store, id, &[("MUG", 2)], "tok_visa").await;
    let event = fixture("services/order-update-handler/fixtures/order-placed.json");
    for _ in 0..2 {
        let notice = handle_update_event(&r.store, &r.notifier, &NoKeys, event.clone())
            .await
            .unwrap();
        assert_eq!(notice, CustomerNotice::Sent);
    }
    let mails = r.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.contains("Message-ID: <01JDQ5Z9DDDDDDDDDDDDDDDDDD@orders.local>"));
    assert!(mail.contains("To: jane@example.com") && mail.contains("Cc: ops@example.com"));
    assert!(mail.contains(&format!("Subject: Order {ORDER} received")));
    assert!(mail.contains("2 x MUG"), "{mail}");
    assert!(!mail.contains("tok_visa"), "no payment token in an email");
    r.db.close();
}

/// A shipment and a partial refund: one email each, however often delivered, with the carrier
/// and tracking id, and the amount and lines refunded.
#[tokio::test]
async fn a_shipment_and_a_refund_each_send_one_email() {
    let r = Rig::new().await;
    let id = r.completed().await;
    r.run(
        id,
        OrderCommand::Ship {
            carrier: "DHL".into(),
            tracking_id: "JD014600006281230652".into(),
        },
    )
    .await;
    let shipped = r.bus_event(id, "OrderShipped").await;
    assert_eq!(
        r.deliver(&NoKeys, &shipped, 3).await,
        [CustomerNotice::Sent; 3]
    );

    r.run(
        id,
        OrderCommand::RequestRefund(RefundRequest {
            idempotency_key: "refund-1".into(),
            items: one_mug(),
            restock: true,
            reason: "arrived broken".into(),
        }),
    )
    .await;
    r.run(id, issued(format!("{ORDER}-R1"))).await;
    // The rule's RefundIssued as EventBridge delivers it, twice.
    let event = fixture("services/order-update-handler/fixtures/refund-issued.json");
    for _ in 0..2 {
        let notice = handle_update_event(&r.store, &r.notifier, &NoKeys, event.clone())
            .await
            .unwrap();
        assert_eq!(notice, CustomerNotice::Sent);
    }

    let mails = r.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let shipment = &mails[0];
    assert!(shipment.contains(&format!("Message-ID: <{}@orders.local>", shipped.id)));
    assert!(shipment.contains(&format!("Subject: Order {ORDER} shipped")));
    assert!(shipment.contains("Carrier: DHL") && shipment.contains("JD014600006281230652"));
    let refund = &mails[1];
    assert!(refund.contains("Message-ID: <01JDQ5ZAEEEEEEEEEEEEEEEEEE@orders.local>"));
    assert!(refund.contains("To: jane@example.com"));
    assert!(refund.contains("We have refunded 9.00"), "{refund}");
    assert!(refund.contains("1 x MUG at 9.00 = 9.00"), "{refund}");
    assert!(refund.contains(&format!("{ORDER}-R1")));
    r.db.close();
}

/// A completed order's cancellation is a refund of everything left with its OrderCancelled:
/// the cancellation email says what was refunded, once, and its RefundIssued sends nothing.
#[tokio::test]
async fn a_cancellation_sends_one_email_and_its_refund_none() {
    let r = Rig::new().await;
    let id = r.completed().await;
    r.run(
        id,
        OrderCommand::RequestCancellation {
            reason: "changed my mind".into(),
        },
    )
    .await;
    r.run(id, issued(format!("{ORDER}-R1"))).await;

    let refund = r.bus_event(id, "RefundIssued").await;
    assert_eq!(
        r.deliver(&NoKeys, &refund, 2).await,
        [CustomerNotice::CoveredByCancellation; 2]
    );
    let cancelled = r.bus_event(id, "OrderCancelled").await;
    assert_eq!(
        r.deliver(&NoKeys, &cancelled, 2).await,
        [CustomerNotice::Sent; 2]
    );

    let mails = r.mails();
    assert_eq!(mails.len(), 1, "one email for the cancellation: {mails:?}");
    let mail = &mails[0];
    assert!(mail.contains(&format!("Subject: Order {ORDER} cancelled")));
    assert!(mail.contains("Refunded: 18.00"), "{mail}");
    assert!(mail.contains("2 x MUG at 9.00 = 18.00"), "{mail}");
    r.db.close();
}

/// An order cancelled before it was charged: the email says nothing was charged.
#[tokio::test]
async fn an_order_cancelled_before_payment_says_nothing_was_charged() {
    let r = Rig::new().await;
    let id = OrderId::generate();
    place_as(&r.store, id, &[("MUG", 1)], "tok_visa").await;
    r.run(
        id,
        OrderCommand::RequestCancellation {
            reason: String::new(),
        },
    )
    .await;
    drive(&r.store, id).await;
    let cancelled = r.bus_event(id, "OrderCancelled").await;
    assert_eq!(
        r.deliver(&NoKeys, &cancelled, 2).await,
        [CustomerNotice::Sent; 2]
    );
    let mails = r.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Nothing was charged"), "{}", mails[0]);
    r.db.close();
}

/// A forgotten customer's order: its events get no email (`Erased`), however often delivered;
/// another customer's order is written to as usual.
#[tokio::test]
async fn a_forgotten_customer_gets_no_email() {
    let r = Rig::new().await;
    let keys = SqliteKeys::open(r.db.clone(), r.dir.path()).unwrap();
    let alice = CustomerId::parse("alice").unwrap();
    let bob = CustomerId::parse("bob").unwrap();
    let forgotten = place_sealed(&r.store, &keys, &alice, "alice.gone.7731@example.com").await;
    let kept = place_sealed(&r.store, &keys, &bob, "bob.kept.7731@example.com").await;
    // Cancelled before payment: no charge, so no payment token is needed to end it.
    for id in [forgotten, kept] {
        r.run(
            id,
            OrderCommand::RequestCancellation {
                reason: String::new(),
            },
        )
        .await;
        drive(&r.store, id).await;
    }
    assert_eq!(vault::forget(&keys, &alice).await.unwrap(), 1);

    for kind in ["OrderPlaced", "OrderCancelled"] {
        let event = r.bus_event(forgotten, kind).await;
        assert_eq!(
            r.deliver(&keys, &event, 2).await,
            [CustomerNotice::Erased; 2]
        );
        let event = r.bus_event(kept, kind).await;
        assert_eq!(r.deliver(&keys, &event, 2).await, [CustomerNotice::Sent; 2]);
    }
    let mails = r.mails();
    assert_eq!(mails.len(), 2, "only the kept customer's: {mails:?}");
    for mail in &mails {
        assert!(mail.contains("bob.kept.7731@example.com") && mail.contains(&kept.to_string()));
    }
    let outbox = std::fs::read_dir(r.dir.path().join("outbox")).unwrap();
    for entry in outbox {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            !text.contains("alice.gone.7731"),
            "the forgotten address was written"
        );
        assert!(
            !text.contains(&forgotten.to_string()),
            "a mail for their order"
        );
    }
    r.db.close();
}

/// An order for one MUG whose email and token are sealed under `customer`'s data key, as POST
/// /orders places it.
async fn place_sealed<S: EventStore, K: KeyStore>(
    store: &S,
    keys: &K,
    customer: &CustomerId,
    email: &str,
) -> OrderId {
    let id = OrderId::generate();
    let data = PersonalData {
        email: Email::parse(email).unwrap(),
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    };
    let sealed = vault::seal(keys, customer, id, &data).await.unwrap();
    let placed = OrderEvent::OrderPlaced(OrderPlaced {
        order_id: id,
        customer_id: customer.clone(),
        items: one_mug(),
        personal: Personal::Sealed(sealed),
    });
    let write = seal(&id.stream(), 0, GENESIS_HASH, [placed.encode()], &meta(id));
    store.append(vec![write]).await.unwrap();
    id
}

/// A detail-type the rule does not route is refused (a wiring mistake shows in the DLQ), and an
/// event of another order's stream is not mistaken for this one's.
#[tokio::test]
async fn an_unknown_detail_type_is_refused_and_an_unheld_update_ignored() {
    let r = Rig::new().await;
    let id = OrderId::parse(ORDER).unwrap();
    place_as(&r.store, id, &[("MUG", 1)], "tok_visa").await;
    let mut event = fixture("services/order-update-handler/fixtures/order-placed.json");
    event.detail_type = "OrderValidated".into();
    let refused = handle_update_event(&r.store, &r.notifier, &NoKeys, event).await;
    assert!(refused.is_err(), "{refused:?}");

    // A shipment the order's stream does not hold (it is not even completed): nothing sent.
    let mut shipped = fixture("services/order-update-handler/fixtures/order-placed.json");
    shipped.detail_type = "OrderShipped".into();
    let notice = handle_update_event(&r.store, &r.notifier, &NoKeys, shipped)
        .await
        .unwrap();
    assert_eq!(notice, CustomerNotice::NotInHistory);
    assert!(r.mails().is_empty());
    r.db.close();
}
