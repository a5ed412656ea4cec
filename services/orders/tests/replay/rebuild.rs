//! A corrupted read-model row makes replay exit 1 and `--rebuild` repairs it, also while the
//! server keeps taking orders.

use order_testkit::server::{CUSTOMER, bearer, post_order, token};

use crate::run::{Copy, config, finished, replay_in, run};

#[test]
fn a_corrupted_read_model_row_makes_replay_exit_1_and_rebuild_repairs_it() {
    let copy = Copy::new();
    let id = &run().completed;
    copy.sql(&format!(
        "UPDATE order_status SET status = 'PAID', view = replace(view, '\"COMPLETED\"', '\"PAID\"') \
         WHERE order_id = '{id}'"
    ));
    let r = copy.replay(&[]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains(&format!("order-status {id}")), "{r}");
    assert!(r.stdout.contains("status: live PAID, log COMPLETED"), "{r}");
    let fixed = copy.replay(&["--rebuild"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    assert!(fixed.stdout.contains("rebuild: wrote 1 row"), "{fixed}");
    let after = copy.replay(&["--verify"]);
    assert_eq!(after.code, 0, "{after}");
}

/// A rebuild beside a server that keeps taking orders: the corrupted row is repaired, no row
/// is regressed, and afterwards the log and the read models still agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_while_the_server_runs_repairs_without_losing_updates() {
    let copy = Copy::new();
    let server = orders::serve(config(copy.data()), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let token = token(copy.data(), CUSTOMER, false);
    let client = bearer(reqwest::Client::builder(), &token).build().unwrap();
    let id = run().declined.clone();
    copy.sql(&format!(
        "UPDATE order_status SET view = replace(view, 'declined', 'accepted') WHERE order_id = '{id}'"
    ));
    let data = copy.data().to_owned();
    let rebuild = tokio::task::spawn_blocking(move || replay_in(&data, &["--rebuild"]));
    let mut placed = Vec::new();
    for _ in 0..10 {
        placed.push(post_order(&client, &base, &[("MUG", 1)], "tok_visa").await);
    }
    let r = rebuild.await.unwrap();
    assert_eq!(r.code, 0, "{r}");
    for id in &placed {
        assert_eq!(finished(&client, &base, id).await, "COMPLETED");
    }
    server.shutdown().await;
    let after = copy.replay(&["--verify"]);
    assert_eq!(after.code, 0, "{after}");
    assert!(after.stdout.contains("(17 orders, 4 products)"), "{after}");
}
