//! The local host's path for the customer's emails: the forwarder's loop over the log
//! (`order_app::forward::forward_events`) into the local rule bus, which runs the rules
//! template.yaml deploys.

use order_app::forward::forward_events;
use order_app::vault::NoKeys;
use order_domain::OrderId;
use order_domain::order::{OrderCommand, RefundRequest};
use order_runtime::bus::LocalBus;
use order_testkit::events::place_as;
use order_testkit::tasks::drive;

use crate::{Rig, issued, one_mug};

/// The local host: the forwarder's loop over the whole log into the local rule bus (the rules
/// template.yaml deploys), twice. A shipped and partly refunded order and a cancelled one get
/// exactly their emails: received, confirmed, then shipped and refunded, or cancelled (its
/// refund none).
#[tokio::test]
async fn the_local_bus_sends_each_orders_emails_once() {
    let r = Rig::new().await;
    let shipped = r.completed().await;
    r.run(
        shipped,
        OrderCommand::Ship {
            carrier: "UPS".into(),
            tracking_id: "1Z999".into(),
        },
    )
    .await;
    r.run(
        shipped,
        OrderCommand::RequestRefund(RefundRequest {
            idempotency_key: "refund-1".into(),
            items: one_mug(),
            restock: false,
            reason: String::new(),
        }),
    )
    .await;
    r.run(shipped, issued(format!("{shipped}-R1"))).await;
    let cancelled = OrderId::generate();
    place_as(&r.store, cancelled, &[("MUG", 1)], "tok_visa").await;
    drive(&r.store, cancelled).await;
    r.run(
        cancelled,
        OrderCommand::RequestCancellation {
            reason: String::new(),
        },
    )
    .await;
    r.run(cancelled, issued(format!("{cancelled}-R1"))).await;

    // RefundRequestedRule's target: the refund workflow's starter (its runner is not run here:
    // the refunds above were settled by hand).
    let (workflow, _runner) = order_runtime::workflow::local_workflow(
        r.db.clone(),
        (r.store.clone(), r.notifier.clone(), NoKeys),
        0.0,
        4,
    )
    .unwrap();
    let bus = LocalBus {
        store: r.store.clone(),
        notifier: r.notifier.clone(),
        keys: NoKeys,
        refunds: workflow.of(order_app::dispatch::Workflow::RefundProcessing),
    };
    let feed = r.store.read_after(0, 1000).await.unwrap();
    for _ in 0..2 {
        let records = feed.iter().map(|(p, e)| (*p, Ok(e))).collect();
        assert_eq!(forward_events(&bus, &r.store, records).await, None);
    }
    let mails = r.mails();
    let subjects = |id: OrderId| -> Vec<String> {
        mails
            .iter()
            .filter(|m| m.contains(&id.to_string()))
            .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        subjects(shipped),
        [
            format!("Subject: Order {shipped} received"),
            format!("Subject: Order {shipped} confirmed"),
            format!("Subject: Order {shipped} shipped"),
            format!("Subject: Refund for order {shipped}"),
        ]
    );
    assert_eq!(
        subjects(cancelled),
        [
            format!("Subject: Order {cancelled} received"),
            format!("Subject: Order {cancelled} confirmed"),
            format!("Subject: Order {cancelled} cancelled"),
        ]
    );
    assert_eq!(mails.len(), 7, "{mails:?}");
    r.db.close();
}
