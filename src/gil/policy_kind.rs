//! The built-in policies by name: [`PolicyKind`], its names on the command line and in
//! `gil_policy()`, and the [`ReleasePolicy`] each name stands for. Invariant: every kind
//! has exactly one name and one implementation, and `name` and `FromStr` agree.

use std::fmt;
use std::str::FromStr;

use super::builtin_policies::{Fifo, Interval, Priority, Ticks};
use super::deadline::Deadline;
use super::policy::ReleasePolicy;
use super::random::Random;

/// Which built-in rule decides when the holder drops the GIL and who gets it next. (A
/// host's own rule is a [`ReleasePolicy`].)
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
    /// Earliest deadline first: every thread has a deadline that moves a slice on for
    /// every slice of GIL time it holds, so threads that hold less than their share go
    /// first and none starves ([`Deadline`](super::Deadline)).
    Deadline,
    /// A seeded scheduler: at check points its generator picks, the GIL goes to a
    /// runnable thread its generator picks ([`Random`](super::Random)); the same seed
    /// repeats the same run.
    Random,
}

impl PolicyKind {
    /// Every policy, in the order the documentation lists them.
    pub const ALL: [PolicyKind; 6] = [
        PolicyKind::Interval,
        PolicyKind::Ticks,
        PolicyKind::Fifo,
        PolicyKind::Priority,
        PolicyKind::Deadline,
        PolicyKind::Random,
    ];

    /// The policies that are compared by default (`toy compare`): all but the scheduler
    /// for reproducing races, which is a tool rather than a rival.
    pub const COMPARED: [PolicyKind; 5] = [
        PolicyKind::Interval,
        PolicyKind::Ticks,
        PolicyKind::Fifo,
        PolicyKind::Priority,
        PolicyKind::Deadline,
    ];

    /// The name used on the command line and by `gil_policy()`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Interval => "interval",
            PolicyKind::Ticks => "ticks",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Priority => "priority",
            PolicyKind::Deadline => "deadline",
            PolicyKind::Random => "random",
        }
    }

    /// A fresh instance of the rule; `seed` is the `random` scheduler's.
    pub fn instance(self, seed: u64) -> Box<dyn ReleasePolicy> {
        match self {
            PolicyKind::Random => Box::new(Random::new(seed)),
            PolicyKind::Interval => Box::new(Interval),
            PolicyKind::Ticks => Box::new(Ticks::default()),
            PolicyKind::Fifo => Box::new(Fifo),
            PolicyKind::Priority => Box::new(Priority),
            PolicyKind::Deadline => Box::new(Deadline::default()),
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not one of the built-in ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsePolicyError(pub String);

impl fmt::Display for ParsePolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown GIL policy `{}` (expected interval, ticks, fifo, priority, deadline or random)",
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
