//! The console over the real binary, on each host: the page is public, its JSON routes are an
//! operator's (401 without a token, 403 for a customer's); with completed, failed and
//! dead-lettered orders the counts add up, the latest emails name the orders and never an
//! address, and a redrive through `POST /admin/dead-letters/redrive` empties the dead letters
//! and the order then completes (a second redrive of the same id sends nothing).
//!
//! [`browser`] drives the page itself in headless Chromium (`scripts/test.sh` runs it).

mod browser;

use std::path::Path;
use std::time::{Duration, Instant};

use order_domain::OrderId;
use order_testkit::queue::{dead_lettered_aws_order, dead_lettered_embedded_order};
use order_testkit::server::{
    CUSTOMER, Orders, bearer, get_json, post_order, token, wait_healthy, wait_terminal,
};
use serde_json::{Value, json};

fn seed(dir: &Path) -> std::path::PathBuf {
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 100 }]"#,
    )
    .unwrap();
    seed
}

/// The sweeper would push a stuck PLACED order through by itself: not within these tests.
/// No sweeps during a test, and a sample a second so the charts fill quickly.
const NO_SWEEP: [&str; 4] = ["--redrive-after-secs", "3600", "--monitor-period", "1"];

/// An embedded server over a data directory holding one dead-lettered order (placed while no
/// server ran, its message given up on), and that order's id.
async fn embedded_with_a_dead_letter(dir: &Path) -> (Orders, OrderId) {
    let data = dir.join("data");
    let seed = seed(dir);
    let bin = env!("CARGO_BIN_EXE_orders");
    let first = Orders::serve(bin, &data, &seed, &dir.join("serve1.log"), &NO_SWEEP, &[]);
    wait_healthy(&reqwest::Client::new(), &first.base, Duration::from_mins(1)).await;
    drop(first);
    let order = dead_lettered_embedded_order(&data).await;
    let server = Orders::serve(bin, &data, &seed, &dir.join("serve2.log"), &NO_SWEEP, &[]);
    wait_healthy(
        &reqwest::Client::new(),
        &server.base,
        Duration::from_mins(2),
    )
    .await;
    (server, order)
}

/// Clients of `data`'s issuer: the operator and the customer of `post_order`.
fn clients(data: &Path) -> (reqwest::Client, reqwest::Client) {
    let client = |t: &str| bearer(reqwest::Client::builder(), t).build().unwrap();
    (
        client(&token(data, "operator-1", true)),
        client(&token(data, CUSTOMER, false)),
    )
}

/// Places two orders that complete and one that fails; returns their ids once finished.
async fn place_finished(server: &Orders, customer: &reqwest::Client) -> Vec<String> {
    let mut ids = Vec::new();
    for payment in ["tok_visa", "tok_visa", "tok_decline"] {
        ids.push(post_order(customer, &server.base, &[("MUG", 1)], payment).await);
    }
    for id in &ids {
        wait_terminal(customer, &server.base, id, Duration::from_mins(2)).await;
    }
    ids
}

/// Polls `url` until `done` holds of its JSON, which it returns; panics after a minute.
async fn eventually(client: &reqwest::Client, url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let v = get_json(client, url).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{url} never got there: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_of(client: &reqwest::Client, url: &str) -> u16 {
    client.get(url).send().await.unwrap().status().as_u16()
}

async fn redrive(admin: &reqwest::Client, server: &Orders, body: Value) -> Value {
    let r = admin
        .post(server.url("/admin/dead-letters/redrive"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

/// Who may see what, then the counts, emails and dead letters as above.
async fn the_console_routes_work(server: &Orders, data: &Path, dead: OrderId) {
    let (admin, customer) = clients(data);
    let anonymous = reqwest::Client::new();
    let page = anonymous.get(server.url("/console")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("console.js"));
    for route in [
        "/admin/orders/counts",
        "/admin/emails",
        "/admin/dead-letters",
    ] {
        assert_eq!(
            status_of(&anonymous, &server.url(route)).await,
            401,
            "{route}"
        );
        assert_eq!(
            status_of(&customer, &server.url(route)).await,
            403,
            "{route}"
        );
    }

    let ids = place_finished(server, &customer).await;
    let counts = eventually(&admin, &server.url("/admin/orders/counts"), |v| {
        v["total"] == 4
    })
    .await;
    let expected = json!({"COMPLETED": 2, "FAILED": 1, "PLACED": 1});
    for (status, n) in expected.as_object().unwrap() {
        assert_eq!(&counts["counts"][status], n, "{counts}");
    }
    let emails = eventually(&admin, &server.url("/admin/emails"), |v| {
        ids.iter().all(|id| {
            v["emails"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["orderId"] == **id)
        })
    })
    .await;
    let text = emails.to_string();
    assert!(!text.contains('@'), "no address is shown: {text}");
    assert!(text.contains("OrderAlertsTopic"), "{text}");

    let letters = get_json(&admin, &server.url("/admin/dead-letters")).await;
    let letters = letters["deadLetters"].as_array().unwrap().clone();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["orderId"], dead.to_string());
    let id = letters[0]["id"].as_str().unwrap().to_owned();
    let done = redrive(&admin, server, json!({ "ids": [id] })).await;
    assert_eq!(
        done,
        json!({"redriven": [{"id": id, "outcome": "redriven"}]})
    );
    let again = redrive(&admin, server, json!({ "ids": [id] })).await;
    assert_eq!(
        again["redriven"][0]["outcome"], "not_dead_lettered",
        "{again}"
    );
    let view = wait_terminal(
        &admin,
        &server.base,
        &dead.to_string(),
        Duration::from_mins(2),
    )
    .await;
    assert_eq!(view["status"], "COMPLETED", "{view}");
    let empty = get_json(&admin, &server.url("/admin/dead-letters")).await;
    assert_eq!(empty, json!({"deadLetters": []}));
    // The monitor samples once a period (1 s here): its series fills within a few.
    eventually(&admin, &server.url("/admin/series"), |series| {
        series["samples"].as_array().is_some_and(|s| !s.is_empty())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_on_the_embedded_host() {
    let dir = tempfile::tempdir().unwrap();
    let (server, dead) = embedded_with_a_dead_letter(dir.path()).await;
    the_console_routes_work(&server, &dir.path().join("data"), dead).await;
    let log = std::fs::read_to_string(dir.path().join("serve2.log")).unwrap();
    assert!(log.contains("operator action"), "the redrive is logged");
    assert!(log.contains("console:operator-1"), "as the operator's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_on_the_aws_host() {
    let Some(env) = order_testkit::support::emulator("the_console_on_the_aws_host").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let r = &env.resources;
    let order = dead_lettered_aws_order(&env).await;
    let vars = r.env_pairs();
    let serve_env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed(dir.path()),
        &dir.path().join("serve.log"),
        &[
            "--backend",
            "aws",
            "--redrive-after-secs",
            "3600",
            "--monitor-period",
            "1",
        ],
        &serve_env,
    );
    wait_healthy(
        &reqwest::Client::new(),
        &server.base,
        Duration::from_mins(2),
    )
    .await;
    the_console_routes_work(&server, &data, order).await;
}
