use std::sync::Arc;

use order_testkit::events::seed_product as product;
use order_testkit::server::order_body;
use order_tests::spawn_pipeline;
use reqwest::StatusCode;

/// A flash sale: sixty concurrent orders for a product with 7 in stock. Exactly 7 complete,
/// the stock ends at 0 and never went below, and every other order failed with its reason
/// (and a refund wherever a payment had been captured).
#[tokio::test]
async fn a_flash_sale_completes_exactly_the_stock_and_never_oversells() {
    let app =
        Arc::new(spawn_pipeline(vec![product("HOT", 1000, 7), product("MUG", 900, 1000)]).await);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let items: &[(&str, i64)] = if i % 3 == 0 {
                &[("HOT", 1), ("MUG", 1)]
            } else {
                &[("HOT", 1)]
            };
            let a = app.post_order(&order_body(items, "tok_visa")).await;
            assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
            a.body["orderId"].as_str().unwrap().to_owned()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let mut completed = 0;
    let mut mugs = 0;
    for id in &ids {
        let done = app.wait_terminal(id).await;
        let types = app.event_types(id).await;
        assert_eq!(types.iter().filter(|t| *t == "OrderPlaced").count(), 1);
        if done["status"] == "COMPLETED" {
            completed += 1;
            mugs += done["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["productId"] == "MUG")
                .count();
        } else {
            let reason = done["reason"].as_str().unwrap();
            assert!(reason == "REJECTED" || reason == "OUT_OF_STOCK", "{done}");
            if types.iter().any(|t| t == "PaymentCaptured") {
                assert!(
                    types.iter().any(|t| t == "PaymentRefunded"),
                    "captured then failed must refund: {types:?}"
                );
            }
        }
    }
    assert_eq!(completed, 7);
    assert_eq!(app.available("HOT").await, 0);
    assert_eq!(app.available("MUG").await, 1000 - mugs as u64);
}
