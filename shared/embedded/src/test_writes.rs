//! Appends for the crate's unit tests: `n` placeholder events sealed onto a stream.

use order_domain::{EventMeta, RecordedEvent, StreamId, StreamWrite, Timestamp};

/// `n` `OrderNoted` events on `id` after version `expected`, as one append.
pub fn noted(id: &StreamId, expected: u64, n: u64) -> StreamWrite {
    let meta = EventMeta {
        correlation_id: "c".into(),
        causation_id: "c".into(),
        occurred_at: Timestamp::from_millis(1),
        trace_parent: None,
    };
    let events = (0..n)
        .map(|i| {
            RecordedEvent::seal(
                id.clone(),
                expected + i,
                "0",
                ("OrderNoted", 1, "{}".into()),
                &meta,
            )
        })
        .collect();
    StreamWrite {
        stream_id: id.clone(),
        expected_version: expected,
        events,
    }
}
