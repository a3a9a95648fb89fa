//! The scheduling policy as a trait: [`ReleasePolicy`], the questions the lock asks it,
//! and what it may read when answering ([`Waiter`], [`Context`]). The built-in policies
//! (`policy_kind.rs`, `builtin_policies.rs`, `deadline.rs`) and a host's own are all
//! implementations of it, and the lock treats them alike.
//!
//! The invariant this keeps: **a policy only answers; it never changes the lock's state.**
//! Every question is asked with the lock's mutex held, and every answer is checked before
//! it is used (a hand-off to a thread that is not waiting is ignored), so no policy can
//! break the state machine's invariants, only choose among the moves they allow.

use std::time::{Duration, Instant};

use super::thread_id::ThreadId;

/// What a policy may read about a thread waiting for the GIL, as of the moment it is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The waiting thread.
    pub tid: ThreadId,
    /// How long it has waited so far (for a holder that dropped at a check point, since
    /// the drop).
    pub waited: Duration,
    /// Whether it is coming back from a blocking call ([`GilGuard::release_while`]:
    /// I/O, `sleep`, a lock, native code) rather than from a drop or a first start. Such
    /// a thread may be shown a moment before it gets to the lock, when the holder has
    /// just ended its wait ([`GilGuard::announce_return`]) or it lets the GIL go only for
    /// microseconds ([`GilGuard::release_returning`]).
    ///
    /// [`GilGuard::release_while`]: super::GilGuard::release_while
    /// [`GilGuard::announce_return`]: super::GilGuard::announce_return
    /// [`GilGuard::release_returning`]: super::GilGuard::release_returning
    pub from_blocking: bool,
    /// How long it held the GIL the last time it had it (zero if never).
    pub last_hold: Duration,
    /// How long it has held the GIL in all.
    pub total_hold: Duration,
}

/// The lock's side of a question: the current holder and the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// The thread holding the GIL, if any (none while a released GIL waits for the
    /// thread it was handed to).
    pub holder: Option<ThreadId>,
    /// How long the holder has held the GIL this time (zero when there is none).
    pub held: Duration,
    /// How long the holder has held the GIL in all, this time included (zero when there
    /// is none).
    pub held_in_all: Duration,
    /// The moment the question is asked: every duration in it and in the waiters shown
    /// with it ends here, so a policy that keeps times of its own (deadlines, say) can
    /// place them on the same clock.
    pub now: Instant,
    /// The switch interval (`--switch-interval`, `set_switch_interval`).
    pub switch_interval: Duration,
    /// The check interval in instructions (`--check-interval`).
    pub check_interval: u32,
}

impl Context {
    /// How long `waiter` has been waiting for the current holder: since the later of its
    /// first wait and the holder's taking the GIL. The default [`ReleasePolicy::ask_after`]
    /// asks once this reaches the switch interval.
    pub fn waited_for_holder(&self, waiter: &Waiter) -> Duration {
        waiter.waited.min(self.held)
    }
}

/// What a holder whose instruction slice ran out does (see
/// [`ReleasePolicy::at_slice_end`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceEnd {
    /// Keep running: a new slice starts.
    KeepRunning,
    /// Let go and compete again (the `ticks` reason): who takes the GIL is up to
    /// [`ReleasePolicy::next_holder`] and, if it names nobody, to whoever locks first.
    Yield,
    /// Let go because the policy chose to hand the GIL on (the `schedule` reason); the
    /// next holder is [`ReleasePolicy::next_holder`]'s choice.
    HandOff,
}

/// A GIL scheduling policy: when the holder must let go, and who gets the GIL next.
///
/// The lock asks these questions with its mutex held, so answers must be quick and must
/// not block, and a policy that keeps state (a random generator, per-thread counts) needs
/// no locking of its own: `&mut self` is exclusive. Every method but [`name`] has a
/// default, which together make the `interval` policy (CPython 3.2's): a waiter asks after
/// one switch interval, nobody is handed the GIL, a dropped holder lets another thread run
/// before competing again, and instructions are not counted.
///
/// The questions:
///
/// | question | method |
/// |---|---|
/// | when does a waiter ask the holder to drop? | [`ask_after`] |
/// | does a thread coming back from a blocking call ask at once? | [`asks_on_return`] |
/// | who gets a released GIL? | [`next_holder`] |
/// | must a holder that dropped at a check point let another thread run first? | [`forced_switching`] |
/// | time slicing: is the holder stopped every so many instructions, how many for this thread, and what then? | [`counts_instructions`], [`slice`], [`at_slice_end`] |
///
/// A waiter's side ([`Waiter`]): how long it has waited, whether it is back from a
/// blocking call, how long it held the GIL last time and in all. The holder's side and the
/// settings are in [`Context`]. Whatever a policy decides, the lock keeps counting: a
/// host's policy gets the same `gil_stats()`, `--gil-stats` table, `--gil-trace` and
/// `toy timeline` as the built-in ones, with its [`name`] where theirs would be.
///
/// A toy interpreter takes one with
/// [`Builder::policy_impl`](crate::Builder::policy_impl); the policy is cloned for the
/// lock, and a forked child starts from a fresh clone of the one given.
///
/// ```
/// use toy::gil::{Context, ReleasePolicy, ThreadId, Waiter};
///
/// /// Hands a released GIL to the waiter that has held it least in all.
/// #[derive(Clone)]
/// struct LeastHeld;
///
/// impl ReleasePolicy for LeastHeld {
///     fn name(&self) -> &str {
///         "least-held"
///     }
///     fn next_holder(&mut self, waiters: &[Waiter], _: &Context) -> Option<ThreadId> {
///         waiters.iter().min_by_key(|w| w.total_hold).map(|w| w.tid)
///     }
/// }
///
/// let mut toy = toy::Interpreter::builder().policy_impl(LeastHeld).build();
/// toy.run_source(
///     "spin.toy",
///     "fn spin(n) { let s = 0\n for i in range(n) { s += i }\n return s }\n\
///      let ts = [spawn(spin, 300000), spawn(spin, 300000)]\n\
///      for t in ts { t.join() }",
/// )
/// .unwrap();
/// assert_eq!(toy.eval::<String>("gil_policy()").unwrap(), "least-held");
/// let stats = toy.gil_stats();
/// assert_eq!(stats.policy, "least-held");
/// assert_eq!(stats.reasons.total(), stats.switches);
/// ```
///
/// [`name`]: ReleasePolicy::name
/// [`ask_after`]: ReleasePolicy::ask_after
/// [`asks_on_return`]: ReleasePolicy::asks_on_return
/// [`next_holder`]: ReleasePolicy::next_holder
/// [`forced_switching`]: ReleasePolicy::forced_switching
/// [`counts_instructions`]: ReleasePolicy::counts_instructions
/// [`slice`]: ReleasePolicy::slice
/// [`at_slice_end`]: ReleasePolicy::at_slice_end
pub trait ReleasePolicy: Send + 'static {
    /// The policy's name, as `gil_policy()` and the statistics show it. Asked once.
    fn name(&self) -> &str;

    /// How much longer `waiter` lets the holder (`cx.holder`, which has held the GIL for
    /// `cx.held`) run before asking it to drop; `None`: it never asks, `Duration::ZERO`:
    /// at once. Asked when the thread begins to wait and again whenever it wakes without
    /// the GIL; the holder then drops at its next check point. Default: once the waiter
    /// has waited one switch interval for this holder
    /// ([`Context::waited_for_holder`]).
    fn ask_after(&mut self, waiter: &Waiter, cx: &Context) -> Option<Duration> {
        Some(cx.switch_interval.saturating_sub(cx.waited_for_holder(waiter)))
    }

    /// Whether `waiter`, coming back from a blocking call, asks at once whatever
    /// [`ask_after`](ReleasePolicy::ask_after) says, and asks again each new holder while
    /// it still waits. Default: no.
    fn asks_on_return(&mut self, waiter: &Waiter) -> bool {
        let _ = waiter;
        false
    }

    /// Who gets the GIL the holder is releasing: one of `waiters` (in the order they began
    /// to wait), to whom it is handed even if another thread is quicker; or `None`, for
    /// whoever locks the lock's mutex first (the releaser itself, after a drop, unless
    /// [`forced_switching`](ReleasePolicy::forced_switching)). A thread that is not among
    /// `waiters` counts as `None`. Default: `None`.
    fn next_holder(&mut self, waiters: &[Waiter], cx: &Context) -> Option<ThreadId> {
        let _ = (waiters, cx);
        None
    }

    /// Whether a holder that dropped at a check point must wait until another thread has
    /// taken the GIL before it competes again. Default: yes.
    fn forced_switching(&self) -> bool {
        true
    }

    /// Whether the holder is stopped every so many instructions (a time slice counted in
    /// bytecode instructions), besides being asked. Asked once, when the lock is built.
    /// Default: no; the holder stops only when asked.
    fn counts_instructions(&self) -> bool {
        false
    }

    /// For a policy that counts instructions: how many `holder` runs before its next
    /// stop, asked when it starts running bytecode and after every stop (a per-thread
    /// budget, at least 1). Default: the check interval.
    fn slice(&mut self, holder: ThreadId, cx: &Context) -> u32 {
        let _ = holder;
        cx.check_interval
    }

    /// For a policy that counts instructions: what `holder`, whose slice has just run
    /// out, does, with `waiters` waiting. This is how a policy drops the holder on its
    /// own, at stops it chose with [`slice`](ReleasePolicy::slice). Default: yield if
    /// anybody waits (dropping with nobody to let in would only cost time).
    fn at_slice_end(&mut self, holder: ThreadId, waiters: &[Waiter], cx: &Context) -> SliceEnd {
        let _ = (holder, cx);
        if waiters.is_empty() {
            SliceEnd::KeepRunning
        } else {
            SliceEnd::Yield
        }
    }

    /// Whether this is a scheduler, which decides alone who runs, so that a run can be
    /// repeated exactly. Asked once, when the lock is built. Default: no. For a scheduler
    /// the lock changes what it shows and what it allows:
    /// - `waiters`, in [`next_holder`](ReleasePolicy::next_holder) and
    ///   [`at_slice_end`](ReleasePolicy::at_slice_end), is every thread that can run, in
    ///   thread-id order: queued ones, ones started but not yet at the lock, threads whose
    ///   blocking wait on the program's own objects is over
    ///   ([`GilGuard::release_until`](super::GilGuard::release_until)) — and at a slice's
    ///   end the holder itself. It leaves out threads away in a blocking call
    ///   ([`GilGuard::release_while`](super::GilGuard::release_while)): when they come back
    ///   is the operating system's doing, not the program's.
    /// - the GIL is reserved for the thread named even before it reaches the lock, and
    ///   nobody else may take it; naming the holder at a slice's end keeps it running;
    /// - nobody asks for a drop: the holder stops only at the ends of its slices, so a
    ///   scheduler should count instructions.
    fn schedules(&self) -> bool {
        false
    }
}
