//! Shared by the read-models test binaries.

use order_domain::envelope::{EventMeta, GENESIS_HASH};
use order_domain::{RecordedEvent, StreamId, Timestamp};

/// `events` sealed onto `stream` from its first version, hash-chained.
pub fn seal_all(stream: &StreamId, events: Vec<(&'static str, u32, String)>) -> Vec<RecordedEvent> {
    let meta = EventMeta {
        correlation_id: "c".into(),
        causation_id: "c".into(),
        occurred_at: Timestamp::from_millis(7),
    };
    let mut out: Vec<RecordedEvent> = Vec::new();
    for e in events {
        let prev = out
            .last()
            .map_or(GENESIS_HASH.to_owned(), |x| x.hash.clone());
        out.push(RecordedEvent::seal(
            stream.clone(),
            out.len() as u64,
            &prev,
            e,
            &meta,
        ));
    }
    out
}
