//! `orders dlq` over the real binary, on each host: an order whose queue message was received
//! the maximum number of times without being handled (what a consumer that crashes mid-message
//! does) is dead-lettered, so the order stays PLACED; `dlq list` and `dlq show` find it, `dlq
//! redrive` puts it back, the running server's consumer then takes it and the order completes;
//! a second redrive of the same id sends nothing, and the redrive is logged as an operator
//! action.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use order_domain::OrderId;
use order_testkit::queue::{MAX_RECEIVES, dead_lettered_aws_order, dead_lettered_embedded_order};
use order_testkit::server::{Orders, Ran, bearer, get_json, token, wait_healthy, wait_terminal};
use serde_json::Value;

fn dlq(args: &[&str], env: &[(&str, String)]) -> Ran {
    Command::new(env!("CARGO_BIN_EXE_orders"))
        .arg("dlq")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "info")
        .output()
        .unwrap()
        .into()
}

fn seed(dir: &Path) -> std::path::PathBuf {
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }]"#,
    )
    .unwrap();
    seed
}

/// The one dead letter `list --json` shows, which must carry `order`'s message.
fn the_dead_letter(list: &Ran, order: OrderId) -> String {
    assert_eq!(list.code, 0, "{list}");
    let all: Value = serde_json::from_str(&list.stdout).unwrap_or_else(|e| panic!("{e}: {list}"));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1, "{list}");
    assert_eq!(
        all[0]["body"],
        format!(r#"{{"orderId":"{order}"}}"#),
        "{list}"
    );
    all[0]["id"].as_str().unwrap().to_owned()
}

/// Redrives `id` on a running server and checks the order then completes, once.
async fn redrive_and_complete(
    server: &Orders,
    data: &Path,
    order: OrderId,
    id: &str,
    env: &[(&str, String)],
    args: &[&str],
) {
    let client = bearer(reqwest::Client::builder(), &token(data, "customer-1", true))
        .build()
        .unwrap();
    wait_healthy(&client, &server.base, Duration::from_mins(2)).await;
    let url = server.url(&format!("/orders/{order}"));
    // The order's view shows it placed, and nothing moves it while its message is a dead letter.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while get_json(&client, &url).await["status"] != "PLACED" {
        assert!(
            std::time::Instant::now() < deadline,
            "the order's view never showed it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = get_json(&client, &url).await;
    assert_eq!(
        before["status"], "PLACED",
        "stuck while dead-lettered: {before}"
    );

    let redriven = dlq(&[args, &["redrive", id]].concat(), env);
    assert_eq!(redriven.code, 0, "{redriven}");
    assert!(
        redriven.stdout.contains(&format!("{id}: redriven")),
        "{redriven}"
    );
    assert!(redriven.stdout.contains("1 of 1 redriven"), "{redriven}");
    assert!(redriven.stderr.contains("operator action"), "{redriven}");
    assert!(redriven.stderr.contains("cli"), "{redriven}");

    let done = wait_terminal(
        &client,
        &server.base,
        &order.to_string(),
        Duration::from_mins(2),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED", "{done}");

    let again = dlq(&[args, &["redrive", "--json", id]].concat(), env);
    assert_eq!(again.code, 0, "{again}");
    let outcome: Value =
        serde_json::from_str(&again.stdout).unwrap_or_else(|e| panic!("{e}: {again}"));
    assert_eq!(outcome[0]["outcome"], "not_dead_lettered", "{again}");
    let empty = dlq(&[args, &["list"]].concat(), env);
    assert!(empty.stdout.contains("no dead letters"), "{empty}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_dead_letter_is_listed_shown_and_redriven_and_its_order_then_completes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = seed(dir.path());
    let data_arg = data.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_orders");
    // The sweeper would push a stuck PLACED order through by itself: not within this test.
    let extra = ["--redrive-after-secs", "3600"];

    let missing = dlq(&["list", "--data-dir", data_arg], &[]);
    assert!(missing.stderr.contains("no database"), "{missing}");

    // A first run creates the database and the stock; then the order, placed while no server
    // runs, whose message a failing consumer gives up on.
    let first = Orders::serve(
        bin,
        &data,
        &seed,
        &dir.path().join("serve1.log"),
        &extra,
        &[],
    );
    wait_healthy(&reqwest::Client::new(), &first.base, Duration::from_mins(1)).await;
    drop(first);
    let order = dead_lettered_embedded_order(&data).await;

    let args = ["--data-dir", data_arg];
    let id = the_dead_letter(
        &dlq(&["list", "--json", "--data-dir", data_arg], &[]),
        order,
    );
    let text = dlq(&["list", "--data-dir", data_arg], &[]);
    assert!(
        text.stdout
            .contains(&format!("{id}  receives {MAX_RECEIVES}")),
        "{text}"
    );
    let shown = dlq(&["show", &id, "--data-dir", data_arg], &[]);
    assert_eq!(shown.code, 0, "{shown}");
    assert!(
        shown
            .stdout
            .contains("OrdersDeadLetterQueue (source OrdersQueue)"),
        "{shown}"
    );
    assert!(shown.stdout.contains(&order.to_string()), "{shown}");
    let unknown = dlq(&["show", "424242", "--data-dir", data_arg], &[]);
    assert_eq!(unknown.code, 1, "{unknown}");

    let second = Orders::serve(
        bin,
        &data,
        &seed,
        &dir.path().join("serve2.log"),
        &extra,
        &[],
    );
    redrive_and_complete(&second, &data, order, &id, &[], &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_dead_letter_is_listed_shown_and_redriven_and_its_order_then_completes() {
    let Some(env) = order_testkit::support::emulator(
        "an_sqs_dead_letter_is_listed_shown_and_redriven_and_its_order_then_completes",
    )
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = seed(dir.path());
    let r = &env.resources;
    let vars = r.env_pairs();

    // The order, placed while no consumer runs, whose message a failing consumer gives up on:
    // SQS's redrive policy moves it to OrdersDeadLetterQueue.
    let order = dead_lettered_aws_order(&env).await;

    let args = ["--backend", "aws"];
    let id = the_dead_letter(&dlq(&["list", "--json", "--backend", "aws"], &vars), order);
    let shown = dlq(&["show", &id, "--backend", "aws"], &vars);
    assert_eq!(shown.code, 0, "{shown}");
    assert!(
        shown.stdout.contains("OrdersDeadLetterQueue (source "),
        "{shown}"
    );
    assert!(shown.stdout.contains(&order.to_string()), "{shown}");
    let unknown = dlq(&["show", "no-such-message", "--backend", "aws"], &vars);
    assert_eq!(unknown.code, 1, "{unknown}");

    let serve_env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed,
        &dir.path().join("serve.log"),
        &["--backend", "aws", "--redrive-after-secs", "3600"],
        &serve_env,
    );
    redrive_and_complete(&server, &data, order, &id, &vars, &args).await;
}
