//! The alarm: one thread per process that wakes a lock's waiter on watch when its ask is
//! due, for every lock in the process. A change of holder names a new waiter on watch;
//! waking it just so it could time its own sleep cost a context switch per hand-off, and
//! with 64 threads handing the GIL on as each ends, those wake-ups were a fifth of all
//! context switches. The alarm is set lazily: a lock whose alarm is due no later than the
//! new ask leaves it be, and the alarm, when it rings early, finds the later time and
//! sets itself again; so it wakes about once per switch interval, not once per hand-off.
//!
//! Invariants:
//! - A lock whose `State::alarm_due` is set has an entry due then in the clock; so the
//!   alarm looks at that lock's watch no later than then.
//! - The alarm thread never holds the clock's mutex while it locks a lock's state (`arm`,
//!   called under the state's mutex, takes the clock's), so the two cannot deadlock.
//! - The thread is started under the clock's mutex and never ends, and whoever forks
//!   holds that mutex across the fork ([`hold_for_fork`]): no fork copies the process
//!   while the C library is starting or ending it. A forked child makes a clock of its
//!   own the first time it sets an alarm (a clock knows the process it was made in); the
//!   parent's, whose mutex a vanished thread may hold, is leaked unread, as the lock's own
//!   primitives are.
//!
//! The model build has no alarm: `arm` says so, `set_watch` then wakes the waiter itself,
//! and the models check that path.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use super::lock::{Shared, State};

/// The alarm thread's stack: it only waits, locks and notifies.
const STACK: usize = 64 * 1024;

/// The alarms set, for every lock in the process.
struct Clock {
    /// The process it was made in: a forked child, which has no alarm thread, makes its
    /// own.
    pid: u32,
    entries: Mutex<Entries>,
    /// Notified when an entry due sooner than every other is added.
    sooner: Condvar,
}

#[derive(Default)]
struct Entries {
    thread: Thread,
    /// When to look at which lock's watch. A lock may have stale entries (set for later
    /// before an earlier one was added); `ring` ignores those.
    due: Vec<(Instant, Weak<Shared>)>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Thread {
    #[default]
    NotStarted,
    Running,
    /// It could not be started: waiters time their own asks.
    Unavailable,
}

/// The process's clock; replaced (the old one leaked) in a forked child.
static CLOCK: AtomicPtr<Clock> = AtomicPtr::new(std::ptr::null_mut());

fn clock() -> &'static Clock {
    let pid = std::process::id();
    let current = CLOCK.load(Ordering::Acquire);
    // SAFETY: CLOCK only ever holds pointers from `Box::leak`, never freed.
    if let Some(clock) = unsafe { current.as_ref() }
        && clock.pid == pid
    {
        return clock;
    }
    // None yet, or the parent's: its thread does not exist here, and a vanished thread
    // may hold its mutex. It is leaked unread.
    let fresh: *mut Clock = Box::leak(Box::new(Clock::new(pid)));
    match CLOCK.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: as above; `fresh` is now the clock, leaked.
        Ok(_) => unsafe { &*fresh },
        Err(other) => {
            // SAFETY: `fresh` came from `Box::leak` just above and was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as above.
            unsafe { &*other }
        }
    }
}

impl Clock {
    fn new(pid: u32) -> Clock {
        Clock {
            pid,
            entries: Mutex::new(Entries::default()),
            sooner: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sets the alarm to look at `lock`'s watch at `at` (the caller holds its state `st`),
/// unless it is set for no later already. False if there is no alarm to set: the model
/// build, or its thread could not be started; the waiter must then time its own ask.
pub(super) fn arm(lock: &Arc<Shared>, st: &mut State, at: Instant) -> bool {
    if cfg!(loom) {
        return false;
    }
    if st.alarm_due.is_some_and(|due| due <= at) {
        return true;
    }
    let clock = clock();
    let mut entries = clock.lock();
    if !entries.start(clock) {
        return false;
    }
    let soonest = entries.due.iter().all(|&(due, _)| at < due);
    entries.due.push((at, Arc::downgrade(lock)));
    st.alarm_due = Some(at);
    if soonest {
        clock.sooner.notify_one();
    }
    true
}

impl Entries {
    /// Starts the alarm thread if it is not running yet; false if it cannot run.
    fn start(&mut self, clock: &'static Clock) -> bool {
        if self.thread == Thread::NotStarted {
            let started = std::thread::Builder::new()
                .name("toy-gil-alarm".into())
                .stack_size(STACK)
                .spawn(move || keep_time(clock));
            self.thread = if started.is_ok() {
                Thread::Running
            } else {
                Thread::Unavailable
            };
        }
        self.thread == Thread::Running
    }
}

/// The alarm thread: sleeps until the next entry is due, then looks at the watch of each
/// lock due, with the clock's mutex unlocked.
fn keep_time(clock: &'static Clock) {
    let mut due_now: Vec<(Instant, Arc<Shared>)> = Vec::new();
    let mut entries = clock.lock();
    loop {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        entries.due.retain(|(at, lock)| {
            if *at > now {
                next = Some(next.map_or(*at, |n| n.min(*at)));
                return true;
            }
            // A lock dropped since is forgotten.
            if let Some(lock) = lock.upgrade() {
                due_now.push((*at, lock));
            }
            false
        });
        if due_now.is_empty() {
            entries = match next {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    clock
                        .sooner
                        .wait_timeout(entries, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => clock.sooner.wait(entries).unwrap_or_else(PoisonError::into_inner),
            };
            continue;
        }
        drop(entries);
        for (at, lock) in due_now.drain(..) {
            ring(&lock, at);
        }
        entries = clock.lock();
    }
}

/// The alarm set for `lock` at `at` is due: wakes its waiter on watch if the watch is the
/// alarm's and its ask is due, or sets the alarm again for a watch due later.
fn ring(lock: &Arc<Shared>, at: Instant) {
    let mut st = lock.state.lock();
    // Superseded by an earlier entry (which rang, or will) for this lock.
    if st.alarm_due != Some(at) {
        return;
    }
    st.alarm_due = None;
    let Some(watch) = st.watch.filter(|w| w.by_alarm) else {
        return;
    };
    if watch.at <= Instant::now() {
        st.wake(watch.watcher);
    } else {
        arm(lock, &mut st, watch.at);
    }
}

/// Held across a `fork` by the thread that forks, so no alarm thread is being started
/// while the process is copied (its start takes locks of the C library that the child
/// would inherit taken).
pub struct AlarmForkHold(#[allow(dead_code, reason = "held for its drop")] MutexGuard<'static, Entries>);

/// Takes the [`AlarmForkHold`]: call it before `fork`, drop it after, in both processes.
pub fn hold_for_fork() -> AlarmForkHold {
    AlarmForkHold(clock().lock())
}
