//! The lock itself: `Gil<T>`, its `State` behind one mutex, and the transitions `take`,
//! `release` and `request_drop` that every path through the module goes through, plus
//! thread registration and the rebuild after `fork`. This file keeps the state machine's
//! invariants (the table in the module docs): at most one holder, `locked ==
//! holder.is_some()`, a reservation only ever for a queued waiter, and a waiter leaves the
//! queue only by taking the GIL. It imports nothing from the rest of the crate.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{
    AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::time::{Duration, Instant};

use super::cpu::{self, Placement, placement};
use super::location::{Location, LocationNames};
use super::policy::{ReleasePolicy, Waiter};
use super::policy_kind::PolicyKind;
use super::policy_source::{self, CustomPolicy};
use super::queued::Queued;
use super::reason::{Reasons, SwitchReason};
use super::sync::{Condvar, Invariant, Mutex, MutexGuard};
use super::thread_id::ThreadId;
use super::trace::{End, Event, EventKind};

/// Eval-breaker bit owned by the lock: a waiter asks the holder to drop the GIL.
pub const DROP_REQUEST: u32 = 1;

/// Eval-breaker bit owned by the lock: a thread has begun to wait, and the holder should
/// say where it is ([`GilGuard::report_location`](super::GilGuard::report_location)) at
/// its next check point, so the wait can be charged to that place.
pub const REPORT_LOCATION: u32 = 1 << 16;

/// Every eval-breaker bit the lock owns. The others belong to whoever embeds the lock;
/// the lock never reads or writes them.
pub const GIL_BITS: u32 = DROP_REQUEST | REPORT_LOCATION;

/// How long a waiter that has just asked the holder to drop watches for the release before
/// it sleeps. A holder running bytecode drops at its next check point, microseconds away,
/// while putting the waiter to sleep and waking it costs two context switches and, on a
/// virtual machine, a wake-up of an idle vCPU whose tail runs to milliseconds. The spin
/// ends early when the GIL is released (to anyone: the waiter then looks under the mutex).
const HANDOFF_SPIN: Duration = Duration::from_micros(50);

/// Looks at the release count between two readings of the clock while spinning.
const SPIN_LOOKS_PER_CLOCK: u32 = 32;

/// The smallest switch interval accepted; zero would make waiters spin. An answer of
/// [`ReleasePolicy::ask_after`] shorter than this means "at once".
pub(super) const MIN_SWITCH_INTERVAL: Duration = Duration::from_micros(1);

/// How a [`Gil`] is set up. `Default`: interval policy, 5 ms, 100 instructions, no trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GilConfig {
    /// The built-in policy, unless `custom_policy` is given.
    pub policy: PolicyKind,
    /// A host's own policy, which then replaces `policy`.
    pub custom_policy: Option<CustomPolicy>,
    /// How long a waiter waits before asking the holder to drop (not used by `ticks`).
    pub switch_interval: Duration,
    /// Instructions between drops under `ticks` (not used by the other policies).
    pub check_interval: u32,
    /// Record per-thread events for [`Gil::write_trace`].
    pub trace: bool,
    /// A thread taking the GIL from a holder that dropped at a check point moves to that
    /// holder's CPU (see "Where the holder runs" above).
    pub follow_cpu: bool,
    /// Names for the [`Location`]s the holder reports, used by the statistics and the
    /// trace; without them a location is shown as `#N`.
    pub location_names: Option<LocationNames>,
    /// The `random` scheduler's seed (`--gil-seed`); other policies ignore it.
    pub seed: u64,
}

impl Default for GilConfig {
    fn default() -> Self {
        GilConfig {
            policy: PolicyKind::Interval,
            custom_policy: None,
            switch_interval: Duration::from_millis(5),
            check_interval: 100,
            trace: false,
            follow_cpu: true,
            location_names: None,
            seed: 1,
        }
    }
}

/// Per-thread bookkeeping: counters for `stats()`, open intervals, trace buffer.
#[derive(Debug, Default)]
pub(super) struct ThreadRec {
    pub(super) exited: bool,
    pub(super) acquisitions: u64,
    pub(super) hold: Duration,
    /// The length of its most recent hold, once it has ended.
    pub(super) last_hold: Duration,
    pub(super) wait: Duration,
    pub(super) max_wait: Duration,
    pub(super) forced_drops: u64,
    pub(super) drop_requests: u64,
    pub(super) cpu_moves: u64,
    pub(super) held_since: Option<Instant>,
    pub(super) waiting_since: Option<Instant>,
    /// Empty and never allocated unless tracing is on.
    pub(super) events: Vec<Event>,
    /// Under a scheduler: away in a blocking call (`release_while`, or between a host's
    /// calls), so not runnable until it comes back to the lock.
    pub(super) away: bool,
    /// Under a scheduler: blocked on one of the program's objects (`release_until`); it
    /// may run again once this test passes.
    pub(super) blocked: Option<WakeTest>,
    /// What the thread sleeps on while it waits for the GIL: its own, so a release wakes
    /// exactly the waiter that may take the GIL, not every waiter one after another
    /// through the mutex. Shared so the sleeper holds it while the state may move.
    pub(super) wake: Arc<Condvar>,
    /// Inside a blocking call (`release_while`, `release_returning`) and not yet back at
    /// the lock: only such a thread may be queued before it arrives ([`Gil::announce`]).
    pub(super) in_blocking_call: bool,
    /// The thread's id with the operating system, once it has come to the lock: what a
    /// releaser names to wake it on its own CPU.
    pub(super) os_tid: i32,
    /// Pinned by a releaser to the releaser's CPU for its wake-up, with the mask to give
    /// back once it runs ([`cpu::CpuMask`]).
    pub(super) pinned: Option<cpu::CpuMask>,
    /// Asleep in `take`, waiting to be woken for the GIL: the only time it may be pinned,
    /// besides an announced thread's way back from its blocking call to `take`.
    pub(super) asleep: bool,
}

/// When a thread blocked under a scheduler may run again: asked by the holder, under the
/// state's mutex, whenever it chooses who runs next.
pub(super) struct WakeTest(pub(super) Box<dyn Fn() -> bool + Send>);

impl fmt::Debug for WakeTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WakeTest")
    }
}

/// The policy, where only the holder of the state's mutex can ask it anything.
pub(super) struct PolicySlot(pub(super) Box<dyn ReleasePolicy>);

impl fmt::Debug for PolicySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicySlot({:?})", self.0.name())
    }
}

/// What a holder that lets the GIL go for a call does next, as far as the lock is
/// concerned ([`GilGuard::release_for`](super::GilGuard::release_for)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Releaser {
    /// Nothing the lock acts on (`release_while`).
    Leaves,
    /// Back in microseconds (`release_returning`): queued at once as a thread back from a
    /// blocking call, before the policy chooses who gets the GIL, so a policy that would
    /// hand the GIL straight back to it does so now, instead of to another waiter it
    /// would take it back from.
    Returns,
    /// Sleeps, and will wake on the CPU it is on (`release_keeping_cpu`): the next holder
    /// moves off that CPU if it finds itself there (when following CPUs).
    KeepsCpu,
    /// Stops running at once: sleeps until another thread acts (a join, a lock, a queue)
    /// or ends. Its CPU is about to be free, so the waiter its release wakes, if asleep
    /// for the GIL, is woken there (when following CPUs): woken on an idle CPU instead, it
    /// would wait for that CPU to wake up, 20-30 µs on a 2-vCPU VM, with the GIL held by
    /// nobody meanwhile.
    Stops,
}

/// The waiter on watch: the one waiter whose sleep ends when its ask is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Watch {
    pub(super) watcher: ThreadId,
    /// When it asks the holder to drop.
    pub(super) at: Instant,
    /// Woken then by the alarm (it was put on watch by a change of holder, asleep for
    /// longer); otherwise its own sleep ends then.
    pub(super) by_alarm: bool,
}

/// Everything the mutex protects; the module docs' table gives each field's invariant.
#[derive(Debug)]
pub(super) struct State {
    pub(super) locked: bool,
    pub(super) holder: Option<ThreadId>,
    pub(super) last_holder: Option<ThreadId>,
    pub(super) switch_number: u64,
    pub(super) reserved_for: Option<ThreadId>,
    pub(super) waiters: Vec<Queued>,
    pub(super) forced_drops: u64,
    pub(super) drop_requests: u64,
    pub(super) dropped_on_cpu: Option<u32>,
    pub(super) kept_cpu: Option<u32>,
    pub(super) cpu_moves: u64,
    /// Indexed by `ThreadId - 1`; `None` for ids registered before a fork.
    pub(super) threads: Vec<Option<ThreadRec>>,
    pub(super) policy: PolicySlot,
    /// The waiters as the policy is shown them: refilled for each question, kept to
    /// reuse its room.
    pub(super) views: Vec<Waiter>,
    /// Why the GIL was last released; counted under `reasons` if another thread takes it.
    pub(super) released_for: SwitchReason,
    pub(super) reasons: Reasons,
    /// Where the holder said it was, last, during this hold.
    pub(super) holder_at: Option<Location>,
    /// Where the last holder said it was, last, before it released the GIL.
    pub(super) released_at: Option<Location>,
    /// Waiting time charged to the place the holder was when each wait began.
    pub(super) waits_caused: HashMap<Location, Duration>,
    /// The policy is a scheduler ([`ReleasePolicy::schedules`]), asked once.
    pub(super) schedules: bool,
    /// Under a scheduler, the thread the holder's slice end chose: the next release is
    /// reserved for it. Set only just before that release, which clears it.
    pub(super) handing_to: Option<ThreadId>,
    /// The waiter on watch: the one waiter whose sleep ends when its ask is due. The
    /// others sleep until woken (see `watch.rs`).
    pub(super) watch: Option<Watch>,
    /// When the process's alarm will look at this lock's watch, if it is set.
    pub(super) alarm_due: Option<Instant>,
}

impl ThreadRec {
    /// Queued for the GIL while still away in its blocking call ([`Gil::announce`]): a
    /// thread in a blocking call cannot be waiting out a forced switch, so `waiting_since`
    /// is set only because it is in `waiters`.
    pub(super) fn announced(&self) -> bool {
        self.in_blocking_call && self.waiting_since.is_some()
    }
}

impl State {
    pub(super) fn new(policy: Box<dyn ReleasePolicy>) -> State {
        let schedules = policy.schedules();
        State {
            schedules,
            handing_to: None,
            watch: None,
            alarm_due: None,
            locked: false,
            holder: None,
            last_holder: None,
            switch_number: 0,
            reserved_for: None,
            waiters: Vec::new(),
            forced_drops: 0,
            drop_requests: 0,
            dropped_on_cpu: None,
            kept_cpu: None,
            cpu_moves: 0,
            threads: Vec::new(),
            policy: PolicySlot(policy),
            views: Vec::new(),
            released_for: SwitchReason::Blocking,
            reasons: Reasons::default(),
            holder_at: None,
            released_at: None,
            waits_caused: HashMap::new(),
        }
    }

    /// Whether `tid` may take the GIL now: it is free and reserved for `tid` or for
    /// nobody — and, under a scheduler, a thread blocked on the program's objects takes it
    /// only when it is handed to it.
    pub(super) fn can_take(&self, tid: ThreadId) -> bool {
        if self.locked {
            return false;
        }
        match self.reserved_for {
            Some(r) => r == tid,
            None => !self.schedules || self.rec(tid).blocked.is_none(),
        }
    }

    /// Wakes waiter `tid`, asleep on its own `wake`, to look at the state again: what a
    /// release, a new watch and the alarm do (a thread not registered, nothing).
    pub(super) fn wake(&self, tid: ThreadId) {
        if let Some(rec) = self.threads.get(tid.index()).and_then(Option::as_ref) {
            rec.wake.notify_one();
        }
    }

    pub(super) fn rec(&self, tid: ThreadId) -> &ThreadRec {
        self.threads
            .get(tid.index())
            .and_then(Option::as_ref)
            .unwrap_or_else(|| panic!("thread {tid} is not registered with this GIL"))
    }

    pub(super) fn rec_mut(&mut self, tid: ThreadId) -> &mut ThreadRec {
        self.threads
            .get_mut(tid.index())
            .and_then(Option::as_mut)
            .unwrap_or_else(|| panic!("thread {tid} is not registered with this GIL"))
    }
}

impl Invariant for State {
    /// The table's invariants that tie fields together, as the model checks assert them
    /// at every unlock (see `sync`).
    fn check(&self) {
        assert_eq!(self.locked, self.holder.is_some(), "`locked` disagrees with `holder`");
        if let Some(reserved) = self.reserved_for {
            assert!(!self.locked, "the GIL is held while reserved for {reserved}");
            if self.schedules {
                // A scheduler hands the GIL to threads that may not have arrived yet.
                assert!(
                    !self.rec(reserved).exited,
                    "the GIL is reserved for {reserved}, which exited"
                );
            } else {
                assert!(
                    self.waiters.iter().any(|w| w.tid == reserved),
                    "the GIL is reserved for {reserved}, who is not waiting"
                );
            }
        }
        if let Some(Watch { watcher, .. }) = self.watch {
            assert!(
                self.waiters.iter().any(|w| w.tid == watcher),
                "{watcher} is on watch but not waiting"
            );
        }
        for (i, waiter) in self.waiters.iter().enumerate() {
            let tid = waiter.tid;
            assert_ne!(self.holder, Some(tid), "the holder {tid} is queued");
            assert!(self.waiters[..i].iter().all(|w| w.tid != tid), "{tid} is queued twice");
            assert!(self.rec(tid).waiting_since.is_some(), "{tid} is queued but not waiting");
        }
        for (index, rec) in self.threads.iter().enumerate() {
            let Some(rec) = rec else { continue };
            let tid = ThreadId(index as u32 + 1);
            assert_eq!(
                rec.held_since.is_some(),
                self.holder == Some(tid),
                "{tid}: `held_since` disagrees with `holder`"
            );
            assert!(
                rec.pinned.is_none() || rec.asleep || rec.announced(),
                "{tid} runs pinned"
            );
        }
        assert!(
            self.reasons.total() == self.switch_number,
            "the reasons ({}) do not add up to the switches ({})",
            self.reasons.total(),
            self.switch_number
        );
    }
}

/// The synchronization primitives, in an `Arc` so a fork child can replace them wholesale
/// and the process's alarm can reach them (weakly) without borrowing the lock.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// A holder that was forced to drop sleeps here until the GIL changes hands.
    pub(super) switch_cv: Condvar,
    /// Bumped by every release, under the mutex: what a waiter that has just asked the
    /// holder to drop watches while it spins (see `Gil::spin_once_for_release`).
    releases: AtomicU64,
}

impl Shared {
    fn new(state: State) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(state),
            switch_cv: Condvar::new(),
            releases: AtomicU64::new(0),
        })
    }
}

/// The global interpreter lock, owning the interpreter state `T`.
///
/// Correct use: register each OS thread once, take the GIL with [`Gil::acquire`], test
/// the eval breaker at check points, and do blocking work in
/// [`GilGuard::release_while`](super::GilGuard::release_while):
///
/// ```
/// use std::sync::atomic::Ordering::Relaxed;
/// use std::thread;
/// use toy::gil::{Gil, GilConfig};
///
/// let gil = Gil::new(Vec::<u64>::new(), GilConfig::default());
/// let gil = &gil;
/// let main = gil.register_thread(); // thread 1
/// thread::scope(|s| {
///     let worker = gil.register_thread(); // thread 2
///     s.spawn(move || {
///         let mut g = gil.acquire(worker);
///         for i in 0..1000 {
///             g.push(i); // interpreter work, under the GIL
///             if gil.eval_breaker().load(Relaxed) != 0 {
///                 g.check_point(); // someone asked: maybe let them run
///             }
///         }
///         drop(g);
///         gil.thread_exit(worker);
///     });
///     let mut g = gil.acquire(main);
///     let n = g.len() as u64; // copy out what the blocking work needs...
///     let doubled = g.release_while(move || n * 2); // ...and run it without the GIL
///     g.push(doubled);
/// });
/// let mut state = gil.acquire(main);
/// assert_eq!(state.len(), 1001);
/// ```
///
/// Code that runs with the GIL released cannot take interpreter objects along: capturing
/// a `!Send` object (an `Rc`, a toy `Value`) in the closure passed to `release_while` is a
/// compile error (E0277), and so is keeping a borrow of the state across the call
/// (E0502). tests/compile_fail/ holds each case with the error it must produce, beside a
/// twin that compiles.
pub struct Gil<T> {
    /// The eval breaker; see the module docs.
    pub(super) eval_breaker: std::sync::Arc<AtomicU32>,
    pub(super) value: UnsafeCell<T>,
    /// Replaced only by `after_fork_in_child`, when no other thread exists. Shared with
    /// the process's alarm, which holds it weakly.
    shared: UnsafeCell<Arc<Shared>>,
    /// The built-in policy, or the host's that replaces it: kept to make a fresh instance
    /// for a forked child.
    policy_kind: PolicyKind,
    custom_policy: Option<CustomPolicy>,
    /// The scheduler's seed, for a forked child's fresh instance.
    seed: u64,
    /// The policy's name, asked once.
    policy_name: Box<str>,
    /// Whether the policy counts instructions, asked once.
    pub(super) counts_instructions: bool,
    /// Whether the policy is a scheduler ([`ReleasePolicy::schedules`]), asked once.
    schedules: bool,
    pub(super) location_names: Option<LocationNames>,
    switch_interval_ns: AtomicU64,
    check_interval: AtomicU32,
    next_tid: AtomicU32,
    pub(super) trace: bool,
    pub(super) follow_cpu: bool,
    pub(super) created: Instant,
}

// SAFETY: `Gil<T>` is `Mutex<T>` with `GilGuard` for its guard, and these are the impls
// `Mutex<T>` has for `T: Send`. Why that is sound:
// 1. Only a guard reaches `T` while the lock is shared. The state machine gives the GIL to
//    one thread at a time (`State::locked`, `holder`), a guard is made only by taking it
//    (`GilGuard::held_by`, after `take`), and the one moment a guard outlives its hold,
//    inside `release_while`, it is mutably borrowed, so nothing can deref it.
// 2. A guard is neither `Send` nor `Sync`, and every `&T`/`&mut T` borrows the guard, so
//    `T` is only ever touched by the thread holding the GIL: never by two threads at
//    once, which is why `T: Sync` is not needed.
// 3. Handing the GIL over goes through the `parking_lot` mutex (the releaser unlocks it
//    after `release`, the taker locks it in `take`), so everything one holder did to `T`
//    happens before the next holder's first access.
// 4. Without a guard, `T` is reached only through `&mut Gil` (`get_mut`) or by value
//    (`into_inner`, drop): by the one thread that owns the lock outright.
// 5. The other fields are atomics, plain values fixed at construction, and `shared`, whose
//    contents are `Send + Sync` and which is replaced only by `after_fork_in_child`, when
//    by its contract no other thread exists.
// So `T` moves from thread to thread, one access at a time, and needs exactly `Send`, as
// for `Mutex<T>`. `T: Send` is not written as a bound because `Gil::new`, the only safe
// constructor, already requires it (there is no `Clone`, `Default` or other way to make a
// `Gil`): a `Gil<T>` with `T: !Send` exists only through `unsafe fn new_unchecked`, whose
// caller promises the one thing `Send` would have guaranteed here: that `T`'s `!Send`
// parts may move between threads as long as every access is serialized by the GIL.
unsafe impl<T> Send for Gil<T> {}
// SAFETY: see `Send` above; sharing `&Gil<T>` lets threads take the GIL one at a time and
// reach `T` only through the holder's guard, as `&Mutex<T>` does (points 1-3).
unsafe impl<T> Sync for Gil<T> {}

impl<T: Send> Gil<T> {
    /// A lock owning `value`, with nobody holding it yet.
    pub fn new(value: T, config: GilConfig) -> Gil<T> {
        Gil::build(value, config)
    }
}

impl<T> Gil<T> {
    /// Like [`Gil::new`] for a state that is not `Send` (it holds `Rc`s, say).
    ///
    /// # Safety
    ///
    /// The lock is `Send` and `Sync` whatever `T` is, so `T` will be touched by whichever
    /// thread holds the GIL, and dropped by whichever thread drops the lock; the GIL
    /// serializes those accesses but cannot see copies of `T`'s parts. The caller promises:
    ///
    /// - every `!Send` part of `T` is `!Send` only because it shares state without
    ///   synchronization (an `Rc`'s count, a `RefCell`'s flag), not because it is tied to
    ///   a thread (a `MutexGuard`, a handle to thread-local data): serializing accesses
    ///   makes up for the first, never for the second;
    /// - such a part is touched only by a thread holding the GIL: no clone of one is
    ///   kept, used or dropped after the guard it came from is released (by a check
    ///   point, `release_while`, or dropping the guard), and none leaves its thread
    ///   (`release_while` already refuses to take one). When the lock is dropped or
    ///   [`Gil::into_inner`] is called, no such clone exists outside `T`.
    pub unsafe fn new_unchecked(value: T, config: GilConfig) -> Gil<T> {
        Gil::build(value, config)
    }

    fn build(value: T, config: GilConfig) -> Gil<T> {
        let policy = policy_source::instance(config.policy, config.custom_policy.as_ref(), config.seed);
        let policy_name = policy.name().into();
        let counts_instructions = policy.counts_instructions();
        let schedules = policy.schedules();
        Gil {
            eval_breaker: std::sync::Arc::new(AtomicU32::new(0)),
            value: UnsafeCell::new(value),
            shared: UnsafeCell::new(Shared::new(State::new(policy))),
            policy_kind: config.policy,
            custom_policy: config.custom_policy,
            seed: config.seed,
            policy_name,
            counts_instructions,
            schedules,
            location_names: config.location_names,
            switch_interval_ns: AtomicU64::new(duration_ns(config.switch_interval.max(MIN_SWITCH_INTERVAL))),
            check_interval: AtomicU32::new(config.check_interval.max(1)),
            next_tid: AtomicU32::new(1),
            trace: config.trace,
            follow_cpu: config.follow_cpu,
            created: Instant::now(),
        }
    }

    pub(super) fn shared(&self) -> &Shared {
        self.shared_arc()
    }

    /// The primitives as the alarm holds them.
    pub(super) fn shared_arc(&self) -> &Arc<Shared> {
        // SAFETY: the `Arc` is only replaced by `after_fork_in_child`, whose caller
        // guarantees that no other thread exists and no reference into it is alive.
        unsafe { &*self.shared.get() }
    }

    pub(super) fn lock_state(&self) -> MutexGuard<'_, State> {
        self.shared().state.lock()
    }

    /// Make a thread known to the lock; the first caller gets 1. Under a scheduler
    /// ([`ReleasePolicy::schedules`]) it counts as away until it first reaches the lock;
    /// see [`Gil::register_starting_thread`] for a thread the holder is starting.
    pub fn register_thread(&self) -> ThreadId {
        self.register(true)
    }

    /// Like [`Gil::register_thread`], for a thread that the GIL's holder is about to start
    /// and that will take the GIL as its first act: under a scheduler it can be chosen at
    /// once, before the operating system has run it, so when it first runs is the
    /// scheduler's decision. It must reach the lock (or be unregistered with
    /// [`Gil::thread_exit`] if it cannot be started), or a GIL handed to it waits forever.
    pub fn register_starting_thread(&self) -> ThreadId {
        self.register(false)
    }

    fn register(&self, away: bool) -> ThreadId {
        let tid = ThreadId(self.next_tid.fetch_add(1, Relaxed));
        let mut st = self.lock_state();
        let index = tid.index();
        if st.threads.len() <= index {
            st.threads.resize_with(index + 1, || None);
        }
        st.threads[index] = Some(ThreadRec {
            away: away && st.schedules,
            ..ThreadRec::default()
        });
        // Room for every thread to wait (and be shown to the policy), so waiting never
        // allocates.
        let registered = st.threads.len();
        st.waiters.reserve(registered);
        st.views.reserve(registered);
        tid
    }

    /// A thread that will not take the GIL again says goodbye; its statistics stay.
    pub fn thread_exit(&self, tid: ThreadId) {
        let mut st = self.lock_state();
        assert_ne!(st.holder, Some(tid), "thread {tid} exits while holding the GIL");
        st.rec_mut(tid).exited = true;
    }

    /// The eval breaker, shared: the interpreter's heap sets its own bits on it.
    pub fn eval_breaker_handle(&self) -> std::sync::Arc<AtomicU32> {
        self.eval_breaker.clone()
    }

    /// The eval breaker: nonzero means the holder must call [`GilGuard::check_point`](super::GilGuard::check_point)
    /// (after [`GilGuard::report_location`](super::GilGuard::report_location) if [`REPORT_LOCATION`] is set). The bits in
    /// [`GIL_BITS`] are the lock's; the interpreter may set and clear the others.
    pub fn eval_breaker(&self) -> &AtomicU32 {
        &self.eval_breaker
    }

    /// The policy's name, as `gil_policy()` reports it.
    pub fn policy_name(&self) -> &str {
        &self.policy_name
    }

    /// How long a waiter waits before asking the holder to drop.
    pub fn switch_interval(&self) -> Duration {
        Duration::from_nanos(self.switch_interval_ns.load(Relaxed))
    }

    /// Change the switch interval (at least 1 µs); waiters use it from their next wait.
    pub fn set_switch_interval(&self, interval: Duration) {
        let interval = interval.max(MIN_SWITCH_INTERVAL);
        self.switch_interval_ns.store(duration_ns(interval), Relaxed);
    }

    /// Instructions between check points under `ticks`.
    pub fn check_interval(&self) -> u32 {
        self.check_interval.load(Relaxed)
    }

    /// Change the check interval (at least 1); the VM picks it up at its next check point.
    pub fn set_check_interval(&self, instructions: u32) {
        self.check_interval.store(instructions.max(1), Relaxed);
    }

    /// `Some(check interval)` if the policy counts instructions (`ticks`), so the VM must
    /// call [`GilGuard::end_slice`](super::GilGuard::end_slice) whenever a slice runs out (each thread's slices are
    /// [`GilGuard::tick_budget`](super::GilGuard::tick_budget)); `None` if the eval breaker alone says when.
    pub fn tick_budget(&self) -> Option<u32> {
        self.counts_instructions.then(|| self.check_interval())
    }

    /// Whether the policy is a scheduler, which decides alone who runs
    /// ([`ReleasePolicy::schedules`]): then a blocking wait on the program's own objects
    /// should go through [`GilGuard::release_until`](super::GilGuard::release_until), and
    /// work the program does not wait for (creating a thread, say) should not release the
    /// GIL at all, so that only the program's own steps decide who runs when.
    pub fn schedules(&self) -> bool {
        self.schedules
    }

    /// Whether a thread taking the GIL after a forced drop moves to the dropper's CPU.
    pub fn follows_cpu(&self) -> bool {
        self.follow_cpu
    }

    /// The settings a new lock run like this one is built with: the same policy (a fresh
    /// clone of a host's), the current switch and check intervals, tracing and CPU
    /// following. Its places are unnamed: whoever builds it names its own.
    pub fn settings(&self) -> GilConfig {
        GilConfig {
            policy: self.policy_kind,
            custom_policy: self.custom_policy.clone(),
            switch_interval: self.switch_interval(),
            check_interval: self.check_interval(),
            trace: self.trace,
            follow_cpu: self.follow_cpu,
            location_names: None,
            seed: self.seed,
        }
    }

    /// Whether events are being recorded for [`Gil::write_trace`].
    pub fn tracing(&self) -> bool {
        self.trace
    }

    /// Direct access when nobody else can hold the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The state, once the lock is no longer shared.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    pub(super) fn since_creation(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.created)
    }

    /// Block until `tid` may hold the GIL, then make it the holder. `wanted_since` is when
    /// a holder that dropped at a check point let go: its wait started there. Returns the
    /// CPU `tid` should move to (see "Where the holder runs"), for [`Gil::settle`] to act
    /// on once the mutex is unlocked.
    #[must_use]
    pub(super) fn take(
        &self,
        st: &mut MutexGuard<'_, State>,
        tid: ThreadId,
        from_blocking: bool,
        wanted_since: Option<Instant>,
    ) -> Option<Placement> {
        let rec = st.rec(tid);
        assert!(!rec.exited, "thread {tid} took the GIL after thread_exit");
        if rec.away {
            st.rec_mut(tid).away = false;
        }
        assert_ne!(
            st.holder,
            Some(tid),
            "thread {tid} already holds the GIL (it is not re-entrant)"
        );
        let rec = st.rec_mut(tid);
        rec.in_blocking_call = false;
        if rec.os_tid == 0 {
            rec.os_tid = cpu::os_tid();
        }
        // An announced thread pinned for its wake-up (see `pin_here`) gives the mask back
        // before anything else: it never holds the GIL pinned.
        Self::unpin(st, tid);
        // Queued already if announced (see `announce`): its wait began then.
        let announced = st.waiters.iter().find(|w| w.tid == tid).map(|w| w.since);
        let start = announced.or(wanted_since).unwrap_or_else(Instant::now);
        let mut waited = wanted_since.is_some();
        let mut caused_by = None;
        if announced.is_some() || !st.can_take(tid) {
            waited = true;
            if announced.is_none() {
                st.waiters.push(Queued::new(tid, start, from_blocking));
                st.rec_mut(tid).waiting_since = Some(start);
            }
            if !st.can_take(tid) {
                // Whoever holds the GIL next reaches a check point says where it is.
                self.eval_breaker.fetch_or(REPORT_LOCATION, Relaxed);
            }
            let wake = st.rec(tid).wake.clone();
            let mut spun = false;
            while !st.can_take(tid) {
                let now = Instant::now();
                match self.ask_time(st, tid, now, false) {
                    Some(at_once) if at_once < MIN_SWITCH_INTERVAL => {
                        if st.locked {
                            self.request_drop(st, tid, now);
                            if self.spin_once_for_release(st, &mut spun) {
                                continue;
                            }
                        }
                        // Asked (or there is nobody to ask yet): sleep until the GIL is
                        // released, or until it is time to ask its next holder, should
                        // the GIL go to another thread first. (A waiter that asks every
                        // holder at once is asked for by `take` itself.) Never longer
                        // than a switch interval: a policy whose answer depends on who
                        // holds the GIL may not ask the next holder at once, and must
                        // still be asked again.
                        let most = self.switch_interval();
                        let next = self.ask_time(st, tid, now, true).filter(|&n| n >= MIN_SWITCH_INTERVAL);
                        let sleep = Self::watch_or_doze(st, tid, now, next.map_or(most, |n| n.min(most)));
                        Self::sleep_for_gil(st, tid, &wake, Some(sleep));
                        Self::leave_watch(st, tid);
                    }
                    Some(interval) => {
                        let sleep = Self::watch_or_doze(st, tid, now, interval);
                        let seen = st.switch_number;
                        let timed_out = Self::sleep_for_gil(st, tid, &wake, Some(sleep));
                        Self::leave_watch(st, tid);
                        // All that time with the same holder: ask. (Asking again next
                        // turn would come to the same; this keeps the decision where
                        // the time ran out.)
                        if timed_out && st.locked && st.switch_number == seen {
                            self.request_drop(st, tid, Instant::now());
                            // The loop looks at the state again either way.
                            self.spin_once_for_release(st, &mut spun);
                        }
                    }
                    None => {
                        Self::sleep_for_gil(st, tid, &wake, None);
                    }
                }
            }
            let position = st.waiters.iter().position(|w| w.tid == tid);
            let queued = st
                .waiters
                .remove(position.expect("a waiter stays queued until it takes the GIL"));
            caused_by = queued.caused_by;
        } else if waited && st.last_holder != Some(tid) {
            // A dropper that waited out another thread's hold without queueing (that
            // thread released before it could): the place that thread was last.
            caused_by = st.released_at;
        }

        let now = Instant::now();
        st.locked = true;
        st.holder = Some(tid);
        st.holder_at = None;
        if st.reserved_for == Some(tid) {
            st.reserved_for = None;
        }
        let switched = st.last_holder.is_some_and(|last| last != tid);
        if switched {
            st.switch_number += 1;
            let reason = st.released_for;
            st.reasons[reason] += 1;
            self.shared().switch_cv.notify_all();
        }
        st.last_holder = Some(tid);
        // A request is satisfied once the GIL changed hands, and stale once nobody waits;
        // otherwise (the asker lost a race to the same holder) it stands.
        if switched || st.waiters.is_empty() {
            self.eval_breaker.fetch_and(!DROP_REQUEST, Relaxed);
        }
        if st.waiters.iter().all(|w| w.caused_by.is_some()) {
            self.eval_breaker.fetch_and(!REPORT_LOCATION, Relaxed);
        }
        let (at_once, first) = self.askers(st, now);
        if let Some(asker) = at_once {
            // A request like any other: counted, and traced as the asker's.
            self.request_drop(st, asker, now);
        }
        self.set_watch(st, now, first);
        let (dropped_on, kept) = (st.dropped_on_cpu.take(), st.kept_cpu.take());
        let target = placement(dropped_on, kept, switched, waited.then(|| now - start));

        let trace = self.trace;
        let (start_off, now_off) = (self.since_creation(start), self.since_creation(now));
        if waited && let Some(at) = caused_by {
            *st.waits_caused.entry(at).or_default() += now - start;
        }
        let rec = st.rec_mut(tid);
        rec.acquisitions += 1;
        rec.held_since = Some(now);
        rec.waiting_since = None;
        rec.blocked = None;
        if waited {
            let wait = now - start;
            rec.wait += wait;
            rec.max_wait = rec.max_wait.max(wait);
            if trace {
                rec.events.push(Event {
                    kind: EventKind::Waiting,
                    start: start_off,
                    end: now_off,
                });
            }
        }
        target
    }

    /// Waiter `tid` sleeps on its own `wake` until woken, or for at most `timeout`; true
    /// if the time ran out. While it sleeps it is `asleep`, so a releaser that stops may
    /// pin it to its CPU; awake, it gives back the mask it was pinned from before it looks
    /// at anything (`unpin`). In the model build, the run fails if `tid` is about to sleep
    /// on a GIL it may take: its wake-up has been and gone, and only a timeout (an hour,
    /// with a long switch interval) would wake it; the model lets timed waits run out at
    /// any moment, so without this check it would take such a sleep for a short one.
    fn sleep_for_gil(st: &mut MutexGuard<'_, State>, tid: ThreadId, wake: &Condvar, timeout: Option<Duration>) -> bool {
        if cfg!(loom) {
            assert!(!st.can_take(tid), "{tid} sleeps on a GIL it may take");
        }
        st.rec_mut(tid).asleep = true;
        let timed_out = match timeout {
            Some(timeout) => wake.wait_for(st, timeout).timed_out(),
            None => {
                wake.wait(st);
                false
            }
        };
        Self::unpin(st, tid);
        timed_out
    }

    /// With the mutex unlocked, watches for the next release for up to [`HANDOFF_SPIN`],
    /// once per wait (`spun`): true if it let the mutex go, and the caller must then look
    /// at the state again before it sleeps. A release seen here is never taken for a
    /// grant; and one that comes after the last look, before the mutex is locked again,
    /// has notified a waiter that was not asleep, so a waiter that went to sleep without
    /// looking would sleep on a GIL reserved for it until its timeout, an hour under a
    /// long switch interval. The model build looks once instead of spinning: loom would
    /// explore every iteration, and the one window is what matters.
    ///
    /// Once per wait: a holder that does not drop within the spin is not at a check point
    /// (a native call, say), and spinning again would only take a CPU from it.
    fn spin_once_for_release(&self, st: &mut MutexGuard<'_, State>, spun: &mut bool) -> bool {
        if std::mem::replace(spun, true) {
            return false;
        }
        let releases = &self.shared().releases;
        let seen = releases.load(Acquire);
        if cfg!(loom) {
            MutexGuard::unlocked(st, || {});
            return true;
        }
        MutexGuard::unlocked(st, || {
            let until = Instant::now() + HANDOFF_SPIN;
            while Instant::now() < until {
                for _ in 0..SPIN_LOOKS_PER_CLOCK {
                    if releases.load(Acquire) != seen {
                        return;
                    }
                    std::hint::spin_loop();
                }
            }
        });
        true
    }

    /// [`Gil::take`], then unlock the mutex and make the move `take` chose: what every
    /// path that takes the GIL does.
    pub(super) fn take_and_settle(
        &self,
        mut st: MutexGuard<'_, State>,
        tid: ThreadId,
        from_blocking: bool,
        wanted_since: Option<Instant>,
    ) {
        let target = self.take(&mut st, tid, from_blocking, wanted_since);
        drop(st);
        self.settle(tid, target);
    }

    /// Move `tid`, which has just taken the GIL, as `take` chose (if at all): onto a CPU
    /// if it is elsewhere, off one if it is there; and count the move. Called without the
    /// mutex: the migration waits for the previous holder to leave that CPU, and that
    /// holder may need the mutex to do so.
    fn settle(&self, tid: ThreadId, target: Option<Placement>) {
        let Some(target) = target else { return };
        let from = cpu::current();
        let to = match target {
            Placement::Onto(to) if from != Some(to) && cpu::move_to(to) => to,
            Placement::OffOf(off) if from == Some(off) => match cpu::move_off(off) {
                Some(to) => to,
                None => return,
            },
            _ => return,
        };
        let at = self.since_creation(Instant::now());
        let trace = self.trace;
        let mut st = self.lock_state();
        st.cpu_moves += 1;
        let rec = st.rec_mut(tid);
        rec.cpu_moves += 1;
        if trace {
            rec.events.push(Event {
                kind: EventKind::CpuMove { from, to },
                start: at,
                end: at,
            });
        }
    }

    /// Give the GIL up on behalf of `tid`, the holder, for `reason`, and wake whoever may
    /// take it. Returns the moment of release.
    pub(super) fn release(&self, st: &mut State, tid: ThreadId, end: End, reason: SwitchReason) -> Instant {
        self.release_as(st, tid, end, reason, Releaser::Leaves)
    }

    /// [`Gil::release`], with what the releaser does next (see [`Releaser`]).
    pub(super) fn release_as(
        &self,
        st: &mut State,
        tid: ThreadId,
        end: End,
        reason: SwitchReason,
        releaser: Releaser,
    ) -> Instant {
        debug_assert_eq!(st.holder, Some(tid), "release by a thread that does not hold the GIL");
        let now = Instant::now();
        st.locked = false;
        st.holder = None;
        st.released_for = reason;
        self.shared().releases.fetch_add(1, Release);
        // Only a forced drop attracts the next holder (see "Where the holder runs").
        st.dropped_on_cpu = if end == End::Forced && self.follow_cpu {
            cpu::current()
        } else {
            None
        };
        st.kept_cpu = if releaser == Releaser::KeepsCpu && self.follow_cpu {
            cpu::current()
        } else {
            None
        };
        // Waits the holder never got to report a place for: the last place it reported.
        let at = st.holder_at.take();
        st.released_at = at;
        if let Some(at) = at {
            self.charge_pending(st, at);
        }
        let trace = self.trace;
        let now_off = self.since_creation(now);
        let since = st.rec_mut(tid).held_since.take();
        if let Some(since) = since {
            let start = self.since_creation(since);
            let rec = st.rec_mut(tid);
            rec.hold += now - since;
            rec.last_hold = now - since;
            if trace {
                rec.events.push(Event {
                    kind: EventKind::Running {
                        end,
                        reason: Some(reason),
                        at,
                    },
                    start,
                    end: now_off,
                });
            }
        }
        // Alone, it takes the free GIL back anyway.
        let queued_self = releaser == Releaser::Returns && !st.waiters.is_empty() && self.announce(st, tid, now);
        st.reserved_for = if let Some(chosen) = st.handing_to.take() {
            Some(chosen)
        } else if st.schedules {
            self.schedule_next(st, now, Some(tid))
        } else {
            self.choose_next_holder(st, now)
        };
        if queued_self && st.reserved_for != Some(tid) {
            // The policy does not keep the GIL for it: it comes back like any thread
            // back from a blocking call, and queues then.
            st.waiters.retain(|w| w.tid != tid);
            st.rec_mut(tid).waiting_since = None;
        }
        // Wake one waiter: the chosen one, else the longest waiter that may take the GIL,
        // else the longest waiter (it will see for itself that it cannot). The others
        // sleep on: waking them all would send each through the mutex in turn, and the
        // one that may take the GIL could come last.
        let next = st
            .reserved_for
            .or_else(|| st.waiters.iter().map(|w| w.tid).find(|&w| st.can_take(w)))
            .or_else(|| st.waiters.first().map(|w| w.tid));
        if releaser == Releaser::Stops
            && self.follow_cpu
            && let Some(next) = next.filter(|&n| n != tid)
        {
            Self::pin_here(st, next);
        }
        if let Some(next) = next {
            st.wake(next);
        }
        now
    }

    /// Pin `next`, about to be woken by a releaser that stops running at once
    /// ([`Releaser::Stops`]), to the releaser's CPU, so it wakes there: if it is asleep in
    /// `take`, where it gives the mask back as soon as it runs (`unpin`), or announced
    /// while away in a blocking call (a joiner of the thread ending here, whose wait is
    /// over but whom the ending thread wakes only once it has let the GIL go), which gives
    /// the mask back on arriving in `take`, before it looks at anything. A thread that is
    /// running, or asleep in a wait nobody has ended, is left where it is: pinned, it
    /// would wait for the releaser's CPU, or stay pinned until it came to the lock.
    fn pin_here(st: &mut State, next: ThreadId) {
        let Some(rec) = st.threads.get_mut(next.index()).and_then(Option::as_mut) else {
            return;
        };
        let wakes_for_the_gil = rec.asleep || rec.announced();
        // Pinned already by another release it has not run since: it wakes there.
        if rec.os_tid == 0 || !wakes_for_the_gil || rec.pinned.is_some() {
            return;
        }
        rec.pinned = cpu::current().and_then(|here| cpu::pin_other(rec.os_tid, here));
    }

    /// `tid`, awake in `take` (arrived, or woken), is no longer asleep, and gets back the
    /// affinity a releaser pinned it from (one system call, under the mutex, so no
    /// releaser can pin it again meanwhile; only after a stopping releaser's hand-off).
    fn unpin(st: &mut State, tid: ThreadId) {
        let rec = st.rec_mut(tid);
        rec.asleep = false;
        if let Some(mask) = rec.pinned.take() {
            cpu::restore_own(&mask);
        }
    }

    /// Queue `tid`, inside a blocking call whose wait is over (the caller has just ended
    /// it, under the GIL, or is `tid` itself letting go for microseconds), as a thread
    /// back from a blocking call, from `now`: a policy choosing the next holder sees it
    /// before the operating system has run it again, and it keeps its place when it gets
    /// to `take`. Nothing under a scheduler (which tracks blocked threads itself), nor for
    /// a thread that is not in a blocking call or is queued already; true if queued.
    pub(super) fn announce(&self, st: &mut State, tid: ThreadId, now: Instant) -> bool {
        let in_call = st
            .threads
            .get(tid.index())
            .and_then(Option::as_ref)
            .is_some_and(|rec| rec.in_blocking_call && !rec.exited);
        if st.schedules || !in_call || st.waiters.iter().any(|w| w.tid == tid) {
            return false;
        }
        st.waiters.push(Queued::new(tid, now, true));
        st.rec_mut(tid).waiting_since = Some(now);
        true
    }

    /// `asker` asks the holder to drop; counted once per request, not per reminder.
    fn request_drop(&self, st: &mut State, asker: ThreadId, at: Instant) {
        let before = self.eval_breaker.fetch_or(DROP_REQUEST, Relaxed);
        if before & DROP_REQUEST != 0 {
            return;
        }
        st.drop_requests += 1;
        let holder = st.holder;
        let trace = self.trace;
        let at = self.since_creation(at);
        let rec = st.rec_mut(asker);
        rec.drop_requests += 1;
        if trace {
            rec.events.push(Event {
                kind: EventKind::DropRequest { holder },
                start: at,
                end: at,
            });
        }
    }

    /// Rebuild the lock in a freshly forked child: new mutex, condition variables and
    /// state (fresh statistics and trace), with `tid` as the only registered thread and
    /// the holder, a fresh instance of the policy, and the lock's breaker bits cleared.
    /// The inherited primitives are leaked unread: their lock words and parked-thread
    /// records describe threads that do not exist in the child. Thread ids keep counting
    /// from where the parent was.
    ///
    /// # Safety
    ///
    /// Call it in the child right after `fork`, from the only thread there, which held
    /// the GIL as `tid` when it forked (its guard stays valid), and before any other
    /// thread is started. No other call on this lock may be in progress on its stack.
    pub unsafe fn after_fork_in_child(&self, tid: ThreadId) {
        let now = Instant::now();
        // A fresh policy from the pristine one: the old instance may have been in the
        // middle of a decision on a thread that is gone.
        let policy = policy_source::instance(self.policy_kind, self.custom_policy.as_ref(), self.seed);
        let mut state = State::new(policy);
        state.threads.resize_with(tid.index() + 1, || None);
        state.threads[tid.index()] = Some(ThreadRec {
            held_since: Some(now),
            ..ThreadRec::default()
        });
        state.locked = true;
        state.holder = Some(tid);
        state.last_holder = Some(tid);
        // A new allocation at a new address: no stale parking_lot record can share its keys.
        let fresh = Shared::new(state);
        // SAFETY: by the caller's contract this thread is the only one in the process and
        // holds no reference into the old `Shared`, so nothing can observe the swap; the
        // old one is leaked because its contents may be mid-update by a vanished thread.
        let old = unsafe { std::mem::replace(&mut *self.shared.get(), fresh) };
        std::mem::forget(old);
        self.eval_breaker.fetch_and(!GIL_BITS, Relaxed);
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
