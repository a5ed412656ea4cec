//! What every read model is: a view of one stream, keyed by that stream, advanced one record at
//! a time by a pure step that knows the view's last applied version.

use order_domain::events::DecodeError;
use order_domain::{RecordedEvent, StreamId};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a projection does with one delivered record.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<V> {
    /// Store this new view (the record was the next version).
    Apply(V),
    /// Already applied (duplicate or older record): leave the view as it is.
    Skip,
    /// The record is beyond a gap: fold the stream's events after `after_version` instead.
    NeedHistory { after_version: u64 },
}

/// A read model: one row per stream of one kind (an order, a product).
///
/// Deliveries come at least once and may come out of order, so a view keeps the last version
/// of its stream it applied, and `step` skips what it has seen.
pub trait View: Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The projection's name (its checkpoint key).
    const NAME: &'static str;

    /// The key of the row `stream` feeds (order id, product id); `None` for another model's
    /// stream.
    fn key(stream: &StreamId) -> Option<String>;

    /// The last version of its stream this view reflects.
    fn version(&self) -> u64;

    /// The key of this view's row: what [`View::key`] gives for its stream.
    fn row_key(&self) -> String;

    /// Decides what one delivered record does to the current view.
    ///
    /// # Errors
    /// The record's payload does not decode as this stream's events.
    fn step(current: Option<&Self>, record: &RecordedEvent) -> Result<Step<Self>, DecodeError>;

    /// [`View::step`] on a view the caller owns: where the step applies, the view is changed
    /// in place (`Apply(())`) instead of copied and replaced; otherwise it is left as it is.
    /// A model whose step can change a view without copying it overrides this; the default
    /// is `step` and a replace.
    ///
    /// # Errors
    /// The record's payload does not decode as this stream's events.
    fn step_in_place(
        current: &mut Option<Self>,
        record: &RecordedEvent,
    ) -> Result<Step<()>, DecodeError> {
        Ok(match Self::step(current.as_ref(), record)? {
            Step::Apply(next) => {
                *current = Some(next);
                Step::Apply(())
            }
            Step::Skip => Step::Skip,
            Step::NeedHistory { after_version } => Step::NeedHistory { after_version },
        })
    }

    /// Folds `history` (a stream's events in version order) onto `current`.
    ///
    /// # Errors
    /// An event of `history` does not decode.
    fn fold(current: Option<Self>, history: &[RecordedEvent]) -> Result<Option<Self>, DecodeError> {
        let mut view = current;
        for record in history {
            Self::step_in_place(&mut view, record)?;
        }
        Ok(view)
    }
}
