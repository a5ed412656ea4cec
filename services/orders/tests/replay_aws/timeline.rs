//! One order's timeline (`--order`), the read models as of an instant (`--as-of`), and replay
//! refusing to start without its tables named.

use std::process::Command;

use order_domain::{OrderId, Timestamp};
use order_testkit::emulator_or_skip;
use order_testkit::server::Ran;

use crate::aws::Aws;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_as_of_before_an_orders_completion_shows_it_unfinished() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_as_of_before_an_orders_completion_shows_it_unfinished"
    ));
    let run = aws.projected_run().await;
    let id = run.completed.to_string();
    let completed_at = aws
        .events(&run.completed.stream())
        .await
        .iter()
        .find(|e| e.event_type == "OrderCompleted")
        .unwrap()
        .occurred_at;
    let before = Timestamp::from_millis(completed_at.as_millis() - 1).to_rfc3339();
    let then = aws.replay(&["--order", &id, "--as-of", &before]);
    then.assert_shows_an_unfinished_order();
    let now = aws.replay(&["--order", &id, "--verify"]);
    assert_eq!(now.code, 0, "{now}");
    assert!(now.stdout.contains("state now: COMPLETED"), "{now}");
    assert!(now.stdout.contains("live row: matches the log"), "{now}");
    let oos = aws.replay(&["--order", &run.out_of_stock.to_string()]);
    for expected in [
        "status VALIDATED→PAID",
        "LAST: 1 requested, 0 available",
        "state now: FAILED (OUT_OF_STOCK)",
    ] {
        assert!(oos.stdout.contains(expected), "{expected} missing:\n{oos}");
    }
    // The whole read models then: this order was not yet complete.
    let all = aws.replay(&["--as-of", &before]);
    assert_eq!(all.code, 0, "{all}");
    assert!(all.stdout.contains(&format!("as of {before}")), "{all}");
    assert!(all.stdout.contains("inventory then:"), "{all}");
    let unknown = aws.replay(&["--order", &OrderId::generate().to_string()]);
    assert_eq!(unknown.code, 4, "{unknown}");
    assert!(unknown.stderr.contains("no order"), "{unknown}");
    aws.drop_tables().await;
}

/// Needs no emulator: the contract's variables are checked before anything is read.
#[test]
fn aws_replay_without_its_tables_named_exits_4_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["replay", "--backend", "aws"])
        .env_remove("EVENTS_TABLE")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let r = Ran::from(out);
    assert_eq!(r.code, 4, "{r}");
    assert!(r.stderr.contains("EVENTS_TABLE"), "{r}");
    let bad = Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["replay", "--backend", "aws", "--segments", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
