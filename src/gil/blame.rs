//! Who made a thread wait: the holder reports where it is ([`Location`]), and each wait is
//! charged to the place its holder was when it began. The lock asks for a report by
//! setting [`REPORT_LOCATION`] on the eval breaker when a thread begins to wait; the
//! holder answers at its next check point's slow path, so a check point still costs one
//! relaxed load when nobody waits.
//!
//! Invariant: a wait is charged once, when it ends, to the place recorded for it; a wait
//! whose holder never reported (it finished, or released the GIL, before any check point)
//! is charged to the last place that holder reported during its hold, or to nothing.

use std::sync::atomic::Ordering::Relaxed;

use super::location::Location;
use super::lock::{Gil, REPORT_LOCATION, State};

impl<T> Gil<T> {
    /// The holder is at `at`: waits that began without a place get this one.
    pub(super) fn report(&self, st: &mut State, at: Location) {
        st.holder_at = Some(at);
        self.charge_pending(st, at);
    }

    /// Every queued wait without a place is charged to `at`.
    pub(super) fn charge_pending(&self, st: &mut State, at: Location) {
        for q in st.waiters.iter_mut().filter(|q| q.caused_by.is_none()) {
            q.caused_by = Some(at);
        }
        self.eval_breaker.fetch_and(!REPORT_LOCATION, Relaxed);
    }
}
