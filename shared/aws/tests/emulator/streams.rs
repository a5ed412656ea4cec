//! The local DynamoDB Streams poller: catch up, go live, rewind after a failure.

use order_aws::{StartPosition, StreamPoller, handled_positions};
use order_domain::OrderId;
use order_domain::ports::EventStore;

use order_testkit::emulator_or_skip;
use order_testkit::events::{filler, meta, write_after};

/// Stream images use the Streams client's attribute type; they decode through the writer's
/// codec into the very envelope that was appended, in order.
#[tokio::test]
async fn the_stream_poller_sees_appended_events_in_order_with_their_envelope() {
    let env = emulator_or_skip!("the_stream_poller_sees_appended_events");
    let store = env.store();
    let (a, b) = (OrderId::generate(), OrderId::generate());
    store
        .append(vec![write_after(&a.stream(), None, filler(3), &meta(a))])
        .await
        .unwrap();
    store
        .append(vec![write_after(&b.stream(), None, filler(1), &meta(b))])
        .await
        .unwrap();
    let mut written = store.read_stream(&a.stream(), 0).await.unwrap();
    written.extend(store.read_stream(&b.stream(), 0).await.unwrap());

    let mut poller = StreamPoller::new(
        &env.clients,
        &env.resources.events_table,
        StartPosition::TrimHorizon,
    )
    .with_batch_limit(2);
    let mut seen = Vec::new();
    for _ in 0..10 {
        seen.extend(poller.poll().await.unwrap());
    }
    let events: Vec<_> = seen
        .iter()
        .map(|r| r.event.as_ref().unwrap().clone())
        .collect();
    assert_eq!(events, written);

    // Live: only what is new.
    let head = store.read_head(&a.stream()).await.unwrap();
    store
        .append(vec![write_after(
            &a.stream(),
            head.as_ref(),
            filler(2),
            &meta(a),
        )])
        .await
        .unwrap();
    let mut live = Vec::new();
    for _ in 0..3 {
        live.extend(poller.poll().await.unwrap());
    }
    let versions: Vec<_> = live
        .iter()
        .map(|r| r.event.as_ref().unwrap().version)
        .collect();
    assert_eq!(versions, [4, 5]);

    // A consumer that failed at version 4 gets 4 and 5 again.
    let failed = vec![
        live[0].sequence_number.clone(),
        live[1].sequence_number.clone(),
    ];
    poller.rewind(&live, &failed);
    let again = poller.poll().await.unwrap();
    let versions: Vec<_> = again
        .iter()
        .map(|r| r.event.as_ref().unwrap().version)
        .collect();
    assert_eq!(versions, [4, 5]);
    assert!(poller.poll().await.unwrap().is_empty());
}

/// LATEST skips the past: a poller started now sees only later appends.
#[tokio::test]
async fn a_poller_started_at_latest_sees_only_new_events() {
    let env = emulator_or_skip!("a_poller_started_at_latest");
    let store = env.store();
    let a = OrderId::generate();
    store
        .append(vec![write_after(&a.stream(), None, filler(2), &meta(a))])
        .await
        .unwrap();
    let mut poller = StreamPoller::new(
        &env.clients,
        &env.resources.events_table,
        StartPosition::Latest,
    );
    assert!(poller.poll().await.unwrap().is_empty());
    let head = store.read_head(&a.stream()).await.unwrap();
    store
        .append(vec![write_after(
            &a.stream(),
            head.as_ref(),
            filler(1),
            &meta(a),
        )])
        .await
        .unwrap();
    let got = poller.poll().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event.as_ref().unwrap().version, 3);
}

/// A poller given the positions a consumer saved resumes just after them: a restart reads
/// nothing it had handled, then what came after; positions it has not handled (a failed
/// record) are read again.
#[tokio::test]
async fn a_poller_resumed_after_saved_positions_reads_only_what_follows() {
    let env = emulator_or_skip!("a_poller_resumed_after_saved_positions");
    let store = env.store();
    let a = OrderId::generate();
    store
        .append(vec![write_after(&a.stream(), None, filler(3), &meta(a))])
        .await
        .unwrap();
    let poller = || {
        StreamPoller::new(
            &env.clients,
            &env.resources.events_table,
            StartPosition::TrimHorizon,
        )
    };
    let mut first = poller();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.extend(first.poll().await.unwrap());
    }
    assert_eq!(seen.len(), 3);
    // The consumer failed the third record: it saved up to the second.
    let failed = vec![seen[2].sequence_number.clone()];
    let saved = handled_positions(&seen, &failed);
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].1, seen[1].sequence_number);

    let head = store.read_head(&a.stream()).await.unwrap();
    store
        .append(vec![write_after(
            &a.stream(),
            head.as_ref(),
            filler(1),
            &meta(a),
        )])
        .await
        .unwrap();
    let mut restarted = poller().resume_after(saved.into_iter().collect());
    let mut again = Vec::new();
    for _ in 0..3 {
        again.extend(restarted.poll().await.unwrap());
    }
    let versions: Vec<_> = again
        .iter()
        .map(|r| r.event.as_ref().unwrap().version)
        .collect();
    assert_eq!(versions, [3, 4], "the unhandled record, then the new one");
}
