//! Placement's own rules: scoped keys, fingerprints, leases and the product lookups.

use std::sync::atomic::{AtomicUsize, Ordering};

use order_domain::{ProductId, Quantity};
use order_read_models::{InventoryView, OrderCursor, OrderPage, OrderView};

use super::*;
use crate::query::StatusCounts;

#[test]
fn a_key_is_scoped_by_its_customer_without_ambiguity() {
    let a = CustomerId::parse("a:b").unwrap();
    let b = CustomerId::parse("a").unwrap();
    assert_ne!(scoped_key(&a, "k"), scoped_key(&b, "b:k"));
    assert_eq!(scoped_key(&b, "k"), scoped_key(&b, "k"));
}

#[test]
fn the_fingerprint_depends_on_the_customers_key_and_the_requests_meaning() {
    let request = PlaceOrder {
        customer_id: CustomerId::parse("c").unwrap(),
        email: Email::parse("jane@example.com").unwrap(),
        items: vec![],
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    };
    let k1 = DataKey {
        id: "1".into(),
        material: [1; 32],
    };
    let k2 = DataKey {
        id: "2".into(),
        material: [2; 32],
    };
    assert_eq!(request.fingerprint(&k1), request.clone().fingerprint(&k1));
    assert_ne!(request.fingerprint(&k1), request.fingerprint(&k2));
    let other = PlaceOrder {
        payment_token: PaymentToken::parse("tok_amex").unwrap(),
        ..request.clone()
    };
    assert_ne!(request.fingerprint(&k1), other.fingerprint(&k1));
}

/// Products in memory; each lookup yields once while it counts itself in flight.
#[derive(Default)]
struct Products {
    known: Vec<&'static str>,
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

impl ReadModels for Products {
    async fn get_order(&self, _: OrderId) -> Result<Option<OrderView>, PortError> {
        unreachable!("placement reads no order")
    }

    async fn get_inventory(&self, _: &ProductId) -> Result<Option<InventoryView>, PortError> {
        unreachable!("placement asks product_exists")
    }

    async fn list_orders(
        &self,
        _: &CustomerId,
        _: usize,
        _: Option<&OrderCursor>,
    ) -> Result<OrderPage, PortError> {
        unreachable!("placement lists nothing")
    }

    async fn count_by_status(&self) -> Result<StatusCounts, PortError> {
        unreachable!("placement counts nothing")
    }

    async fn product_exists(&self, id: &ProductId) -> Result<bool, PortError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(self.known.contains(&id.as_str()))
    }
}

fn lines(ids: &[&str]) -> Vec<OrderLine> {
    ids.iter()
        .map(|id| OrderLine {
            product_id: ProductId::parse(id).unwrap(),
            quantity: Quantity::new(1).unwrap(),
        })
        .collect()
}

#[tokio::test]
async fn an_orders_product_lookups_go_out_together() {
    let reads = Products {
        known: vec!["A", "B", "C"],
        ..Products::default()
    };
    check_products(&reads, &lines(&["A", "B", "C"]))
        .await
        .unwrap();
    assert_eq!(reads.most.load(Ordering::SeqCst), 3, "one lookup at a time");
}

#[tokio::test]
async fn the_first_unknown_product_by_line_is_named() {
    let reads = Products {
        known: vec!["A"],
        ..Products::default()
    };
    let err = check_products(&reads, &lines(&["A", "X", "Y"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PlaceError::UnknownProduct { index: 1, product_id } if product_id == "X"),
        "{err}"
    );
}

#[test]
fn a_claim_holds_its_key_until_the_request_deadline_or_the_default_lease() {
    let now = Timestamp::from_millis(1_000_000);
    let key = IdempotencyKey::new("k");
    assert_eq!(key.lease_ms(now), IDEMPOTENCY_LEASE_MS);
    let deadline = Timestamp::from_millis(1_007_250);
    assert_eq!(key.until(Some(deadline)).lease_ms(now), 7_250);
    let passed = Timestamp::from_millis(999_000);
    assert_eq!(
        key.until(Some(passed)).lease_ms(now),
        MIN_IDEMPOTENCY_LEASE_MS
    );
}
