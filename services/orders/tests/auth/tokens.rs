//! Every kind of bad token, against a server that is its own issuer: 401 on the order routes,
//! never an echo of the token, nothing appended; the public routes stay open.

use order_api::auth::Issuer;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{Rig, assert_unauthorized, body};

/// Every bad token is a 401 on POST (nothing appended), on the order reads and on the routes
/// after placement (nothing appended either).
#[tokio::test]
async fn every_kind_of_bad_token_is_401_and_nothing_is_appended() {
    let rig = Rig::start(&[]).await;
    let good = rig.cli_token("cust-42", &["--email", "jane@example.com"]);
    let placed = rig.post(&good, &body(None)).await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{placed:?}");
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let before = rig.placed_orders();
    let server_key = Issuer::load_or_create(&rig.data()).unwrap();

    for (what, token) in order_testkit::forged::bad_tokens(&server_key, "cust-42") {
        let a = rig.post(&token, &body(Some("jane@example.com"))).await;
        assert_unauthorized(&a, true, &token, what);
        for path in [format!("/orders/{id}"), format!("/orders/{id}/events")] {
            assert_unauthorized(&rig.get(&path, &token).await, true, &token, what);
        }
        // The routes after placement, with bodies that would be accepted.
        let bearer = format!("Bearer {token}");
        for (path, after) in [
            ("cancel", json!({ "reason": "x" })),
            ("shipment", json!({ "carrier": "UPS", "trackingId": "1Z" })),
            (
                "refunds",
                json!({ "items": [{ "productId": "MUG", "quantity": 1 }], "restock": true }),
            ),
        ] {
            let path = format!("/orders/{id}/{path}");
            let a = rig
                .send(Method::POST, &path, Some(&bearer), Some(&after))
                .await;
            assert_unauthorized(&a, true, &token, what);
        }
    }
    let history = rig.get(&format!("/orders/{id}/events"), &good).await;
    let after_placement = ["CancellationRequested", "OrderShipped", "RefundRequested"];
    assert!(
        history.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !after_placement.contains(&e["type"].as_str().unwrap_or_default())),
        "{history:?}"
    );
    let b = body(Some("jane@example.com"));
    for (what, auth) in [
        ("no Authorization header", None),
        ("Basic scheme", Some("Basic Y3VzdC00MjpwYXNzd29yZA==")),
        ("Bearer without a token", Some("Bearer ")),
    ] {
        for (method, path) in [(Method::POST, "/orders"), (Method::POST, "/")] {
            let a = rig.send(method, path, auth, Some(&b)).await;
            assert_unauthorized(&a, false, "", what);
        }
        let a = rig
            .send(Method::GET, &format!("/orders/{id}"), auth, None)
            .await;
        assert_unauthorized(&a, false, "", what);
    }
    // A token in another header is no token.
    let a = rig
        .send(Method::POST, "/orders", Some(&good), Some(&b))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(rig.placed_orders(), before, "nothing appended");

    // The public routes need no token; the good one still works after all that.
    for path in ["/health", "/inventory/MUG"] {
        let a = rig.send(Method::GET, path, None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {a:?}");
    }
    assert_eq!(
        rig.get(&format!("/orders/{id}"), &good).await.status,
        StatusCode::OK
    );
}
