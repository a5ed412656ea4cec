//! GET /orders' parameters: defaults, bounds and cursors are settled before the store is read.

use std::sync::Mutex;

use order_domain::order::OrderStatus;
use order_domain::ports::PortError;
use order_domain::{CustomerId, OrderId, ProductId, Timestamp};
use order_read_models::listing::newest_first;
use order_read_models::{InventoryView, OrderCursor, OrderPage, OrderView};

use super::{DEFAULT_LIMIT, KnownProducts, ListError, MAX_LIMIT, ReadModels, list_orders};

/// Read models in memory that remember what each listing asked for.
#[derive(Default)]
struct Memory {
    orders: Vec<OrderView>,
    asked: Mutex<Vec<(usize, Option<OrderCursor>)>>,
}

impl Memory {
    fn asked(&self) -> Vec<(usize, Option<OrderCursor>)> {
        self.asked.lock().unwrap().clone()
    }
}

impl ReadModels for Memory {
    async fn get_order(&self, id: OrderId) -> Result<Option<OrderView>, PortError> {
        Ok(self.orders.iter().find(|o| o.order_id == id).cloned())
    }

    async fn get_inventory(&self, _: &ProductId) -> Result<Option<InventoryView>, PortError> {
        Ok(None)
    }

    async fn list_orders(
        &self,
        customer: &CustomerId,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, PortError> {
        self.asked.lock().unwrap().push((limit, after.copied()));
        let mut mine: Vec<OrderView> = self
            .orders
            .iter()
            .filter(|o| o.customer_id == customer.as_str())
            .filter(|o| after.is_none_or(|c| c.admits(o)))
            .cloned()
            .collect();
        mine.sort_by(newest_first);
        mine.truncate(limit + 1);
        Ok(OrderPage::from_fetched(mine, limit))
    }

    async fn count_by_status(&self) -> Result<super::StatusCounts, PortError> {
        let mut counts = super::StatusCounts::default();
        for o in &self.orders {
            counts.add(o.status, 1);
        }
        Ok(counts)
    }
}

fn customer() -> CustomerId {
    CustomerId::parse("cust-1").unwrap()
}

fn order(placed_ms: u64) -> OrderView {
    OrderView {
        order_id: OrderId::generate(),
        status: OrderStatus::Placed,
        reason: None,
        message: None,
        customer_id: "cust-1".into(),
        items: Vec::new(),
        total: None,
        payment_id: None,
        refunded: false,
        after: Box::default(),
        placed_at: Timestamp::from_millis(placed_ms),
        updated_at: Timestamp::from_millis(placed_ms),
        version: 1,
    }
}

fn memory(n: u64) -> Memory {
    Memory {
        // Orders come in pairs placed in the same millisecond: ties are decided by the id.
        orders: (0..n).map(|i| order(1_000 + i / 2)).collect(),
        ..Memory::default()
    }
}

#[tokio::test]
async fn without_a_limit_a_page_holds_the_default_and_no_cursor_starts_at_the_newest() {
    let reads = memory(25);
    let page = list_orders(&reads, &customer(), None, None).await.unwrap();
    assert_eq!(page.orders.len(), DEFAULT_LIMIT);
    assert_eq!(reads.asked(), vec![(DEFAULT_LIMIT, None)]);
    let mut expected = reads.orders.clone();
    expected.sort_by(newest_first);
    assert_eq!(page.orders, expected[..DEFAULT_LIMIT]);
    assert_eq!(
        page.next,
        Some(OrderCursor::of(&expected[DEFAULT_LIMIT - 1]))
    );
}

#[tokio::test]
async fn a_limit_of_zero_or_above_the_maximum_is_refused_naming_limit_before_any_read() {
    let reads = memory(3);
    for bad in [0, MAX_LIMIT + 1, usize::MAX] {
        let err = list_orders(&reads, &customer(), Some(bad), None)
            .await
            .unwrap_err();
        assert!(matches!(err, ListError::Limit(n) if n == bad), "{err:?}");
        assert_eq!(err.field(), Some("limit"));
        assert!(err.to_string().contains("limit"), "{err}");
    }
    assert!(reads.asked().is_empty());
    for good in [1, MAX_LIMIT] {
        list_orders(&reads, &customer(), Some(good), None)
            .await
            .unwrap();
    }
    assert_eq!(reads.asked(), vec![(1, None), (MAX_LIMIT, None)]);
}

#[tokio::test]
async fn a_cursor_not_handed_out_is_refused_naming_cursor_before_any_read() {
    let reads = memory(3);
    let valid = OrderCursor::of(&reads.orders[0]).encode();
    let forged = ["", "x", "not a cursor", &valid[1..], &format!("{valid}A")];
    for text in forged {
        let err = list_orders(&reads, &customer(), Some(5), Some(text))
            .await
            .unwrap_err();
        assert!(matches!(err, ListError::Cursor(_)), "{text:?}: {err:?}");
        assert_eq!(err.field(), Some("cursor"));
        assert!(err.to_string().contains("cursor"), "{err}");
    }
    assert!(reads.asked().is_empty());
}

#[tokio::test]
async fn following_next_visits_every_order_once_and_an_exactly_full_last_page_ends_the_listing() {
    let reads = memory(40);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = list_orders(&reads, &customer(), Some(20), cursor.as_deref())
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.orders);
        match page.next {
            Some(next) => cursor = Some(next.encode()),
            None => break,
        }
    }
    assert_eq!(
        pages, 2,
        "40 orders, 20 a page: the second page says it is the last"
    );
    let mut expected = reads.orders.clone();
    expected.sort_by(newest_first);
    assert_eq!(seen, expected);
    // The store was handed the decoded cursor of the first page's last order.
    assert_eq!(reads.asked()[1], (20, Some(OrderCursor::of(&expected[19]))));
}

#[test]
fn a_store_failure_is_no_parameter_s_fault() {
    let err = ListError::from(PortError("down".into()));
    assert_eq!(err.field(), None);
}

/// An OrderPlaced of every schema the log may hold is shown by its fields alone: the oldest
/// named the payment token `card`, and it must not show under that name either.
#[tokio::test]
async fn the_history_never_shows_a_payment_token_under_any_schemas_name() {
    use order_domain::RecordedEvent;
    use order_domain::envelope::{EventMeta, GENESIS_HASH};

    let id = OrderId::generate();
    let old = [
        (
            0,
            format!(
                r#"{{"orderId":"{id}","customerId":"c1","email":"jane@example.com","items":[{{"productId":"P1","quantity":2}}],"card":"tok_visa"}}"#
            ),
        ),
        (
            1,
            format!(
                r#"{{"orderId":"{id}","customerId":"c1","email":"jane@example.com","items":[{{"productId":"P1","quantity":2}}],"paymentToken":"tok_visa"}}"#
            ),
        ),
    ];
    for (schema, payload) in old {
        let record = RecordedEvent::seal(
            id.stream(),
            0,
            GENESIS_HASH,
            ("OrderPlaced", schema, payload),
            &EventMeta {
                correlation_id: "c".into(),
                causation_id: "c".into(),
                occurred_at: Timestamp::from_millis(0),
                trace_parent: None,
            },
        );
        // Clear (old) personal data opens without a key store.
        let shown = super::show_history(&crate::vault::NoKeys, id, vec![record])
            .await
            .unwrap();
        let text = shown[0].data.to_string();
        assert!(
            !text.contains("tok_visa") && !text.contains("jane@"),
            "{text}"
        );
        assert_eq!(shown[0].data["email"], "j***@example.com");
        assert_eq!(shown[0].data["items"][0]["productId"], "P1");
    }
}

#[tokio::test]
async fn a_known_product_is_remembered_and_an_unknown_one_asked_again() {
    let known = KnownProducts::default();
    let id = ProductId::parse("SKU-1").unwrap();
    let asked = std::sync::atomic::AtomicUsize::new(0);
    // Counted when awaited: a remembered yes never awaits its lookup.
    let lookup = |answer: Result<bool, PortError>| {
        let asked = &asked;
        async move {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            answer
        }
    };
    // A no and a failure are never kept: the product may be added, the store may recover.
    assert!(!known.exists(&id, lookup(Ok(false))).await.unwrap());
    assert!(
        known
            .exists(&id, lookup(Err(PortError("down".into()))))
            .await
            .is_err()
    );
    assert!(known.exists(&id, lookup(Ok(true))).await.unwrap());
    // A yes is: no more lookups, in this clone or another.
    assert!(known.exists(&id, lookup(Ok(false))).await.unwrap());
    assert!(known.clone().exists(&id, lookup(Ok(false))).await.unwrap());
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 3);
}
