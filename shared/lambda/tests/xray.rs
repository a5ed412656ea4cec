//! With active tracing, a Lambda sends each step's span to the X-Ray daemon's UDP address as a
//! segment of the order's trace: the W3C trace id in X-Ray's form (`1-<epoch>-<rest>`), the
//! order's span as its parent. A local UDP socket stands in for the daemon.

use std::net::UdpSocket;
use std::time::Duration;

use order_app::trace::{Step, current_or, exporting, step_span};
use order_domain::TraceParent;
use serde_json::Value;

#[test]
fn a_steps_span_reaches_the_xray_daemon_as_a_segment_of_the_orders_trace() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    order_lambda::xray::init_with(Some(daemon.local_addr().unwrap()));
    assert!(exporting());

    let order = TraceParent::new_root();
    let span = step_span(Step::Validate, Some(order));
    let written = span
        .in_scope(|| current_or(|| None))
        .expect("the step's own context");
    assert_eq!(written.trace_id(), order.trace_id());
    drop(span);

    let mut buf = vec![0u8; 65_507];
    let n = daemon.recv(&mut buf).expect("a segment within 10 s");
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let (header, body) = text
        .split_once('\n')
        .expect("header line, then the document");
    assert_eq!(header, r#"{"format": "json", "version": 1}"#);
    let segment: Value = serde_json::from_str(body).unwrap();
    let hex = order.trace_id_hex();
    assert_eq!(
        segment["trace_id"],
        format!("1-{}-{}", &hex[..8], &hex[8..]),
        "{segment}"
    );
    assert_eq!(
        segment["parent_id"],
        hex::encode(order.span_id()),
        "{segment}"
    );
    assert_eq!(segment["id"], hex::encode(written.span_id()), "{segment}");
}
