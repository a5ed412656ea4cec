//! The verdict on one stream's row: does the live row differ, and what would a rebuild write.

use crate::compare::{Difference, LiveRow, compare};
use crate::fold::{FoldedStream, ReplayOptions};
use crate::view::{Model, View};

/// A change `--rebuild` makes to a live read model. Each is conditional, checked again in the
/// write itself, so that a projection running at the same time is never undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Write this row, unless the live row has already moved past its version.
    Put(View),
    /// Delete a row the log does not justify, unless by the time of the write it does: the
    /// stream then has events past `head_version` (0: the stream had none), or the row was
    /// rewritten past it.
    Delete {
        model: Model,
        key: String,
        head_version: u64,
    },
}

/// What replay concludes about one row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// How the live row differs from what its projection should have made of the log.
    pub difference: Option<Difference>,
    /// What a rebuild writes (only with `rebuild`).
    pub repair: Option<Repair>,
}

/// Judges the live row of a folded stream.
pub fn judge(folded: &FoldedStream, live: Option<&LiveRow>, options: &ReplayOptions) -> Verdict {
    let Some((model, key)) = &folded.target else {
        return Verdict::default();
    };
    // At another time the live rows are not comparable; an unreadable stream has no row to
    // trust (its failure is reported instead).
    if options.as_of.is_some() || !folded.readable {
        return Verdict::default();
    }
    let lagging = folded.projected() != folded.rebuilt.as_ref();
    let against_head = if lagging {
        compare(folded.rebuilt.as_ref(), live)
    } else {
        None
    };
    // The live row should be what its projection made of the events it applied; a row already
    // at the log's head (a rebuild wrote ahead of the checkpoint) is right too.
    let difference = compare(folded.projected(), live)
        .filter(|_| !lagging || against_head.is_some())
        .map(|mismatch| Difference {
            model: *model,
            key: key.clone(),
            mismatch,
        });
    // A tampered stream is not written back: that would launder the tampering into the views.
    let repair = (options.rebuild && folded.failure.is_none())
        .then(|| {
            let stale = if lagging {
                against_head.is_some()
            } else {
                difference.is_some()
            };
            stale.then(|| match &folded.rebuilt {
                Some(view) => Repair::Put(view.clone()),
                None => Repair::Delete {
                    model: *model,
                    key: key.clone(),
                    head_version: folded.head_version,
                },
            })
        })
        .flatten();
    Verdict { difference, repair }
}

/// Judges a live row whose stream has no events at all.
pub fn judge_orphan(model: Model, row: &LiveRow, options: &ReplayOptions) -> Verdict {
    if options.as_of.is_some() {
        return Verdict::default();
    }
    let difference = compare(None, Some(row)).map(|mismatch| Difference {
        model,
        key: row.key.clone(),
        mismatch,
    });
    let repair = options.rebuild.then(|| Repair::Delete {
        model,
        key: row.key.clone(),
        head_version: 0,
    });
    Verdict { difference, repair }
}
