//! Where the holder runs: the decision to follow the previous holder's CPU
//! ([`follow_target`], [`FOLLOW_MIN_WAIT`]) and the affinity calls that make the move.
//! Its invariant: a move never leaves a thread pinned; the thread ends with the affinity
//! mask it had before.

use std::mem::{size_of, zeroed};
use std::time::Duration;

/// The shortest wait after which a thread follows the holder's CPU. A move costs about
/// 7 µs on a 2-vCPU VM (two system calls and a migration onto an idle CPU; the three
/// system calls alone, without a migration, 1.7 µs), so a thread that waited this long
/// spends under 1% more on it, while a quick I/O-paced back-and-forth is left where the
/// kernel put it.
pub const FOLLOW_MIN_WAIT: Duration = Duration::from_millis(1);

/// Where a thread that has just taken the GIL should run: on `dropped_on`, the CPU of a
/// holder that dropped at a check point (`None` after any other release, or when not
/// following), if the GIL changed hands and the taker waited at least
/// [`FOLLOW_MIN_WAIT`] for it.
pub(super) fn follow_target(dropped_on: Option<u32>, switched: bool, waited: Option<Duration>) -> Option<u32> {
    dropped_on.filter(|_| switched && waited.is_some_and(|w| w >= FOLLOW_MIN_WAIT))
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
    let to = to as usize;
    if to >= libc::CPU_SETSIZE as usize {
        return false;
    }
    // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is the empty set.
    let (mut own, mut only): (libc::cpu_set_t, libc::cpu_set_t) = unsafe { (zeroed(), zeroed()) };
    // SAFETY: pid 0 is the calling thread; the pointer and size describe `own`.
    if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut own) } != 0 {
        return false;
    }
    // SAFETY: `to` < CPU_SETSIZE (checked above), so both index inside the bit array.
    if !unsafe { libc::CPU_ISSET(to, &own) } {
        return false;
    }
    // SAFETY: as for CPU_ISSET.
    unsafe { libc::CPU_SET(to, &mut only) };
    // SAFETY: as above, for `only`. The kernel migrates this thread to `to` before
    // the call returns, since `to` is the only CPU the new mask allows.
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &only) } != 0 {
        return false;
    }
    // SAFETY: as above, for `own`: the mask this thread had a moment ago.
    let restored = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &own) };
    debug_assert_eq!(restored, 0, "restoring a mask the thread just had");
    true
}

/// The CPUs the calling thread may run on.
#[cfg(all(test, not(loom)))]
pub(super) fn allowed() -> Vec<u32> {
    // SAFETY: all zeroes is the empty set; pid 0 is the calling thread and the pointer
    // and size describe `own`; CPU_ISSET indexes below CPU_SETSIZE.
    unsafe {
        let mut own: libc::cpu_set_t = zeroed();
        assert_eq!(libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut own), 0);
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &own))
            .map(|c| c as u32)
            .collect()
    }
}

/// Pin the calling thread to `cpus`.
#[cfg(all(test, not(loom)))]
pub(super) fn restrict(cpus: &[u32]) {
    // SAFETY: as in `allowed`; every CPU number is checked against CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = zeroed();
        for &c in cpus {
            assert!((c as usize) < libc::CPU_SETSIZE as usize);
            libc::CPU_SET(c as usize, &mut set);
        }
        assert_eq!(libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set), 0);
    }
}
