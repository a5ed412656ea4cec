//! Read-model rows that differ from the log: a corrupted row, a row the projector has not
//! caught up yet (pending within the lag allowance), a row the log does not justify and a
//! missing one; `--rebuild` repairs them.

use std::collections::HashMap;

use order_domain::OrderId;
use order_replay::dynamo::aws_sdk_dynamodb::types::AttributeValue;
use order_testkit::emulator_or_skip;

use crate::aws::{Aws, s};
use crate::run::mixed_run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_corrupted_order_status_row_makes_replay_exit_1_and_rebuild_repairs_it() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_a_corrupted_order_status_row_makes_replay_exit_1_and_rebuild_repairs_it"
    ));
    let run = aws.projected_run().await;
    let id = run.completed.to_string();
    let table = &aws.resources.order_status_table;
    let row = aws
        .clients
        .dynamodb()
        .get_item()
        .table_name(table)
        .key("orderId", s(&id))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let view = row["view"]
        .as_s()
        .unwrap()
        .replace("\"COMPLETED\"", "\"PAID\"");
    aws.clients
        .dynamodb()
        .update_item()
        .table_name(table)
        .key("orderId", s(&id))
        .update_expression("SET #st = :st, #v = :view")
        .expression_attribute_names("#st", "status")
        .expression_attribute_names("#v", "view")
        .expression_attribute_values(":st", s("PAID"))
        .expression_attribute_values(":view", s(&view))
        .send()
        .await
        .unwrap();
    let r = aws.replay(&[]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains(&format!("order-status {id}")), "{r}");
    assert!(r.stdout.contains("status: live PAID, log COMPLETED"), "{r}");
    assert!(
        r.stdout.contains("column status: live PAID, log COMPLETED"),
        "{r}"
    );
    let fixed = aws.replay(&["--rebuild"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    assert!(
        fixed.stdout.contains("rebuild: wrote 1 row, deleted 0"),
        "{fixed}"
    );
    let after = aws.replay(&["--verify"]);
    assert_eq!(after.code, 0, "{after}");
    assert!(after.stdout.contains("read models: match"), "{after}");
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_row_behind_the_log_is_pending_within_the_lag_allowance_then_differs() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_a_row_behind_the_log_is_pending_within_the_lag_allowance_then_differs"
    ));
    let run = mixed_run(&aws.store).await;
    // The projector has not applied the completed order's last event yet.
    let stream = run.completed.stream();
    aws.project(&run, Some((&stream, 1))).await;
    let head = aws.events(&stream).await.len();
    let r = aws.replay(&[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .contains("pending: 1 event not yet applied by the live projections"),
        "{r}"
    );
    let order = aws.replay(&["--order", &run.completed.to_string()]);
    assert_eq!(order.code, 0, "{order}");
    assert!(order.stdout.contains("pending: 1 events"), "{order}");
    // With no allowance the row should be at the head: it differs.
    let strict = aws.replay(&["--lag-allowance", "0"]);
    assert_eq!(strict.code, 1, "{strict}");
    assert!(
        strict.stdout.contains(&format!(
            "order-status {}: live version {}, log version {head}",
            run.completed,
            head - 1
        )),
        "{strict}"
    );
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_rebuild_deletes_an_unjustified_row_and_restores_a_missing_one() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_rebuild_deletes_an_unjustified_row_and_restores_a_missing_one"
    ));
    aws.projected_run().await;
    let ghost = OrderId::generate().to_string();
    aws.put_item(
        &aws.resources.order_status_table,
        HashMap::from([
            ("orderId".to_owned(), s(&ghost)),
            ("status".to_owned(), s("COMPLETED")),
            ("version".to_owned(), AttributeValue::N("5".into())),
            ("updatedAt".to_owned(), AttributeValue::N("1".into())),
            ("view".to_owned(), s("{}")),
        ]),
    )
    .await;
    aws.delete_item(
        &aws.resources.inventory_table,
        HashMap::from([("ProductID".to_owned(), s("TEE"))]),
    )
    .await;
    let r = aws.replay(&["--lag-allowance", "0"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.contains(&format!(
            "order-status {ghost}: live row (version 5) is not justified by the log"
        )),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("inventory TEE: no live row (the log has it at version"),
        "{r}"
    );
    assert!(r.stdout.contains("read models: 2 of 12 rows DIFFER"), "{r}");
    let fixed = aws.replay(&["--rebuild"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    assert!(
        fixed.stdout.contains("rebuild: wrote 1 row, deleted 1"),
        "{fixed}"
    );
    let after = aws.replay(&["--verify", "--lag-allowance", "0"]);
    assert_eq!(after.code, 0, "{after}");
    assert!(
        after
            .stdout
            .contains("read models: match (11 rows compared)"),
        "{after}"
    );
    aws.drop_tables().await;
}

/// A row written before OrderStatusTable had its sweep index lacks the index's keys, and an
/// open order whose workflow died then gets no status put to add them: the sweeper would
/// never find it. Replay compares the keys as it does the listing's, and `--rebuild` adds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_an_open_row_without_its_sweep_keys_differs_and_rebuild_adds_them() {
    use order_app::gateway::SimulatedGateway;
    use order_app::tasks::{process_payment, validate_order};
    use order_app::vault::NoKeys;
    use order_testkit::tasks::input;

    let aws = Aws::from(emulator_or_skip!(
        "aws_an_open_row_without_its_sweep_keys_differs_and_rebuild_adds_them"
    ));
    let mut run = aws.projected_run().await;
    let paid = order_testkit::events::place(&aws.store, &[("MUG", 1)], "tok_visa").await;
    validate_order(&aws.store, input(paid, None)).await.unwrap();
    process_payment(&aws.store, &SimulatedGateway, &NoKeys, input(paid, None))
        .await
        .unwrap();
    run.streams = vec![paid.stream()];
    aws.project(&run, None).await;
    let table = &aws.resources.order_status_table;
    let (db, key) = (aws.clients.dynamodb().clone(), s(&paid.to_string()));
    let sweep_keys = || {
        let get = db.get_item().table_name(table).key("orderId", key.clone());
        async move {
            let item = get.send().await.unwrap().item.unwrap();
            (
                item.get("sweepShard").cloned(),
                item.get("sweepSince").cloned(),
            )
        }
    };
    let (shard, since) = sweep_keys().await;
    assert!(
        shard.is_some() && since.is_some(),
        "a PAID row is in the sweep index"
    );
    aws.clients
        .dynamodb()
        .update_item()
        .table_name(table)
        .key("orderId", s(&paid.to_string()))
        .update_expression("REMOVE sweepShard, sweepSince")
        .send()
        .await
        .unwrap();

    let r = aws.replay(&[]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains(&format!("order-status {paid}")), "{r}");
    assert!(
        r.stdout.contains("column sweep_shard: live ∅, log OPEN#"),
        "{r}"
    );
    let fixed = aws.replay(&["--rebuild"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    assert!(
        fixed.stdout.contains("rebuild: wrote 1 row, deleted 0"),
        "{fixed}"
    );
    assert_eq!(sweep_keys().await, (shard, since), "the keys are back");
    let after = aws.replay(&["--verify"]);
    assert_eq!(after.code, 0, "{after}");
    assert!(after.stdout.contains("read models: match"), "{after}");
    aws.drop_tables().await;
}
