//! `--verify`'s audit on the DynamoDB tables: a return (a refund issued with its stock put
//! back on the product, in one append) adds up, a rebuild puts its rows back as projected, and
//! a refund appended onto the chain but never requested, beyond the capture, is named.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use order_aws::read_models::DynamoReadModels;
use order_domain::events::{OrderLine, RefundIssued, decode_product};
use order_domain::order::{Order, OrderCommand, RefundRequest, RefundResult, return_stock};
use order_domain::ports::EventStore;
use order_domain::product::ProductState;
use order_domain::{Money, OrderEvent, OrderId, ProductEvent, ProductId, Quantity};
use order_replay::{Failure, Outcome, ReplayOptions, Violation};
use order_testkit::emulator_or_skip;
use order_testkit::events::{meta, write_after};

use crate::aws::{Aws, s};

/// Decides `command` on the order and appends what it decided, with the products' StockAdded
/// of a restocking refund it issues (one append, one instant, as the refund workflow writes).
async fn decide_and_append(aws: &Aws, id: OrderId, command: &OrderCommand) -> Vec<OrderEvent> {
    let history = aws.events(&id.stream()).await;
    let order = Order::from_history(&history).unwrap();
    let events = order.decide(command).unwrap();
    let mut products = BTreeMap::new();
    for line in &order.state.priced().unwrap().validated.lines {
        let head = aws.events(&line.product_id.stream()).await;
        let state = ProductState::from_head(head.last().unwrap()).unwrap();
        products.insert(line.product_id.clone(), state);
    }
    let returned = return_stock(&order.state, &events, &products).unwrap();
    let at = meta(id);
    let mut writes = vec![write_after(
        &id.stream(),
        history.last(),
        events.iter().map(OrderEvent::encode),
        &at,
    )];
    for decision in returned {
        let head = aws.events(&decision.product.id.stream()).await;
        writes.push(write_after(
            &decision.product.id.stream(),
            head.last(),
            [decision.event.encode()],
            &at,
        ));
    }
    aws.store.append(writes).await.unwrap();
    events
}

/// A return of the completed order's MUG: the refund requested, then issued with the MUG put
/// back on the shelf.
async fn a_return(aws: &Aws, id: OrderId) {
    let mug = ProductId::parse("MUG").unwrap();
    let request = OrderCommand::RequestRefund(RefundRequest {
        idempotency_key: "return-1".into(),
        items: vec![OrderLine {
            product_id: mug.clone(),
            quantity: Quantity::new(1).unwrap(),
        }],
        restock: true,
        reason: "returned".into(),
    });
    decide_and_append(aws, id, &request).await;
    let refund_id = format!("{id}-R1");
    let issue = OrderCommand::SettleRefund {
        refund_id: refund_id.clone(),
        result: RefundResult::Issued {
            gateway_refund_id: "re_1".into(),
        },
    };
    decide_and_append(aws, id, &issue).await;
    let put_back = aws.events(&mug.stream()).await;
    assert!(matches!(
        decode_product(put_back.last().unwrap()).map(std::borrow::Cow::into_owned),
        Ok(ProductEvent::StockAdded(a)) if a.refund_id.as_deref() == Some(refund_id.as_str())
    ));
}

/// A rebuild puts back the refunded order's row and the restocked product's, as projected.
async fn rebuilt_as_projected(aws: &Aws, id: OrderId) {
    let views = DynamoReadModels::new(
        aws.clients.dynamodb(),
        &aws.resources.order_status_table,
        &aws.resources.inventory_table,
    );
    let order_row = views.orders.get(&id.to_string()).await.unwrap().unwrap();
    assert_eq!(order_row.after.refunds.len(), 1);
    let stock_row = views.inventory.get("MUG").await.unwrap().unwrap();
    let key = |name: &str, value: &str| HashMap::from([(name.to_owned(), s(value))]);
    aws.delete_item(
        &aws.resources.order_status_table,
        key("orderId", &id.to_string()),
    )
    .await;
    aws.delete_item(&aws.resources.inventory_table, key("ProductID", "MUG"))
        .await;
    let r = aws.replay(&["--rebuild", "--verify", "--lag-allowance", "0"]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(
        views.orders.get(&id.to_string()).await.unwrap(),
        Some(order_row)
    );
    assert_eq!(views.inventory.get("MUG").await.unwrap(), Some(stock_row));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_return_adds_up_is_rebuilt_as_projected_and_a_refund_beyond_the_capture_is_named() {
    let aws = Aws::from(emulator_or_skip!(
        "aws_a_return_adds_up_is_rebuilt_as_projected_and_a_refund_beyond_the_capture_is_named"
    ));
    let run = aws.projected_run().await;
    let id = run.completed;
    a_return(&aws, id).await;
    aws.project(&run, None).await;

    let verify = ReplayOptions {
        verify: true,
        ..ReplayOptions::default()
    };
    let tables = aws.tables().with_lag_allowance(Duration::ZERO);
    let summary = tables.replay_all(&verify, &mut ()).await.unwrap();
    assert_eq!(summary.outcome(), Outcome::Match, "{summary}");
    assert!(summary.stock_audited, "{summary}");
    assert_eq!(summary.ledger.counts(), (7, 4), "{summary}");
    assert_eq!(summary.statuses.get("REFUNDED"), Some(&1), "{summary}");
    let r = aws.replay(&["--verify", "--lag-allowance", "0"]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("audit: money and stock add up"), "{r}");

    rebuilt_as_projected(&aws, id).await;

    // A refund nobody requested, appended onto the chain as the pipeline appends.
    let history = aws.events(&id.stream()).await;
    let forged = OrderEvent::RefundIssued(RefundIssued {
        refund_id: format!("{id}-R9"),
        gateway_refund_id: "re_9".into(),
        amount: Money::from_minor(1),
    });
    let write = write_after(&id.stream(), history.last(), [forged.encode()], &meta(id));
    aws.store.append(vec![write]).await.unwrap();
    aws.project(&run, None).await;
    let summary = tables.replay_all(&verify, &mut ()).await.unwrap();
    assert_eq!(summary.outcome(), Outcome::Broken, "{summary}");
    let stream = id.stream().as_str().to_owned();
    assert_eq!(
        summary.first_failures,
        [
            Failure::Audit(Violation::OverRefunded {
                stream: stream.clone(),
                captured: Money::from_minor(900),
                refunded: Money::from_minor(901),
            }),
            Failure::Audit(Violation::Unrequested {
                stream: stream.clone(),
                refund_id: format!("{id}-R9"),
            }),
        ]
    );
    let r = aws.replay(&["--verify", "--lag-allowance", "0"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout.contains(&format!(
            "{stream}: refunded 9.01, more than the 9.00 captured"
        )),
        "{r}"
    );
    assert!(r.stdout.contains("chains: every stream verified"), "{r}");
    aws.drop_tables().await;
}
