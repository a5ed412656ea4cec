//! How a replay reports while it runs (a progress bar, plain lines, or nothing).

use crate::view::View;

/// Hooks a replay calls as it goes. Both have empty defaults; `()` observes nothing.
pub trait Observer {
    /// Called every few thousand events with the number of events read so far.
    fn progress(&mut self, _events: u64) {}

    /// Called with each stream's rebuilt row (with `as_of`, the row as it stood then).
    fn view(&mut self, _view: &View) {}
}

impl Observer for () {}
