//! A mixed run's log matches its live read models and verifies, also through the library with
//! pages of two items; a changed, deleted or swapped event fails `--verify`.

use order_aws::codec;
use order_replay::ReplayOptions;
use order_testkit::emulator_or_skip;

use crate::aws::{Aws, s};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_replay_of_a_mixed_run_matches_the_live_read_models_and_verifies() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_replay_of_a_mixed_run_matches_the_live_read_models_and_verifies"
    ));
    let run = aws.projected_run().await;
    let events = aws.total_events(&run).await;
    let r = aws.replay(&[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("read models: match (11 rows compared)"),
        "{r}"
    );
    assert!(
        r.stdout.contains(&format!(
            "replayed {events} events in 11 streams (7 orders, 4 products)"
        )),
        "{r}"
    );
    let v = aws.replay(&["--verify", "--segments", "3", "--concurrency", "2"]);
    assert_eq!(v.code, 0, "{v}");
    assert!(v.stdout.contains("every stream verified"), "{v}");
    // The library, with pages of two items: every Scan and Query crosses pages.
    let summary = aws
        .tables()
        .with_page_limit(2)
        .with_segments(3)
        .with_concurrency(3)
        .replay_all(
            &ReplayOptions {
                verify: true,
                ..ReplayOptions::default()
            },
            &mut (),
        )
        .await
        .unwrap();
    assert_eq!(summary.events, events as u64, "{summary}");
    assert_eq!(
        (summary.streams, summary.orders, summary.products),
        (11, 7, 4)
    );
    assert_eq!((summary.differences, summary.failures), (0, 0), "{summary}");
    assert_eq!(summary.statuses.get("COMPLETED"), Some(&3), "{summary}");
    assert_eq!(summary.statuses.get("FAILED"), Some(&4), "{summary}");
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_changed_event_payload_fails_verify_naming_the_stream_and_version() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_a_changed_event_payload_fails_verify_naming_the_stream_and_version"
    ));
    let run = aws.projected_run().await;
    let stream = run.declined.stream();
    let declined = aws
        .events(&stream)
        .await
        .into_iter()
        .find(|e| e.event_type == "PaymentDeclined")
        .unwrap();
    let forged = declined.payload.replace("declined", "accepted");
    assert_ne!(forged, declined.payload);
    aws.clients
        .dynamodb()
        .update_item()
        .table_name(&aws.resources.events_table)
        .set_key(Some(codec::key(&stream, declined.version)))
        .update_expression("SET payload = :p")
        .expression_attribute_values(":p", s(&forged))
        .send()
        .await
        .unwrap();
    let r = aws.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout.contains(&format!(
            "{stream} version {}: stored hash does not match",
            declined.version
        )),
        "{r}"
    );
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_deleted_event_fails_verify_naming_the_stream_and_version() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_a_deleted_event_fails_verify_naming_the_stream_and_version"
    ));
    let run = aws.projected_run().await;
    let stream = run.completed.stream();
    aws.delete_item(&aws.resources.events_table, codec::key(&stream, 2))
        .await;
    let r = aws.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout
            .contains(&format!("{stream} version 3: expected version 2")),
        "{r}"
    );
    aws.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_swapped_versions_fail_verify_naming_the_stream_and_version() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_swapped_versions_fail_verify_naming_the_stream_and_version"
    ));
    let run = aws.projected_run().await;
    let stream = run.out_of_stock.stream();
    let mut third = aws.get_event_item(&stream, 3).await;
    let mut fourth = aws.get_event_item(&stream, 4).await;
    // Each version keeps its key and takes the other's content.
    let (v3, v4) = (third.remove("version"), fourth.remove("version"));
    third.insert("version".into(), v4.unwrap());
    fourth.insert("version".into(), v3.unwrap());
    aws.put_item(&aws.resources.events_table, third).await;
    aws.put_item(&aws.resources.events_table, fourth).await;
    let r = aws.replay(&["--verify"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains(&format!("{stream} version 3")), "{r}");
    aws.drop_tables().await;
}
