use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use order_domain::ProductId;

use super::*;
use crate::InventoryView;

/// A view store in memory with the version guard every store has, counting its reads.
#[derive(Default)]
struct Rows {
    rows: Mutex<HashMap<String, InventoryView>>,
    gets: AtomicUsize,
}

impl ViewStore<InventoryView> for Rows {
    async fn get(&self, key: &str) -> Result<Option<InventoryView>, PortError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        Ok(self.rows.lock().unwrap().get(key).cloned())
    }

    async fn put(&self, view: &InventoryView) -> Result<ViewWrite, PortError> {
        let mut rows = self.rows.lock().unwrap();
        let key = view.row_key();
        if rows.get(&key).is_some_and(|v| v.version >= view.version) {
            return Ok(ViewWrite::Stale);
        }
        rows.insert(key, view.clone());
        Ok(ViewWrite::Written)
    }
}

fn view(product: &str, version: u64) -> InventoryView {
    InventoryView {
        product_id: ProductId::parse(product).unwrap(),
        name: "Widget".into(),
        price: order_domain::Money::from_minor(100),
        available: 100 - version,
        updated_at: order_domain::Timestamp::now(),
        version,
    }
}

#[tokio::test]
async fn a_view_it_wrote_is_not_read_back() {
    let views = Remembered::new(Rows::default());
    assert_eq!(
        views.put(&view("SKU-1", 1)).await.unwrap(),
        ViewWrite::Written
    );
    assert_eq!(
        views.get("SKU-1").await.unwrap(),
        Some(view_like(&views, "SKU-1"))
    );
    assert_eq!(views.inner().gets.load(Ordering::Relaxed), 0);
    // A key it never saw is read from the store, and then remembered.
    views.inner().put(&view("SKU-2", 4)).await.unwrap();
    assert_eq!(views.get("SKU-2").await.unwrap().unwrap().version, 4);
    assert_eq!(views.get("SKU-2").await.unwrap().unwrap().version, 4);
    assert_eq!(views.inner().gets.load(Ordering::Relaxed), 1);
}

/// The remembered view as stored (same product, same version).
fn view_like(views: &Remembered<Rows, InventoryView>, key: &str) -> InventoryView {
    views
        .inner()
        .rows
        .lock()
        .unwrap()
        .get(key)
        .cloned()
        .unwrap()
}

/// A rival moved the row past the remembered view: the stale answer's write is refused, the
/// memory forgets the key, and the next read is the row's.
#[tokio::test]
async fn a_row_moved_by_a_rival_is_read_again_after_the_refused_write() {
    let views = Remembered::new(Rows::default());
    views.put(&view("SKU-1", 1)).await.unwrap();
    views.inner().put(&view("SKU-1", 2)).await.unwrap();
    assert_eq!(views.get("SKU-1").await.unwrap().unwrap().version, 1);
    assert_eq!(
        views.put(&view("SKU-1", 2)).await.unwrap(),
        ViewWrite::Stale
    );
    assert_eq!(views.remembered(), 0);
    assert_eq!(views.get("SKU-1").await.unwrap().unwrap().version, 2);
    assert_eq!(views.inner().gets.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn memory_is_bounded_by_two_generations() {
    let views = Remembered::with_capacity(Rows::default(), 2);
    for i in 0..10 {
        views.put(&view(&format!("SKU-{i}"), 1)).await.unwrap();
        assert!(views.remembered() <= 4);
    }
    // The newest are remembered, the oldest read from the store again.
    views.get("SKU-9").await.unwrap();
    assert_eq!(views.inner().gets.load(Ordering::Relaxed), 0);
    views.get("SKU-0").await.unwrap();
    assert_eq!(views.inner().gets.load(Ordering::Relaxed), 1);
}

/// Two runs of one stream finishing out of order never move the remembered view back.
#[test]
fn a_remembered_view_never_moves_back() {
    let memory = ViewMemory::with_capacity(8);
    memory.remember(view("SKU-1", 3));
    memory.remember(view("SKU-1", 2));
    assert_eq!(memory.get("SKU-1").unwrap().version, 3);
}

/// A view taken out is no longer remembered: a step that takes it and fails to write leaves
/// the key to be read from the row; the written view given back is remembered again.
#[test]
fn a_taken_view_is_forgotten_until_it_is_given_back() {
    let memory = ViewMemory::with_capacity(2);
    for i in 0..3 {
        memory.remember(view(&format!("SKU-{i}"), 1));
    }
    // SKU-0 and SKU-1 are in the previous generation, SKU-2 in the current one.
    assert_eq!(memory.take("SKU-0").map(|v| v.version), Some(1));
    assert_eq!(memory.take("SKU-2").map(|v| v.version), Some(1));
    assert!(memory.take("SKU-0").is_none());
    assert_eq!(memory.len(), 1);
    memory.remember(view("SKU-2", 2));
    assert_eq!(memory.get("SKU-2").map(|v| v.version), Some(2));
    memory.forget("SKU-1");
    assert_eq!(memory.len(), 1);
}
