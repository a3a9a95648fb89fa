//! The global interpreter lock. `Gil<T>` owns the interpreter state `T` and a
//! [`GilGuard`] is the only way to reach it, so this module owns toy's one concurrency
//! invariant: **no interpreter object is read or written by a thread that does not hold
//! the GIL.** Objects carry no locks or atomics of their own; holding a guard is the proof
//! that the current thread may touch them, and code that runs with the GIL released
//! ([`GilGuard::release_while`]) is a `Send` closure that cannot borrow `T`. Around that
//! lock sit the scheduling policies (who must drop, who runs next), the per-thread
//! telemetry behind `gil_stats()` / `--gil-stats`, the Chrome trace behind `--gil-trace`,
//! and the rebuild after `fork`.
//!
//! # The state machine
//!
//! Everything below lives in `State`, behind one `parking_lot` mutex, except the eval
//! breaker and the run-time settings, which are atomics so the holder can read them
//! without locking.
//!
//! | field | unit | meaning and invariant |
//! |---|---|---|
//! | `locked` | bool | some thread holds the GIL. `locked == holder.is_some()`. |
//! | `holder` | thread id | the thread whose guard is alive. At most one guard exists at a time, process-wide. |
//! | `last_holder` | thread id | the most recent holder; unlike `holder` it survives a release. |
//! | `switch_number` | count | times the GIL changed hands (taken by a thread other than `last_holder`). Only grows. Equals the `switches` statistic. |
//! | `reserved_for` | thread id | a hand-off: when `Some(t)`, the GIL is free and only `t` may take it; `t` is always in `waiters`. Cleared when `t` takes it. |
//! | `waiters` | list | threads blocked in `take`, in arrival order (index 0 waited longest). Never contains the holder; a thread leaves only by taking the GIL. `from_blocking` marks a thread coming back from `release_while`. |
//! | eval breaker | bit set (`AtomicU32`) | nonzero means "the holder must take the slow path at its next check point". Bit [`DROP_REQUEST`] belongs to this lock: set (under the mutex) by a waiter asking the holder to drop; cleared by the holder when it drops and by a thread taking the GIL from someone else. All other bits belong to the interpreter; the lock never touches them. |
//! | `threads` | one record per id | counters for `stats()` (counts, and durations in `Duration`), `held_since` (set exactly while the thread is the holder), `waiting_since` (set exactly while it is in `waiters` or waiting out a forced switch), and the trace buffer (never allocated unless tracing). |
//! | `forced_drops`, `drop_requests` | count | totals; a request counts once, when the bit goes from 0 to 1. |
//! | `dropped_on_cpu` | CPU number | where the last holder ran when it dropped at a check point (only when following CPUs). Set by every release (`None` unless forced) and cleared by every `take`: it describes only the hand-off in progress. |
//! | `cpu_moves` | count | times a thread moved to the CPU of the holder it took over from (total; per thread in `threads`). |
//! | switch interval | nanoseconds | how long a waiter sleeps before it asks for a drop (interval, fifo, priority). |
//! | check interval | instructions | under `ticks`, how many instructions the VM runs between check points. |
//!
//! Transitions (all under the mutex):
//!
//! ```text
//!   take(t):    while the GIL is locked or reserved for another thread:
//!                   sleep on `waiters_cv` for at most the switch interval;
//!                   timed out, still locked, switch_number unchanged  =>  set DROP_REQUEST
//!               (priority: a thread back from release_while sets DROP_REQUEST at once)
//!               locked = true, holder = t
//!               if last_holder != t: switch_number += 1, wake `switch_cv`
//!               clear DROP_REQUEST if the GIL changed hands or nobody waits (a request
//!                   dodged by releasing and re-taking stands)
//!               (priority: set it again while another returner still waits)
//!               follow: if t waited at least FOLLOW_MIN_WAIT and the GIL came from a
//!                   forced drop on another CPU, t moves there (after unlocking the mutex)
//!   release(t): locked = false, holder = None
//!               dropped_on_cpu = the CPU t is on for a forced drop (when following
//!                   CPUs), else None
//!               reserved_for = policy.next_holder(waiters); wake the waiter(s)
//!   check_point (holder t, DROP_REQUEST seen, or the tick budget ran out under `ticks`):
//!               clear DROP_REQUEST; if nobody waits, keep running
//!               release(t)                                  -- a forced drop
//!               forced switching: sleep on `switch_cv` until switch_number changes
//!                   (or nobody waits any more)
//!               ticks: unlock the mutex for an instant instead: no hand-off
//!               take(t)
//!   release_while(f): release(t); f(); take(t) as a thread back from a blocking call
//! ```
//!
//! The holder's side of a check point costs one relaxed load of the eval breaker when
//! nobody wants anything; only then does it lock the mutex.
//!
//! # Policies
//!
//! A [`PolicyKind`] picks one small implementation of the private `Policy` trait, which
//! answers four questions: how long a waiter waits before it asks, whether a thread back
//! from a blocking call asks at once, which waiter a released GIL is reserved for, and
//! whether a dropped holder must let another thread run before it competes again. A new
//! policy is a new variant and one more `impl Policy` of a dozen lines.
//!
//! # Where the holder runs
//!
//! Only the holder runs bytecode, so bytecode gains nothing from a second CPU; but left
//! to itself the kernel keeps each thread on the CPU it last used. Two CPU-bound threads
//! on two CPUs then alternate between them at every forced switch, and each slice starts
//! on a CPU whose caches and branch predictors hold something else: on the 2-vCPU
//! machine this was written on, 2–4% slower than running the same work sequentially
//! (and 0.0–0.3% when both threads are pinned to one CPU with `taskset`). So by default
//! (`GilConfig::follow_cpu`, `--gil-cpu follow`) a thread that takes the GIL from a
//! holder that dropped at a check point, after waiting at least [`FOLLOW_MIN_WAIT`],
//! moves itself onto the CPU that holder was using, which the holder is about to leave
//! (it goes to sleep waiting for the GIL). The move is two `sched_setaffinity` calls:
//! one mask with only that CPU (the kernel migrates the thread before returning), then
//! the thread's own mask back, so it is never left pinned and the kernel may place it
//! anywhere later. A release for a blocking call never attracts the next holder: the
//! releasing thread may want its CPU (native code runs in parallel), so the kernel
//! decides. `--gil-cpu any` turns following off, to measure what it buys.
//!
//! # Model checks
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib gil::loom`
//! runs the state machine under loom (the separate target directory keeps the normal
//! build's cache). `sync` then swaps in loom's mutex and a condition variable built on
//! loom's park/unpark, and `loom_model` explores every interleaving of take, release,
//! check point, hand-off and blocking release, for two and three threads under each
//! policy, asserting the table's invariants at every unlock of the mutex, a happens-before
//! edge between successive holders, and that no wake-up is lost. Not modelled: the eval
//! breaker stays a `std` atomic (it is only a hint, read without the mutex; every decision
//! is made again under it), a timed wait runs out at most once per thread and run, CPU
//! following and fork are left out, and the bound on preemptions (2 for three threads)
//! leaves some three-thread interleavings unexplored. Building for it takes minutes (every
//! dependency is rebuilt with the flag), running it seconds.
//!
//! # Fork
//!
//! After `fork` only the forking thread exists, and every lock word and parked-thread
//! record it inherited describes threads that are gone (`parking_lot` keeps a global
//! table of parked threads keyed by lock address). [`Gil::after_fork_in_child`] therefore
//! builds a new mutex, new condition variables and a new `State` at a fresh address and
//! leaks the old ones without reading them.

// One concept per file (each opens with what it owns and the invariant it keeps):
// Following the previous holder's CPU.
mod cpu;
// The holder's proof and handle: check points, blocking calls, exit.
mod guard;
// The lock: `Gil<T>`, its state machine, thread registration, the rebuild after fork.
mod lock;
// Who must drop and who runs next: `PolicyKind` and the `Policy` rules.
mod policy;
// Counters and the `--gil-stats` table.
mod stats;
// The `--gil-trace` recording and its format, which `toy timeline` reads back.
// The mutex and condition variables, real or (under `--cfg loom`) modelled.
mod sync;
mod thread_id;
pub mod trace;
mod trace_json;

#[cfg(all(test, loom))]
mod loom_model;
#[cfg(all(test, not(loom)))]
mod tests;

pub use cpu::FOLLOW_MIN_WAIT;
pub use guard::GilGuard;
pub use lock::{DROP_REQUEST, Gil, GilConfig};
pub use policy::{ParsePolicyError, PolicyKind};
pub use stats::{GilStats, ThreadState, ThreadStats};
pub use thread_id::ThreadId;
