//! The hash-chain and version-sequence check, one event at a time.
//!
//! [`order_domain::envelope::verify_chain`] checks a whole stream held in memory. A product
//! stream in a flash sale can hold as many events as there are orders, so replay checks the same
//! three rules incrementally instead, keeping only the previous hash and the expected version.
//! The tests below hold it to `verify_chain`: same verdict, same error, on every tampering.

use order_domain::RecordedEvent;
use order_domain::envelope::{ChainError, GENESIS_HASH};

/// The running check of one stream's chain.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    expected: u64,
    prev_hash: String,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self {
            expected: 1,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainCheck {
    /// A check at the start of a stream (version 1, genesis hash).
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the stream's next stored event. After the first `Err` the stream is broken; further
    /// calls compare against the last event that passed, so callers usually stop at the first.
    pub fn push(&mut self, event: &RecordedEvent) -> Result<(), ChainError> {
        let stream = || event.stream_id.as_str().to_owned();
        if event.version != self.expected {
            return Err(ChainError::VersionGap {
                stream: stream(),
                version: event.version,
                expected: self.expected,
            });
        }
        if !event.hash_is_valid() {
            return Err(ChainError::HashMismatch {
                stream: stream(),
                version: event.version,
            });
        }
        if event.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink {
                stream: stream(),
                version: event.version,
                prev: self.expected - 1,
            });
        }
        self.expected += 1;
        self.prev_hash.clear();
        self.prev_hash.push_str(&event.hash);
        Ok(())
    }

    /// Events accepted so far.
    pub fn len(&self) -> u64 {
        self.expected - 1
    }

    /// Whether no event has been accepted yet.
    pub fn is_empty(&self) -> bool {
        self.expected == 1
    }
}

#[cfg(test)]
mod tests {
    use order_domain::envelope::{EventMeta, verify_chain};
    use order_domain::{OrderId, Timestamp};

    use super::*;

    fn chain(n: u64) -> Vec<RecordedEvent> {
        let meta = EventMeta {
            correlation_id: "c".into(),
            causation_id: "r".into(),
            occurred_at: Timestamp::from_millis(1),
            trace_parent: None,
        };
        let events = (0..n).map(|v| ("OrderCompleted", 1, format!("{{\"n\":{v}}}")));
        let stream = OrderId::generate().stream();
        order_app::stream::seal(&stream, 0, GENESIS_HASH, events, &meta).events
    }

    fn incremental(events: &[RecordedEvent]) -> Result<(), ChainError> {
        let mut check = ChainCheck::new();
        events.iter().try_for_each(|e| check.push(e))
    }

    /// Every way of tampering with a five-event stream, judged by both checks.
    fn tamperings() -> Vec<Vec<RecordedEvent>> {
        let base = chain(5);
        let mut cases = vec![base.clone(), Vec::new()];
        for i in 0..base.len() {
            let mut changed = base.clone();
            changed[i].payload = "{\"n\":99}".into();
            cases.push(changed);
            let mut removed = base.clone();
            removed.remove(i);
            cases.push(removed);
            let mut resealed = base.clone();
            // A forger who recomputes the changed event's own hash still breaks the next link.
            resealed[i].payload = "{\"n\":98}".into();
            resealed[i].hash = resealed[i].compute_hash().into();
            cases.push(resealed);
        }
        for i in 0..base.len() - 1 {
            let mut swapped = base.clone();
            swapped.swap(i, i + 1);
            let (a, b) = (swapped[i].version, swapped[i + 1].version);
            swapped[i].version = b;
            swapped[i + 1].version = a;
            cases.push(swapped);
            let mut inserted = base.clone();
            let mut extra = base[i].clone();
            extra.payload = "{\"n\":7}".into();
            inserted.insert(i + 1, extra);
            cases.push(inserted);
        }
        cases
    }

    #[test]
    fn the_incremental_check_agrees_with_verify_chain_on_every_tampering() {
        for (i, case) in tamperings().iter().enumerate() {
            assert_eq!(incremental(case), verify_chain(case), "case {i}");
        }
    }

    #[test]
    fn an_untouched_stream_passes_and_counts_its_events() {
        let events = chain(3);
        let mut check = ChainCheck::new();
        for e in &events {
            check.push(e).unwrap();
        }
        assert_eq!(check.len(), 3);
    }
}
