//! Folding one stream, one event at a time, into the row its projection keeps.
//!
//! A [`StreamFold`] holds one view and the chain check's last hash, never the stream's events,
//! so memory stays flat however long a stream is. It produces two views when the live
//! projection has not yet consumed the whole stream: the row as it should be now (`rebuilt`,
//! what `--rebuild` writes) and the row as the live projection should have it after the events
//! it has applied (`projected`, what the live row is compared with). A running server's lag is
//! thus never mistaken for a difference.

use order_domain::envelope::ChainError;
use order_domain::events::DecodeError;
use order_domain::{RecordedEvent, StreamId, Timestamp};

use crate::audit::{StreamAudit, Violation};
use crate::chain::ChainCheck;
use crate::view::{Decoded, Model, View};

/// What a replay does besides folding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Check every stream's hash chain and version sequence.
    pub verify: bool,
    /// Fold only each stream's events up to this instant (the read models as they stood then).
    /// Live rows are not compared: they describe now.
    pub as_of: Option<Timestamp>,
    /// Replace live rows that differ with the rebuilt ones (never regressing a row).
    pub rebuild: bool,
}

/// Why a stream cannot be trusted or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The hash chain or version sequence is broken: an event was changed, removed or inserted.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// An event's payload cannot be decoded (even after upcasting).
    #[error("{stream} version {version}: cannot be decoded: {error}")]
    Undecodable {
        stream: String,
        version: u64,
        error: DecodeError,
    },
    /// A stored row cannot even be read as an event (bad stream id, event id, ...).
    #[error("{stream} version {version}: stored row is unreadable: {detail}")]
    Unreadable {
        stream: String,
        version: String,
        detail: String,
    },
    /// The log's events contradict each other: money or stock that does not add up (see
    /// [`crate::audit`]; checked with `verify`).
    #[error("{0}")]
    Audit(Violation),
}

/// How far the live projection has got into a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Horizon {
    /// It has applied every event read so far.
    Whole,
    /// It stopped before an event; the view it should hold is the one before that event.
    Before(Option<View>),
}

/// The running fold of one stream.
#[derive(Debug)]
pub struct StreamFold {
    stream: StreamId,
    target: Option<(Model, String)>,
    chain: Option<ChainCheck>,
    audit: Option<StreamAudit>,
    as_of: Option<Timestamp>,
    past_as_of: bool,
    view: Option<View>,
    /// The view before the first event the live projection has not applied yet.
    horizon: Horizon,
    events: u64,
    folded: u64,
    pending: u64,
    head_version: u64,
    decodable: bool,
    failure: Option<Failure>,
}

/// A finished stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedStream {
    pub stream: StreamId,
    /// The read model and row key the stream feeds (`None` for a stream of another kind).
    pub target: Option<(Model, String)>,
    /// The row from every event (up to `as_of`).
    pub rebuilt: Option<View>,
    /// The row from the events the live projection has applied, when that is fewer than all.
    horizon: Horizon,
    /// Events read.
    pub events: u64,
    /// Events folded (those up to `as_of`).
    pub folded: u64,
    /// Events the live projection has not applied yet.
    pub pending: u64,
    /// The stream's last stored version.
    pub head_version: u64,
    /// Whether every event could be read and decoded (a broken chain still folds; a stream
    /// that cannot be read has no trustworthy row to compare or write).
    pub readable: bool,
    /// The first thing wrong with the stream, if any.
    pub failure: Option<Failure>,
    /// The stream's audit (with `verify`), for a stream that verified and decoded.
    pub audit: Option<StreamAudit>,
}

impl FoldedStream {
    /// What the live row should be now, given the events its projection has applied.
    pub fn projected(&self) -> Option<&View> {
        match &self.horizon {
            Horizon::Before(view) => view.as_ref(),
            Horizon::Whole => self.rebuilt.as_ref(),
        }
    }
}

impl StreamFold {
    /// Starts folding `stream`.
    pub fn new(stream: StreamId, options: &ReplayOptions) -> Self {
        let target = Model::of_stream(&stream);
        let audit = match target {
            Some((Model::OrderStatus, _)) if options.verify => {
                Some(StreamAudit::order(stream.as_str()))
            }
            Some((Model::Inventory, _)) if options.verify => {
                Some(StreamAudit::product(stream.as_str()))
            }
            _ => None,
        };
        Self {
            target,
            stream,
            chain: options.verify.then(ChainCheck::new),
            audit,
            as_of: options.as_of,
            past_as_of: false,
            view: None,
            horizon: Horizon::Whole,
            events: 0,
            folded: 0,
            pending: 0,
            head_version: 0,
            decodable: true,
            failure: None,
        }
    }

    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// Counts only events up to `at` towards the audit's cross-stream check (see
    /// [`StreamAudit::until`]); `None` counts every event.
    #[must_use]
    pub fn with_audit_until(mut self, at: Option<Timestamp>) -> Self {
        self.audit = self.audit.map(|a| a.until(at));
        self
    }

    /// Takes the stream's next stored event. `projected` says whether the live projection has
    /// already applied it (always a prefix of the stream: the change feed delivers in order).
    pub fn push(&mut self, event: &RecordedEvent, projected: bool) {
        self.events += 1;
        self.head_version = event.version;
        if let Some(chain) = &mut self.chain
            && self.failure.is_none()
            && let Err(e) = chain.push(event)
        {
            self.failure = Some(Failure::Chain(e));
        }
        if !projected {
            self.pending += 1;
            if matches!(self.horizon, Horizon::Whole) {
                self.horizon = Horizon::Before(self.view.clone());
            }
        }
        // "As it stood at T": a stream's state at T is a prefix of it, so the first event after
        // T ends the fold even if a later one carries an earlier clock.
        if self.as_of.is_some_and(|t| event.occurred_at > t) {
            self.past_as_of = true;
        }
        if self.past_as_of || !self.decodable {
            return;
        }
        let Some((model, _)) = self.target else {
            return;
        };
        // Decoded once, for the view and for the audit.
        match Decoded::decode(model, event) {
            Ok(decoded) => {
                if let Some(audit) = &mut self.audit {
                    audit.push(event, decoded.audited());
                }
                self.view = View::step_decoded(self.view.take(), event, decoded);
                self.folded += 1;
            }
            Err(error) => {
                self.decodable = false;
                self.view = None;
                // A decode error outranks a chain error found earlier only if there was none.
                if self.failure.is_none() {
                    self.failure = Some(Failure::Undecodable {
                        stream: self.stream.as_str().to_owned(),
                        version: event.version,
                        error,
                    });
                }
            }
        }
    }

    /// Records a stored row of this stream that could not be read as an event.
    pub fn unreadable(&mut self, version: String, detail: String) {
        self.events += 1;
        self.decodable = false;
        self.view = None;
        if self.failure.is_none() {
            self.failure = Some(Failure::Unreadable {
                stream: self.stream.as_str().to_owned(),
                version,
                detail,
            });
        }
    }

    /// Ends the stream.
    pub fn finish(self) -> FoldedStream {
        // A stream that fails its chain or does not decode has no facts to audit.
        let audited = self.decodable && self.failure.is_none();
        FoldedStream {
            audit: self.audit.filter(|_| audited),
            stream: self.stream,
            target: self.target,
            rebuilt: self.view,
            horizon: self.horizon,
            events: self.events,
            folded: self.folded,
            pending: self.pending,
            head_version: self.head_version,
            readable: self.decodable,
            failure: self.failure,
        }
    }
}
