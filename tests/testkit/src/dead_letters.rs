//! The [`DeadLetters`] contract: what OrdersQueue's dead letters MUST do when an operator looks
//! at and redrives them, run against the SQLite queue and SQS (on the emulator).
//!
//! A message is dead-lettered the way the consumer does it: received [`MAX_RECEIVES`] times
//! without a delete; the next receive moves it to the dead-letter queue.

use order_domain::OrderId;
use order_domain::ports::{DeadLetters, PolledQueue, Redrive};

use crate::Fixture;
use crate::queue::MAX_RECEIVES;

/// Every case of the dead-letters contract as `#[tokio::test]`s in a module named `$backend`,
/// on the queues `$make` builds.
#[macro_export]
macro_rules! dead_letters_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!(
                $make,
                dead_letters,
                [
                    a_message_that_exceeds_its_receives_is_listed_and_shown,
                    a_redriven_message_is_received_again_once_and_leaves_the_list,
                    a_second_redrive_of_the_same_id_is_a_no_op,
                    redrive_all_moves_every_dead_letter_back,
                    an_unknown_id_shows_nothing_and_redrives_nothing,
                    a_redrive_beside_another_look_still_finds_its_letter,
                ]
            );
        }
    };
}

/// The next message, allowing a receive or two to come back empty (SQS may).
async fn receive_one<Q: PolledQueue>(queue: &Q) -> Option<Q::Message> {
    for _ in 0..3 {
        if let Some(m) = queue.receive(1).await.unwrap().into_iter().next() {
            return Some(m);
        }
    }
    None
}

/// Enqueues an order and fails it until it is dead-lettered; returns the message body.
async fn dead_letter<Q: PolledQueue>(queue: &Q) -> String {
    let id = OrderId::generate();
    queue.enqueue(id).await.unwrap();
    for _ in 0..MAX_RECEIVES {
        let m = receive_one(queue)
            .await
            .expect("the message is redelivered");
        queue.retry_after(&m, 0).await.unwrap();
    }
    assert!(
        queue.receive(10).await.unwrap().is_empty(),
        "the receive after the last moves it to the dead-letter queue"
    );
    format!(r#"{{"orderId":"{id}"}}"#)
}

async fn id_of<Q: DeadLetters>(queue: &Q, body: &str) -> String {
    let list = queue.list().await.unwrap();
    list.iter()
        .find(|l| l.body == body)
        .unwrap_or_else(|| panic!("{body} is not among the dead letters {list:?}"))
        .id
        .clone()
}

pub async fn a_message_that_exceeds_its_receives_is_listed_and_shown<
    Q: PolledQueue + DeadLetters,
>(
    queue: &Fixture<Q>,
) {
    assert!(queue.list().await.unwrap().is_empty());
    let body = dead_letter(&**queue).await;
    let list = queue.list().await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let letter = &list[0];
    assert_eq!(letter.body, body);
    assert!(!letter.queue.is_empty() && !letter.source_queue.is_empty());
    assert_ne!(letter.queue, letter.source_queue, "{letter:?}");
    assert!(
        letter.receive_count.is_none_or(|n| n >= MAX_RECEIVES),
        "{letter:?}"
    );
    let shown = queue
        .show(&letter.id)
        .await
        .unwrap()
        .expect("shown by its id");
    // On SQS a look is a receive, so the receive count may have grown since the list.
    assert_eq!(
        (&shown.id, &shown.body, &shown.queue, &shown.source_queue),
        (
            &letter.id,
            &letter.body,
            &letter.queue,
            &letter.source_queue
        )
    );
    assert_eq!(queue.list().await.unwrap().len(), 1, "a look loses nothing");
    assert_eq!(queue.depth().await.unwrap(), (0, 1));
}

pub async fn a_redriven_message_is_received_again_once_and_leaves_the_list<
    Q: PolledQueue + DeadLetters,
>(
    queue: &Fixture<Q>,
) {
    let body = dead_letter(&**queue).await;
    let id = id_of(&**queue, &body).await;
    assert_eq!(queue.redrive(&id).await.unwrap(), Redrive::Redriven);
    assert!(queue.list().await.unwrap().is_empty());
    assert!(queue.show(&id).await.unwrap().is_none());
    let m = receive_one(&**queue).await.expect("the redriven message");
    assert_eq!(Q::body(&m), body);
    assert_eq!(Q::receive_count(&m), 1, "a fresh receive count");
    queue.delete(&m).await.unwrap();
    assert!(receive_one(&**queue).await.is_none(), "received once");
    assert_eq!(queue.depth().await.unwrap(), (0, 0));
}

pub async fn a_second_redrive_of_the_same_id_is_a_no_op<Q: PolledQueue + DeadLetters>(
    queue: &Fixture<Q>,
) {
    let body = dead_letter(&**queue).await;
    let id = id_of(&**queue, &body).await;
    assert_eq!(queue.redrive(&id).await.unwrap(), Redrive::Redriven);
    assert_eq!(queue.redrive(&id).await.unwrap(), Redrive::NotDeadLettered);
    assert_eq!(queue.depth().await.unwrap(), (1, 0), "one message, not two");
}

pub async fn redrive_all_moves_every_dead_letter_back<Q: PolledQueue + DeadLetters>(
    queue: &Fixture<Q>,
) {
    let first = dead_letter(&**queue).await;
    let second = dead_letter(&**queue).await;
    let done = order_app::dead_letters::redrive(
        &**queue,
        order_app::dead_letters::Selection::All,
        order_app::dead_letters::CLI_OPERATOR,
    )
    .await
    .unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(
        done.iter().all(|d| d.outcome == Redrive::Redriven),
        "{done:?}"
    );
    assert!(queue.list().await.unwrap().is_empty());
    let mut bodies = Vec::new();
    while let Some(m) = receive_one(&**queue).await {
        bodies.push(Q::body(&m).to_owned());
        queue.delete(&m).await.unwrap();
    }
    bodies.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(bodies, expected);
}

pub async fn an_unknown_id_shows_nothing_and_redrives_nothing<Q: PolledQueue + DeadLetters>(
    queue: &Fixture<Q>,
) {
    let body = dead_letter(&**queue).await;
    for unknown in [
        "999999",
        "not-an-id",
        "00000000-0000-0000-0000-000000000000",
    ] {
        assert!(queue.show(unknown).await.unwrap().is_none(), "{unknown}");
        assert_eq!(
            queue.redrive(unknown).await.unwrap(),
            Redrive::NotDeadLettered,
            "{unknown}"
        );
    }
    assert!(!id_of(&**queue, &body).await.is_empty());
    assert_eq!(
        queue.depth().await.unwrap(),
        (0, 1),
        "the dead letter stays"
    );
}

/// An operator redrives a letter while another looks at the queue (a second operator's list,
/// the console's refresh): on SQS a look receives, and so hides, every letter for a moment;
/// the redrive still finds its own, and the look loses nothing.
pub async fn a_redrive_beside_another_look_still_finds_its_letter<Q: PolledQueue + DeadLetters>(
    queue: &Fixture<Q>,
) {
    let body = dead_letter(&**queue).await;
    let other = dead_letter(&**queue).await;
    let id = id_of(&**queue, &body).await;
    let (looked, redriven) = tokio::join!(queue.list(), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        queue.redrive(&id).await
    });
    looked.unwrap();
    assert_eq!(redriven.unwrap(), Redrive::Redriven);
    let left = queue.list().await.unwrap();
    assert_eq!(
        left.iter().map(|l| l.body.as_str()).collect::<Vec<_>>(),
        [other.as_str()],
        "the other letter stays, the redriven one is gone"
    );
    assert_eq!(queue.depth().await.unwrap(), (1, 1));
}
