//! `--verify`'s audit: on a log that verifies, the money and the stock add up. The generated
//! log (with cancellations, shipments, refunds and returns) passes; events appended onto the
//! chain as the pipeline would, but contradicting the rest of the log, are each named.

use order_domain::events::{
    PricedLine, RefundIssued, RefundRequested, StockAdded, StockReserved, decode_order,
};
use order_domain::order::{Order, OrderStatus};
use order_domain::{Money, OrderEvent, OrderId, ProductEvent, Quantity, Timestamp};
use order_read_models::OrderView;
use order_replay::{Failure, Outcome, ReplayOptions, Summary, Violation};

use crate::support::{Log, verify};

fn violations(s: &Summary) -> Vec<Violation> {
    s.first_failures
        .iter()
        .filter_map(|f| match f {
            Failure::Audit(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

/// A completed order that nothing happened to since, and its view.
fn completed(log: &Log) -> (String, OrderView) {
    let text = log.text("SELECT view FROM order_status WHERE status = 'COMPLETED' LIMIT 1");
    let view: OrderView = serde_json::from_str(&text).unwrap();
    (format!("order#{}", view.order_id), view)
}

fn requested(view: &OrderView, lines: Vec<PricedLine>, amount: u64, restock: bool) -> OrderEvent {
    OrderEvent::RefundRequested(RefundRequested {
        refund_id: format!("{}-R1", view.order_id),
        idempotency_key: Some("k".into()),
        lines,
        amount: Money::from_minor(amount),
        restock,
        reason: "test".into(),
        cancellation: false,
    })
}

fn issued(view: &OrderView, n: u32, amount: u64) -> OrderEvent {
    OrderEvent::RefundIssued(RefundIssued {
        refund_id: format!("{}-R{n}", view.order_id),
        gateway_refund_id: "re_x".into(),
        amount: Money::from_minor(amount),
    })
}

fn broken(log: &Log) -> Summary {
    let s = log.replay(verify());
    assert_eq!(s.outcome(), Outcome::Broken, "{s}");
    assert_eq!(s.broken, 0, "the chains verify: {s}");
    s
}

#[test]
fn the_generated_log_with_cancellations_shipments_and_refunds_adds_up() {
    let log = Log::new(4_000);
    let s = log.replay(verify());
    assert_eq!(s.outcome(), Outcome::Match, "{s}");
    for status in [
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "SHIPPED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ] {
        assert!(
            s.statuses.get(status).is_some_and(|n| *n > 0),
            "{status}: {s}"
        );
    }
    assert!(s.stock_audited);
    assert_eq!(
        s.ledger.counts(),
        (log.generated.orders, log.generated.products)
    );
    let text = s.to_string();
    assert!(text.contains("audit: money and stock add up"), "{text}");
    // Returns put stock back: the inventory the log ends with is above what orders took.
    let returns = log.int("SELECT COUNT(*) FROM events WHERE event_type = 'StockAdded'");
    assert!(returns > 0);
}

#[test]
fn every_generated_order_shows_the_status_its_aggregate_has() {
    let log = Log::new(2_000);
    let conn = log.conn();
    let mut stmt = conn
        .prepare("SELECT order_id, status FROM order_status")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len() as u64, log.generated.orders);
    for (id, status) in rows {
        let history =
            order_embedded::store::stream_events(&conn, &format!("order#{id}"), 0).unwrap();
        for e in &history {
            decode_order(e).unwrap();
        }
        let order = Order::from_history(&history).unwrap();
        assert_eq!(
            order.state.status().map(OrderStatus::as_str),
            Some(status.as_str()),
            "{id}"
        );
    }
}

#[test]
fn as_of_any_instant_the_generated_log_adds_up() {
    let log = Log::new(1_500);
    let last = log.int("SELECT MAX(occurred_at) FROM events");
    let first = log.int("SELECT MIN(occurred_at) FROM events");
    for k in 1..=5 {
        let at = first + (last - first) * k / 6;
        let s = log.replay(ReplayOptions {
            as_of: Some(Timestamp::from_millis(u64::try_from(at).unwrap())),
            ..verify()
        });
        assert_eq!((s.failures, s.stock_audited), (0, true), "as of {at}: {s}");
    }
}

#[test]
fn a_refund_issued_beyond_the_capture_is_over_refunded() {
    let log = Log::new(500);
    let (stream, view) = completed(&log);
    let total = view.total.unwrap().minor();
    let lines = view.after.lines.clone();
    log.append(
        &stream,
        &[
            requested(&view, lines, total, false).encode(),
            issued(&view, 1, total + 1).encode(),
        ],
    );
    let s = broken(&log);
    assert_eq!(
        violations(&s),
        [Violation::OverRefunded {
            stream: stream.clone(),
            captured: Money::from_minor(total),
            refunded: Money::from_minor(total + 1),
        }]
    );
    let text = s.to_string();
    assert!(text.contains(&format!("{stream}: refunded")), "{text}");
    assert!(text.contains("chains: every stream verified"), "{text}");
    assert!(text.contains("audit: 1 violation found"), "{text}");
}

#[test]
fn a_line_refunded_beyond_its_quantity_is_named() {
    let log = Log::new(500);
    let (stream, view) = completed(&log);
    let mut line = view.after.lines[0].clone();
    let ordered = u64::from(line.quantity.get());
    line.quantity = Quantity::new(i64::from(line.quantity.get()) + 1).unwrap();
    log.append(
        &stream,
        &[requested(&view, vec![line.clone()], 1, true).encode()],
    );
    let s = broken(&log);
    assert_eq!(
        violations(&s),
        [Violation::LineOverRefunded {
            stream,
            product: line.product_id.as_str().to_owned(),
            ordered,
            refunded: ordered + 1,
        }]
    );
}

#[test]
fn a_refund_issued_that_was_never_requested_is_named() {
    let log = Log::new(500);
    let (stream, view) = completed(&log);
    log.append(&stream, &[issued(&view, 9, 0).encode()]);
    let s = broken(&log);
    assert_eq!(
        violations(&s),
        [Violation::Unrequested {
            stream,
            refund_id: format!("{}-R9", view.order_id),
        }]
    );
}

/// The product's stream and its stock now.
fn product(log: &Log) -> (String, u64) {
    let stream = "product#SKU-00002".to_owned();
    let stock = log.int("SELECT available FROM inventory WHERE product_id = 'SKU-00002'");
    (stream, u64::try_from(stock).unwrap())
}

#[test]
fn stock_taken_by_no_completed_order_unbalances_the_product() {
    let log = Log::new(500);
    let (stream, stock) = product(&log);
    let taken = ProductEvent::StockReserved(StockReserved {
        order_id: OrderId::generate(),
        quantity: Quantity::new(2).unwrap(),
        stock_after: stock - 2,
        price: Money::from_minor(700),
    });
    log.append(&stream, &[taken.encode()]);
    let s = broken(&log);
    let found = violations(&s);
    assert!(
        matches!(&found[..], [Violation::Stock { stream: st, stock: now, .. }]
            if *st == stream && *now == stock - 2),
        "{s}"
    );
    assert!(s.to_string().contains("taken by completed orders"), "{s}");
}

#[test]
fn a_return_no_refund_issued_is_on_the_shelf_but_not_in_the_books() {
    let log = Log::new(500);
    let (stream, stock) = product(&log);
    let returned = ProductEvent::StockAdded(StockAdded {
        quantity: 3,
        stock_after: stock + 3,
        price: Money::from_minor(700),
        refund_id: Some(format!("{}-R1", OrderId::generate())),
    });
    log.append(&stream, &[returned.encode()]);
    let s = broken(&log);
    let returns_before = log.int(
        "SELECT COALESCE(SUM(json_extract(payload, '$.quantity')), 0) FROM events \
         WHERE stream_id = 'product#SKU-00002' AND event_type = 'StockAdded'",
    );
    let on_shelf = u64::try_from(returns_before).unwrap();
    assert_eq!(
        violations(&s),
        [Violation::Returns {
            stream,
            on_shelf,
            by_refunds: on_shelf - 3,
        }]
    );
}

#[test]
fn a_stock_that_does_not_follow_from_the_one_before_is_named_at_its_version() {
    let log = Log::new(500);
    let (stream, stock) = product(&log);
    let version = log.int(&format!(
        "SELECT MAX(version) FROM events WHERE stream_id = '{stream}'"
    ));
    let wrong = ProductEvent::StockAdded(StockAdded {
        quantity: 1,
        stock_after: stock + 5,
        price: Money::from_minor(700),
        refund_id: None,
    });
    log.append(&stream, &[wrong.encode()]);
    let s = broken(&log);
    let found = violations(&s);
    assert_eq!(
        found[0],
        Violation::StockStep {
            stream: stream.clone(),
            version: u64::try_from(version + 1).unwrap(),
            expected: stock + 1,
            found: stock + 5,
        }
    );
    assert!(matches!(&found[1..], [Violation::Stock { .. }]), "{s}");
}

#[test]
fn a_log_that_fails_its_chain_is_not_audited_for_stock() {
    let log = Log::new(300);
    let stream = log.stream_ending_with("StockReserved");
    log.sql(&format!(
        "UPDATE events SET payload = replace(payload, '\"quantity\":', '\"quantity\":9') \
         WHERE stream_id = '{stream}' AND version = 2"
    ));
    let s = log.replay(verify());
    assert_eq!(
        (s.broken, s.violations, s.stock_audited),
        (1, 0, false),
        "{s}"
    );
    assert!(s.to_string().contains("audit: stock not checked"), "{s}");
}

/// Every row of `table` (its columns joined), in key order.
fn rows(log: &Log, table: &str, key: &str) -> Vec<String> {
    let conn = log.conn();
    let columns: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let joined = columns.join(" || '|' || ");
    let mut stmt = conn
        .prepare(&format!("SELECT {joined} FROM {table} ORDER BY {key}"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_rebuild_reproduces_every_after_sale_field_and_the_restocked_inventory() {
    let log = Log::new(1_500);
    let orders = rows(&log, "order_status", "order_id");
    let inventory = rows(&log, "inventory", "product_id");
    for shown in [
        "\"shipment\":{\"carrier\"",
        "\"status\":\"ISSUED\"",
        "\"status\":\"FAILED\"",
        "\"cancellation\":true",
        "\"restock\":true",
        "\"settledAt\":",
        "\"lines\":[{",
    ] {
        assert!(
            orders.iter().any(|r| r.contains(shown)),
            "no row shows {shown}"
        );
    }
    assert!(orders.iter().any(|r| !r.contains("\"amountRefunded\":0")));
    log.sql("DELETE FROM order_status; DELETE FROM inventory;");
    let s = log.replay(ReplayOptions {
        rebuild: true,
        ..verify()
    });
    assert_eq!(s.failures, 0, "{s}");
    assert_eq!(
        rows(&log, "order_status", "order_id"),
        orders,
        "byte for byte"
    );
    assert_eq!(
        rows(&log, "inventory", "product_id"),
        inventory,
        "byte for byte"
    );
}

#[test]
fn a_refund_issued_twice_is_named() {
    let log = Log::new(500);
    let (stream, view) = completed(&log);
    let line = view.after.lines[0].clone();
    let amount = line.unit_price.minor();
    let one = PricedLine {
        quantity: Quantity::new(1).unwrap(),
        ..line
    };
    log.append(
        &stream,
        &[
            requested(&view, vec![one], amount, false).encode(),
            issued(&view, 1, amount).encode(),
            issued(&view, 1, amount).encode(),
        ],
    );
    let s = broken(&log);
    assert_eq!(
        violations(&s),
        [Violation::SettledTwice {
            stream: stream.clone(),
            refund_id: format!("{}-R1", view.order_id),
        }]
    );
    assert!(
        s.to_string().contains("settled again after it was settled"),
        "{s}"
    );
}
