//! Where the holder runs: the decision to follow the previous holder's CPU or to keep off
//! a releaser's ([`placement`], [`FOLLOW_MIN_WAIT`], [`KEEP_CPU_PAUSES`]), and the
//! affinity calls that make the move or wake a waiter on the releaser's CPU
//! ([`pin_other`]). Its invariant: a move never leaves a thread pinned, the thread ends
//! with the affinity mask it had before; and a waiter pinned for its wake-up gets its
//! mask back ([`restore_own`]) at its first look at the lock's state once it runs again,
//! before it can take the GIL.

use std::mem::{size_of, zeroed};
use std::ops::RangeInclusive;
use std::time::Duration;

/// The shortest wait after which a thread follows the holder's CPU. A move costs about
/// 7 µs on a 2-vCPU VM (two system calls and a migration onto an idle CPU; the three
/// system calls alone, without a migration, 1.7 µs; 20–30 µs on a later host whose idle
/// vCPUs wake slowly), so a thread that waited this long spends 1–3% more on it, while a
/// quick I/O-paced back-and-forth is left where the kernel put it.
pub const FOLLOW_MIN_WAIT: Duration = Duration::from_millis(1);

/// The sleeps for which a thread that lets the GIL go asks the next holder to keep off its
/// CPU ([`GilGuard::release_keeping_cpu`]). What it saves the sleeper is a late wake-up of
/// up to a scheduler tick (4 ms at 250 Hz), which matters less the longer the sleep; what
/// it costs is a move of the next holder when that finds itself on the sleeper's CPU:
/// 20–30 µs on a 2-vCPU VM, the other vCPU being idle (a burst of 50 threads that each
/// start and sleep 0.1 s ran 1.3% slower with every sleep keeping its CPU). A sleep under
/// the lower bound is closer to a yield, whose thread wants the GIL back, not a CPU.
///
/// [`GilGuard::release_keeping_cpu`]: super::GilGuard::release_keeping_cpu
pub const KEEP_CPU_PAUSES: RangeInclusive<Duration> = Duration::from_micros(200)..=Duration::from_millis(20);

/// A move a thread that has just taken the GIL makes before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// Onto this CPU, where the previous holder was running when it dropped.
    Onto(u32),
    /// Off this CPU, if it is the one the thread is on: the previous holder sleeps there
    /// and will wake there.
    OffOf(u32),
}

/// Where a thread that has just taken the GIL should run, if the GIL changed hands: on
/// `dropped_on`, the CPU of a holder that dropped at a check point, if the taker waited at
/// least [`FOLLOW_MIN_WAIT`] for it; off `kept`, the CPU of a holder that let go for a call
/// that wakes there (`release_keeping_cpu`). Each is `None` after other releases, or
/// when not following.
pub(super) fn placement(
    dropped_on: Option<u32>,
    kept: Option<u32>,
    switched: bool,
    waited: Option<Duration>,
) -> Option<Placement> {
    if !switched {
        return None;
    }
    let follow = dropped_on.filter(|_| waited.is_some_and(|w| w >= FOLLOW_MIN_WAIT));
    follow.map(Placement::Onto).or(kept.map(Placement::OffOf))
}

/// The CPU the calling thread is on (it may be moved a moment later).
pub(super) fn current() -> Option<u32> {
    // SAFETY: sched_getcpu takes nothing and only reports the calling thread's CPU.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

/// Migrate the calling thread onto CPU `to` and give it back the affinity it had, so
/// it is not left pinned. False, and nothing changed, when `to` is not among the CPUs
/// the thread may use (or the mask does not fit a `cpu_set_t`).
pub(super) fn move_to(to: u32) -> bool {
    mask_of(0).is_some_and(|own| hop(to as usize, &own))
}

/// Migrate the calling thread off CPU `from`, onto the next CPU after it (counting round)
/// that the thread may use, and give it back its affinity. Which CPU is a guess: the
/// kernel may move the thread again at once. The CPU it went to, or `None`, with nothing
/// changed, when no other CPU is allowed.
pub(super) fn move_off(from: u32) -> Option<u32> {
    let own = mask_of(0)?;
    let size = libc::CPU_SETSIZE as usize;
    (1..size)
        .map(|step| (from as usize + step) % size)
        .find(|&cpu| has(&own, cpu))
        .filter(|&to| hop(to, &own))
        .map(|to| to as u32)
}

/// Migrate the calling thread onto `to`, one of the CPUs in `own` (its mask), then give
/// it `own` back. False, and nothing changed, if `to` is not in `own`. The kernel
/// migrates the thread before the first call returns, since `to` is then the only CPU
/// its mask allows.
fn hop(to: usize, own: &libc::cpu_set_t) -> bool {
    if !has(own, to) || !set_mask(0, &only(to)) {
        return false;
    }
    let restored = set_mask(0, own);
    debug_assert!(restored, "restoring a mask the thread just had");
    true
}

/// An affinity mask to give back.
#[derive(Clone, Copy)]
pub(super) struct CpuMask(libc::cpu_set_t);

impl std::fmt::Debug for CpuMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpuMask")
    }
}

/// The calling thread's id with the operating system.
pub(super) fn os_tid() -> i32 {
    // SAFETY: gettid takes nothing and cannot fail.
    unsafe { libc::gettid() }
}

/// Pin thread `os_tid` of this process to CPU `to`; the mask it had, or `None` with
/// nothing changed if `to` is not in it or it is the only CPU there.
pub(super) fn pin_other(os_tid: i32, to: u32) -> Option<CpuMask> {
    let own = mask_of(os_tid)?;
    // SAFETY: CPU_COUNT only reads the bit array.
    let choices = unsafe { libc::CPU_COUNT(&own) };
    (has(&own, to as usize) && choices > 1 && set_mask(os_tid, &only(to as usize))).then_some(CpuMask(own))
}

/// Give the calling thread `mask` back.
pub(super) fn restore_own(mask: &CpuMask) {
    let restored = set_mask(0, &mask.0);
    debug_assert!(restored, "restoring a mask the thread had");
}

/// The affinity mask of thread `os_tid` of this process (0: the calling thread).
fn mask_of(os_tid: i32) -> Option<libc::cpu_set_t> {
    // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is the empty set.
    let mut mask: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: the pointer and size describe `mask`.
    let got = unsafe { libc::sched_getaffinity(os_tid, size_of::<libc::cpu_set_t>(), &mut mask) };
    (got == 0).then_some(mask)
}

/// Gives thread `os_tid` of this process (0: the calling thread) `mask`; false if refused.
fn set_mask(os_tid: i32, mask: &libc::cpu_set_t) -> bool {
    // SAFETY: the pointer and size describe `mask`.
    unsafe { libc::sched_setaffinity(os_tid, size_of::<libc::cpu_set_t>(), mask) == 0 }
}

/// The mask of CPU `cpu` alone (empty if it does not fit one).
fn only(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: all zeroes is the empty set.
    let mut only: libc::cpu_set_t = unsafe { zeroed() };
    if cpu < libc::CPU_SETSIZE as usize {
        // SAFETY: `cpu` indexes inside the bit array, checked above.
        unsafe { libc::CPU_SET(cpu, &mut only) };
    }
    only
}

/// Whether `mask` has CPU `cpu`.
fn has(mask: &libc::cpu_set_t, cpu: usize) -> bool {
    // SAFETY: `cpu` indexes inside the bit array, checked first.
    cpu < libc::CPU_SETSIZE as usize && unsafe { libc::CPU_ISSET(cpu, mask) }
}

/// The CPUs the calling thread may run on.
#[cfg(all(test, not(loom)))]
pub(super) fn allowed() -> Vec<u32> {
    allowed_of(0)
}

/// The CPUs thread `os_tid` (of this process) may run on.
#[cfg(all(test, not(loom)))]
pub(super) fn allowed_of(os_tid: i32) -> Vec<u32> {
    let mask = mask_of(os_tid).expect("the thread's affinity");
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| has(&mask, c))
        .map(|c| c as u32)
        .collect()
}

/// Pin the calling thread to `cpus`.
#[cfg(all(test, not(loom)))]
pub(super) fn restrict(cpus: &[u32]) {
    // SAFETY: all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    for &c in cpus {
        assert!((c as usize) < libc::CPU_SETSIZE as usize);
        // SAFETY: `c` indexes inside the bit array, checked above.
        unsafe { libc::CPU_SET(c as usize, &mut set) };
    }
    assert!(set_mask(0, &set));
}
