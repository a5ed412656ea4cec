//! Scenario 3: `GET /orders` pages a customer's 50 orders (another customer's interleaved)
//! newest first, each once, by its `next` cursor; its parameters are checked; only an operator
//! names another customer.

use std::collections::{HashMap, HashSet};

use reqwest::StatusCode;
use serde_json::Value;

use crate::host::{Host, body};

const JANES: usize = 50;

/// The server must run with `--rate-limit off`: this places 60-odd orders as fast as it can.
pub async fn listing_pages_a_customers_orders_newest_first(host: &Host) {
    let jane = host.token("jane", Some("jane@example.com"), false);
    let bob = host.token("bob", Some("bob@example.com"), false);
    let ops = host.token("ops-1", None, true);

    // 50 of jane's, one of bob's after every fourth of hers.
    let mut posted = Vec::new();
    let mut bobs = HashSet::new();
    for n in 0..JANES {
        posted.push(host.post(&jane, &body(None), None).await.order_id());
        if n % 4 == 3 {
            bobs.insert(host.post(&bob, &body(None), None).await.order_id());
        }
    }
    let everything = host.wait_listed(&jane, "", JANES).await;
    assert_eq!(everything.len(), JANES);
    host.wait_listed(&bob, "", bobs.len()).await;

    // limit=7, following `next` to the end.
    let mut seen = Vec::new();
    let mut path = "/orders?limit=7".to_owned();
    let mut pages = 0;
    loop {
        let a = host.get(&path, &jane).await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        let orders = a.body["orders"].as_array().unwrap();
        pages += 1;
        assert!(orders.len() <= 7, "{a:?}");
        seen.extend(orders.iter().cloned());
        match a.body["next"].as_str() {
            Some(next) => {
                assert_eq!(orders.len(), 7, "only the last page is short: {a:?}");
                path = format!("/orders?limit=7&cursor={next}");
            }
            None => break,
        }
        assert!(pages <= JANES, "the cursor never ends");
    }
    assert_eq!(pages, JANES.div_ceil(7), "{seen:?}");
    assert_newest_first_once_each(&seen, &posted);
    assert_eq!(
        ids(&seen),
        ids(&everything),
        "the pages join up into the whole listing"
    );

    // The default page is 20, the newest.
    let a = host.get("/orders", &jane).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(ids(a.body["orders"].as_array().unwrap()), ids(&seen[..20]));
    assert!(a.body["next"].is_string(), "{a:?}");

    // Refused parameters name their field.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("limit=5&cursor=AAAA%21%21", "cursor"),
        ("customerId=", "customerId"),
    ] {
        let a = host.get(&format!("/orders?{query}"), &jane).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {a:?}");
        assert_eq!(a.body["error"]["field"], field, "{query}: {a:?}");
    }

    // Naming a customer: another one is an operator's business only.
    let a = host.get("/orders?customerId=bob", &jane).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");
    assert_eq!(a.body["error"]["code"], "FORBIDDEN", "{a:?}");
    let own = host.get("/orders?customerId=jane&limit=100", &jane).await;
    assert_eq!(ids(own.body["orders"].as_array().unwrap()), ids(&seen));
    let theirs = host.get("/orders?customerId=jane&limit=100", &ops).await;
    assert_eq!(theirs.status, StatusCode::OK, "{theirs:?}");
    assert_eq!(ids(theirs.body["orders"].as_array().unwrap()), ids(&seen));
    assert!(theirs.body["next"].is_null(), "{theirs:?}");
    let listed_bobs = host.get("/orders?customerId=bob", &ops).await;
    let listed_bobs: HashSet<String> = ids(listed_bobs.body["orders"].as_array().unwrap())
        .into_iter()
        .collect();
    assert_eq!(listed_bobs, bobs);
    host.assert_nothing_leaked();
}

fn ids(orders: &[Value]) -> Vec<String> {
    orders
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect()
}

/// `seen` holds each of `posted` (jane's, in the order she placed them) exactly once, no one
/// else's, newest first: placed-at descending, then order id descending; an order placed
/// later is never listed after an earlier one with a different placed-at.
fn assert_newest_first_once_each(seen: &[Value], posted: &[String]) {
    let listed = ids(seen);
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "an order listed twice");
    let mut want = posted.to_vec();
    let mut got = listed.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "every order of hers and no one else's");
    assert!(seen.iter().all(|o| o["customerId"] == "jane"));
    let position: HashMap<&String, usize> =
        posted.iter().enumerate().map(|(i, id)| (id, i)).collect();
    for pair in seen.windows(2) {
        let key = |o: &Value| {
            (
                o["placedAt"].as_str().unwrap().to_owned(),
                o["orderId"].as_str().unwrap().to_owned(),
            )
        };
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        assert!(a > b, "not newest first: {a:?} then {b:?}");
        if a.0 != b.0 {
            assert!(
                position[&a.1] > position[&b.1],
                "{a:?} was placed before {b:?}"
            );
        }
    }
}
