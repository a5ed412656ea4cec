//! Ownership: the customer is the token's, a foreign customerId is 403, another customer's
//! order and its history are 404 exactly like an unknown id, an operator sees any order.

use reqwest::StatusCode;
use serde_json::json;

use crate::{Rig, body};

const UNKNOWN: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

#[tokio::test]
async fn orders_belong_to_their_customer_and_an_operator_sees_them_all() {
    let rig = Rig::start(&[]).await;
    let jane = rig.cli_token("cust-42", &["--email", "jane@example.com"]);
    let other = rig.cli_token("cust-7", &[]);
    let ops = rig.cli_token("ops-1", &["--admin", "--ttl", "10m"]);

    // No customerId and no email in the body: both come from the token.
    let placed = rig.post(&jane, &body(None)).await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{placed:?}");
    let id = placed.body["orderId"].as_str().unwrap().to_owned();
    let view = rig.get(&format!("/orders/{id}"), &jane).await;
    assert_eq!(view.status, StatusCode::OK, "{view:?}");
    assert_eq!(view.body["customerId"], "cust-42");
    let before = rig.placed_orders();

    // A body naming another customer: 403, whoever asks (an operator too), nothing appended.
    let mut foreign = body(Some("x@example.com"));
    foreign["customerId"] = json!("cust-42");
    for token in [&other, &ops] {
        let a = rig.post(token, &foreign).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");
        assert_eq!(a.body["error"]["code"], "FORBIDDEN");
        assert_eq!(a.body["error"]["field"], "customerId");
    }
    // The caller's own id in the body is fine; no email in the body or the token is not.
    let mut own = body(None);
    own["customerId"] = json!("cust-7");
    let a = rig.post(&other, &own).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{a:?}");
    assert_eq!(a.body["error"]["field"], "email");
    assert_eq!(rig.placed_orders(), before, "nothing appended");

    // Another customer: the order and its history answer exactly as an unknown id does.
    for suffix in ["", "/events"] {
        let theirs = rig.get(&format!("/orders/{id}{suffix}"), &other).await;
        let unknown = rig.get(&format!("/orders/{UNKNOWN}{suffix}"), &other).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{theirs:?}");
        assert_eq!(
            (theirs.status, &theirs.text),
            (unknown.status, &unknown.text)
        );
        let mine = rig.get(&format!("/orders/{id}{suffix}"), &jane).await;
        assert_eq!(mine.status, StatusCode::OK, "{mine:?}");
        let admin = rig.get(&format!("/orders/{id}{suffix}"), &ops).await;
        assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    }

    // The caller's own order placed with the body's customerId and email.
    let mut explicit = body(Some("seven@example.com"));
    explicit["customerId"] = json!("cust-7");
    let a = rig.post(&other, &explicit).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{a:?}");
    let theirs = a.body["orderId"].as_str().unwrap();
    assert_eq!(
        rig.get(&format!("/orders/{theirs}"), &jane).await.status,
        StatusCode::NOT_FOUND
    );
}
