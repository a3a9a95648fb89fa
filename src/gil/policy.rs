//! Scheduling policies: [`PolicyKind`], its names on the command line, and the private
//! `Policy` trait with one small implementation per kind. A policy only answers questions
//! the lock asks with its mutex held (how long to wait before asking, who is handed a
//! released GIL, whether a dropped holder stands aside); it never changes the state, so
//! no policy can break the lock's invariants, only choose among the moves they allow.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::thread_id::ThreadId;

/// Which rule decides when the holder drops the GIL and who gets it next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A waiter asks after one switch interval; the holder drops at its next check point
    /// and does not compete again until another thread has taken the GIL.
    #[default]
    Interval,
    /// The holder drops every N instructions and immediately competes again (old CPython).
    Ticks,
    /// Like `Interval`, but a released GIL is handed to the longest waiter.
    Fifo,
    /// Like `Interval`, but a thread back from a blocking call asks at once and is handed
    /// the GIL at the holder's next check point.
    Priority,
}

impl PolicyKind {
    /// Every policy, in the order the documentation lists them.
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::Interval,
        PolicyKind::Ticks,
        PolicyKind::Fifo,
        PolicyKind::Priority,
    ];

    /// The name used on the command line and by `gil_policy()`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Interval => "interval",
            PolicyKind::Ticks => "ticks",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Priority => "priority",
        }
    }

    pub(super) fn rules(self) -> &'static dyn Policy {
        match self {
            PolicyKind::Interval => &Interval,
            PolicyKind::Ticks => &Ticks,
            PolicyKind::Fifo => &Fifo,
            PolicyKind::Priority => &Priority,
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not one of `interval`, `ticks`, `fifo`, `priority`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsePolicyError(pub String);

impl fmt::Display for ParsePolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown GIL policy `{}` (expected interval, ticks, fifo or priority)",
            self.0
        )
    }
}

impl std::error::Error for ParsePolicyError {}

impl FromStr for PolicyKind {
    type Err = ParsePolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyKind::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ParsePolicyError(s.to_string()))
    }
}

/// A thread blocked in `take`, as a policy sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Waiter {
    pub(super) tid: ThreadId,
    /// Waiting to come back from `release_while` (a blocking call).
    pub(super) from_blocking: bool,
}

/// One scheduling rule. Every method runs with the state mutex held and must be quick.
pub(super) trait Policy: Sync {
    /// How long a waiter sleeps before it asks the holder to drop; `None`: never asks.
    fn ask_after(&self, switch_interval: Duration) -> Option<Duration>;
    /// Whether a thread coming back from a blocking call asks at once.
    fn asks_on_return(&self) -> bool {
        false
    }
    /// The waiter a released GIL is reserved for; `None`: whoever locks the mutex first.
    fn next_holder(&self, waiters: &[Waiter]) -> Option<ThreadId>;
    /// Whether a holder that dropped at a check point stays out until another thread
    /// has taken the GIL.
    fn forced_switching(&self) -> bool;
    /// Whether the VM counts instructions and calls `check_point` when the count runs
    /// out (instead of waiting for a drop request).
    fn counts_instructions(&self) -> bool {
        false
    }
}

/// CPython 3.2+: ask after an interval, drop, let someone else in, compete again.
struct Interval;

impl Policy for Interval {
    fn ask_after(&self, switch_interval: Duration) -> Option<Duration> {
        Some(switch_interval)
    }
    fn next_holder(&self, _: &[Waiter]) -> Option<ThreadId> {
        None
    }
    fn forced_switching(&self) -> bool {
        true
    }
}

/// CPython before 3.2: drop every N instructions; nobody asks and nobody is handed the
/// GIL, so the dropper, already running, often takes it straight back.
struct Ticks;

impl Policy for Ticks {
    fn ask_after(&self, _: Duration) -> Option<Duration> {
        None
    }
    fn next_holder(&self, _: &[Waiter]) -> Option<ThreadId> {
        None
    }
    fn forced_switching(&self) -> bool {
        false
    }
    fn counts_instructions(&self) -> bool {
        true
    }
}

/// Interval, but every release is a hand-off to the longest waiter (ticket order).
struct Fifo;

impl Policy for Fifo {
    fn ask_after(&self, switch_interval: Duration) -> Option<Duration> {
        Some(switch_interval)
    }
    fn next_holder(&self, waiters: &[Waiter]) -> Option<ThreadId> {
        waiters.first().map(|w| w.tid)
    }
    fn forced_switching(&self) -> bool {
        true
    }
}

/// Interval, but threads back from blocking calls jump the queue: they ask at once and
/// are handed the GIL, which keeps I/O threads from queueing behind CPU threads (the
/// convoy effect).
struct Priority;

impl Policy for Priority {
    fn ask_after(&self, switch_interval: Duration) -> Option<Duration> {
        Some(switch_interval)
    }
    fn asks_on_return(&self) -> bool {
        true
    }
    fn next_holder(&self, waiters: &[Waiter]) -> Option<ThreadId> {
        waiters.iter().find(|w| w.from_blocking).map(|w| w.tid)
    }
    fn forced_switching(&self) -> bool {
        true
    }
}
