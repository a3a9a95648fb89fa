//! What a forked child makes of a primitive made before the fork: the child has only the
//! thread that forked, so whatever the parent's other threads held or waited for there is
//! gone, and the primitive's `Signal` may have been copied with its mutex held.
//!
//! Invariant: the first use of a primitive in a child replaces its signal (`renew` says
//! so), and the caller then frees what threads other than the forking one held: a lock
//! they owned is free, their semaphore permits are back, their condition and barrier
//! waits are forgotten. Until that first use nothing in the child has touched it, so what
//! it holds is exactly what the fork copied.

use crate::signal::Signal;
use std::sync::Arc;

/// Replaces `signal` if it was made before this process was forked; true if it did (the
/// primitive's other state is then the parent's, to be cleaned up by the caller).
pub(super) fn renew(signal: &mut Arc<Signal>) -> bool {
    if signal.is_stale() {
        *signal = Arc::default();
        true
    } else {
        false
    }
}
