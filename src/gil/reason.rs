//! Why the GIL changed hands: [`SwitchReason`], the five answers, their names in
//! `gil_stats()["reasons"]` and the trace, and [`Reasons`], a count of each.
//!
//! Invariant: every switch (the GIL taken by a thread other than the last holder) is
//! counted under exactly one reason, the one the last holder released it for, so the
//! counts add up to the `switches` statistic.

use std::fmt;
use std::ops::{Index, IndexMut};

/// Why a holder let the GIL go, and so why the next holder got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwitchReason {
    /// A waiter asked; the holder dropped at a check point.
    DropRequest,
    /// The holder's instruction slice ran out (`ticks`).
    Ticks,
    /// The holder blocked or called native code (or, in a host, let go of its guard
    /// between calls).
    Blocking,
    /// The holder finished.
    ThreadEnd,
    /// The policy chose, at the end of an instruction slice, to hand the GIL on.
    Schedule,
}

impl SwitchReason {
    /// Every reason, in the order the statistics list them.
    pub const ALL: [SwitchReason; 5] = [
        SwitchReason::DropRequest,
        SwitchReason::Ticks,
        SwitchReason::Blocking,
        SwitchReason::ThreadEnd,
        SwitchReason::Schedule,
    ];

    /// The name used by `gil_stats()["reasons"]` and the trace's `args.reason`.
    pub fn name(self) -> &'static str {
        match self {
            SwitchReason::DropRequest => "drop_request",
            SwitchReason::Ticks => "ticks",
            SwitchReason::Blocking => "blocking",
            SwitchReason::ThreadEnd => "thread_end",
            SwitchReason::Schedule => "schedule",
        }
    }

    /// The reason named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<SwitchReason> {
        SwitchReason::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for SwitchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A count per reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reasons([u64; 5]);

impl Reasons {
    /// The counts with their reasons, in [`SwitchReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (SwitchReason, u64)> + '_ {
        SwitchReason::ALL.into_iter().map(|r| (r, self[r]))
    }

    /// All the counts together.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl Index<SwitchReason> for Reasons {
    type Output = u64;
    fn index(&self, reason: SwitchReason) -> &u64 {
        &self.0[reason as usize]
    }
}

impl IndexMut<SwitchReason> for Reasons {
    fn index_mut(&mut self, reason: SwitchReason) -> &mut u64 {
        &mut self.0[reason as usize]
    }
}
