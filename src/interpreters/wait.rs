//! Waiting on a [`Link`]'s mailbox with the GIL released: the one wait of this folder.
//!
//! Invariant: an interpreter's main thread never waits longer than one slice without
//! looking for Ctrl-C and `exit` requests (`Vm::check_interrupt`); other threads wait
//! without waking for nothing.
//!
//! [`Link`]: crate::link::Link

use crate::link::Link;
use crate::vm::{Vm, VmResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a main thread waits before it looks for Ctrl-C again.
const SLICE: Duration = Duration::from_millis(50);

/// Which of a link's mailboxes.
#[derive(Clone, Copy)]
pub(super) enum Side {
    ToChild,
    ToParent,
}

impl Side {
    pub(super) fn of(self, link: &Link) -> &crate::link::Mailbox {
        match self {
            Side::ToChild => &link.to_child,
            Side::ToParent => &link.to_parent,
        }
    }
}

/// Waits until the mailbox's signal moves past `seen` (true) or the deadline passes
/// (false), with the GIL released; `Interrupt` in the main thread on Ctrl-C.
pub(super) fn wait_change(
    vm: &mut Vm,
    link: &Arc<Link>,
    side: Side,
    seen: u64,
    deadline: Option<Instant>,
) -> VmResult<bool> {
    if !vm.is_main_thread() {
        let link = link.clone();
        return Ok(vm.release(move || side.of(&link).signal.wait_change(seen, deadline)));
    }
    loop {
        vm.check_interrupt()?;
        let slice = Instant::now() + SLICE;
        let until = deadline.map_or(slice, |d| d.min(slice));
        let l = link.clone();
        if vm.release(move || side.of(&l).signal.wait_change(seen, Some(until))) {
            // A Ctrl-C that came meanwhile goes first, even if what it stopped elsewhere
            // (another interpreter) is what woke this wait.
            vm.check_interrupt()?;
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
    }
}
