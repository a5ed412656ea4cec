//! What a consumer of a polled batch may checkpoint: per shard, the last record it handled.
//!
//! A consumer reports the records to hand out again (a failed one and everything after it, as
//! [`crate::projector::BatchReport`] and the terminal-event router list them); [`handled_positions`] turns
//! the batch and that list into `(shard id, sequence number)` pairs to save, so a restart
//! resumes AFTER_SEQUENCE_NUMBER each one and never skips a record that was not handled.

use std::collections::{HashMap, HashSet};

use crate::projector::ChangeRecord;

/// Per shard in `records`, the sequence number of the last record before that shard's first
/// one in `failed`; shards whose first record failed are left out (their position stays).
/// In the shards' first-seen order.
pub fn handled_positions(records: &[ChangeRecord], failed: &[String]) -> Vec<(String, String)> {
    let failed: HashSet<&str> = failed.iter().map(String::as_str).collect();
    let mut stopped: HashSet<&str> = HashSet::new();
    let mut slot: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for r in records {
        let Some(shard) = r.shard_id.as_deref() else {
            continue;
        };
        if stopped.contains(shard) {
            continue;
        }
        if failed.contains(r.sequence_number.as_str()) {
            stopped.insert(shard);
            continue;
        }
        let seq = r.sequence_number.clone();
        if let Some(&i) = slot.get(shard) {
            out[i].1 = seq;
        } else {
            slot.insert(shard, out.len());
            out.push((shard.to_owned(), seq));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CodecError;

    fn record(shard: &str, seq: &str) -> ChangeRecord {
        ChangeRecord {
            shard_id: Some(shard.to_owned()),
            sequence_number: seq.to_owned(),
            event: Err(CodecError::Invalid {
                field: "test",
                message: String::new(),
            }),
        }
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn a_batch_without_failures_checkpoints_each_shards_last_record() {
        let batch = [
            record("a", "1"),
            record("a", "2"),
            record("b", "10"),
            record("a", "3"),
        ];
        assert_eq!(
            handled_positions(&batch, &[]),
            pairs(&[("a", "3"), ("b", "10")])
        );
    }

    /// The router fails a record and every one after it, whatever its shard: each shard keeps
    /// the last record before its first failure, and a shard whose first record failed is not
    /// moved at all.
    #[test]
    fn a_failure_holds_each_shard_before_its_first_failed_record() {
        let batch = [
            record("a", "1"),
            record("b", "10"),
            record("a", "2"),
            record("b", "11"),
            record("c", "20"),
            record("a", "3"),
        ];
        let failed = ["2", "11", "20", "3"].map(str::to_owned);
        assert_eq!(
            handled_positions(&batch, &failed),
            pairs(&[("a", "1"), ("b", "10")])
        );
        // A failure in one shard only: the other shard moves to its end.
        let failed = ["2", "3"].map(str::to_owned);
        assert_eq!(
            handled_positions(&batch, &failed),
            pairs(&[("a", "1"), ("b", "11"), ("c", "20")])
        );
    }

    #[test]
    fn records_without_a_shard_are_not_checkpointed() {
        let mut r = record("a", "1");
        r.shard_id = None;
        assert!(handled_positions(&[r], &[]).is_empty());
    }
}
