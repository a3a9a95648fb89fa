//! Where the holder was: [`Location`], an opaque number the embedder gives the lock for a
//! place in its program (toy's VM: one per `file:line`), and [`LocationNames`], the
//! embedder's way to turn those numbers back into text for the statistics and the trace.
//!
//! The invariant this keeps: the lock never interprets a location. It stores the numbers
//! the holder reports ([`GilGuard::report_location`](super::GilGuard::report_location))
//! and charges waits to them; only the names it was given turn them into words, and a
//! number it has no name for is shown as `#N`, never guessed.

use std::fmt;
use std::sync::Arc;

/// A place in the embedder's program, as a number the embedder chose. Dense numbers
/// (0, 1, 2, …) keep the lock's per-location table small: it is indexed by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location(pub u32);

/// Turns a [`Location`] into the text shown for it (`"convoy.toy:7"`), or `None` when the
/// embedder has no name for it. Called without the GIL held and with none of the lock's
/// own mutexes held, from whichever thread asks for statistics or writes the trace.
#[derive(Clone)]
pub struct LocationNames(Arc<dyn Fn(Location) -> Option<String> + Send + Sync>);

impl LocationNames {
    /// Names given by `name`.
    pub fn new(name: impl Fn(Location) -> Option<String> + Send + Sync + 'static) -> LocationNames {
        LocationNames(Arc::new(name))
    }

    /// The name of `at`: the embedder's, or `#N` when it has none.
    pub fn name(&self, at: Location) -> String {
        (self.0)(at).unwrap_or_else(|| unnamed(at))
    }
}

/// How a location without a name is shown.
pub(super) fn unnamed(at: Location) -> String {
    format!("#{}", at.0)
}

impl fmt::Debug for LocationNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocationNames(..)")
    }
}

impl PartialEq for LocationNames {
    /// The same names: the same function, shared.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LocationNames {}
