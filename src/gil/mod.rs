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
//! | `released_for` | reason | why the GIL was last released ([`SwitchReason`]): set by every release. |
//! | `reasons` | count per reason | at each switch, `reasons[released_for] += 1`, so the counts always add up to `switch_number`. |
//! | `reserved_for` | thread id | a hand-off: when `Some(t)`, the GIL is free and only `t` may take it; `t` is always in `waiters`. Cleared when `t` takes it. |
//! | `waiters` | list | threads blocked in `take`, in arrival order (index 0 waited longest), and threads announced before they arrive: one away in a blocking call whose wait the holder has just ended (`announce_return`), or a releaser in `release_returning` the policy keeps the GIL for; either is on its way to `take` and keeps its place there. Never contains the holder; a thread leaves only by taking the GIL (or, a releaser the policy did not choose, within the release that queued it). Each records when its wait began, `from_blocking` (coming back from `release_while`), and `caused_by`, the place the holder was when it began to wait, once the holder has said. |
//! | `watch` | thread id, instant, by whom | the waiter on watch, when it will ask, and whether the alarm wakes it then (else its own timed sleep ends then): the one waiter woken for its ask, for all of them. Always a queued waiter. Set by a waiter going to sleep whose ask comes first (timing its own sleep), and by `take` for the waiter that will ask the new holder first (by the alarm); cleared by the watcher when it wakes. |
//! | `alarm_due` | instant | when the process's alarm (`alarm.rs`) will next look at this lock's watch; the alarm has an entry due then. Set by arming it for a sooner time; cleared when that entry rings, which wakes the watcher if the watch is the alarm's and due, or arms it again for the watch's later time. |
//! | `policy` | [`ReleasePolicy`] | the scheduling rule, asked only with the mutex held; `views` is the room its questions show the waiters in. |
//! | eval breaker | bit set (`AtomicU32`) | nonzero means "the holder must take the slow path at its next check point". The bits in [`GIL_BITS`] belong to this lock. [`DROP_REQUEST`]: set (under the mutex) by a waiter asking the holder to drop, or by `take` for a waiter that asks every holder at once; cleared by the holder when it drops and by a thread taking the GIL from someone else. [`REPORT_LOCATION`]: set by a thread that begins to wait; cleared when the holder reports where it is, and by `take` once no waiter lacks a place. All other bits belong to the interpreter; the lock never touches them. |
//! | `holder_at` | [`Location`] | where the holder last said it was during this hold; cleared by `take`. |
//! | `waits_caused` | duration per location | each finished wait, added to its `caused_by`. |
//! | `threads` | one record per id | counters for `stats()` (counts, and durations in `Duration`, including the last hold), `held_since` (set exactly while the thread is the holder), `waiting_since` (set exactly while it is in `waiters` or waiting out a forced switch), `in_blocking_call` (inside `release_while` or `release_returning` and not yet back at `take`: only then may it be announced), the trace buffer (never allocated unless tracing), `wake`, the condition variable the thread alone sleeps on while it waits, `asleep` (set exactly while it sleeps on `wake` in `take`), `os_tid` (its id with the OS, from its first `take`), and `pinned` (the mask to give back, set only while `asleep` or between its wake-up and its next look at the state, or while announced and still away in its blocking call, until it arrives in `take`: a thread never runs pinned past that look or that arrival, so never holds the GIL pinned). |
//! | `forced_drops`, `drop_requests` | count | totals; a request counts once, when the bit goes from 0 to 1. |
//! | `dropped_on_cpu` | CPU number | where the last holder ran when it dropped at a check point (only when following CPUs). Set by every release (`None` unless forced) and cleared by every `take`: it describes only the hand-off in progress. |
//! | `kept_cpu` | CPU number | where the last holder ran when it let go to sleep on that CPU (`release_keeping_cpu`; only when following CPUs). Set and cleared like `dropped_on_cpu`. |
//! | `cpu_moves` | count | times a thread moved to the CPU of the holder it took over from (total; per thread in `threads`). |
//! | switch interval | nanoseconds | the policy's yardstick for how long a waiter lets the holder run. |
//! | check interval | instructions | the yardstick for slices of policies that count instructions (`ticks`). |
//!
//! Transitions (all under the mutex):
//!
//! ```text
//!   take(t):    in_blocking_call = false; give back the mask t was pinned from, if
//!               any (an announced thread's, see release); if t was announced, its
//!               wait began then
//!               while the GIL is locked or reserved for another thread (or t is queued):
//!                   (on first entry: queue t unless announced; set REPORT_LOCATION if
//!                   it cannot take the GIL at once)
//!                   (t is `asleep` exactly while it sleeps; after every sleep the mask
//!                   a releaser pinned t from, if any, is given back)
//!                   d = policy.ask_after(t)  (zero if t is back from a blocking call
//!                                             and policy.asks_on_return(t))
//!                   d = 0: set DROP_REQUEST if the GIL is locked, then sleep on t's
//!                          own `wake` until woken, or until it would ask a new holder
//!                          (a switch interval at most)
//!                   else:  sleep on t's `wake` for at most d; timed out, still locked,
//!                          switch_number unchanged  =>  set DROP_REQUEST
//!                   either way t sleeps that long only on watch: if `watch` names
//!                   another waiter that asks no later, t dozes WATCH_BACKSTOP times
//!                   longer (woken by a release or a new watch); else watch = t
//!                   the first time in a wait that t sets DROP_REQUEST, it first watches
//!                   `releases` for up to HANDOFF_SPIN with the mutex unlocked, and
//!                   always looks again before it sleeps, since a release in that
//!                   window notified nobody asleep (the holder is at most one check
//!                   point from dropping; sleeping costs a wake-up)
//!               locked = true, holder = t, holder_at = None
//!               if last_holder != t: switch_number += 1, reasons[released_for] += 1,
//!                   wake `switch_cv`
//!               clear DROP_REQUEST if the GIL changed hands or nobody waits (a request
//!                   dodged by releasing and re-taking stands); clear REPORT_LOCATION if
//!                   every waiter has its place
//!               request a drop (counted as the first such waiter's) if some waiter
//!                   asks this new holder at once
//!               watch = the waiter that asks this new holder first (policy.ask_after),
//!                   unless it is on watch already, timing its own sleep, and due no
//!                   later; it is left asleep and the alarm set for its ask, unless set
//!                   for no later already (without an alarm: it is woken to time its own)
//!               charge t's wait to its `caused_by`
//!               follow: if t waited at least FOLLOW_MIN_WAIT and the GIL came from a
//!                   forced drop on another CPU, t moves there (after unlocking the mutex);
//!                   else if the GIL came from a sleeper on t's own CPU (kept_cpu), t
//!                   moves to another CPU
//!   release(t, reason):
//!               locked = false, holder = None, released_for = reason, releases += 1
//!               dropped_on_cpu = the CPU t is on for a forced drop (when following
//!                   CPUs), else None; kept_cpu likewise, for `release_keeping_cpu`
//!               waiters still without a place get holder_at, if t ever reported one
//!               returning (`release_returning`) with others waiting: queue t first,
//!                   as back from a blocking call; unqueue it below unless it is chosen
//!               reserved_for = policy.next_holder(waiters), if it names a waiter;
//!                   wake one waiter: the reserved one, else the longest waiter that
//!                   may take the GIL, else the longest waiter (each sleeps on its own
//!                   `wake`, so the others are not sent through the mutex in turn);
//!                   if t stops running (`Releaser::Stops`: a wait on another thread,
//!                   a thread's end) and CPUs are followed, the woken waiter, if asleep
//!                   in take or announced (a joiner of t, whose wait t ends after
//!                   this release), is first pinned to t's CPU (`pinned` = its own mask)
//!   report(t, place):   holder_at = place; every waiter without a place gets it;
//!                       clear REPORT_LOCATION
//!   check_point (holder t, DROP_REQUEST seen):
//!               clear DROP_REQUEST; if nobody waits, keep running
//!               release(t, drop_request)                    -- a forced drop
//!               forced switching: sleep on `switch_cv` until switch_number changes
//!                   (or nobody waits any more); else unlock the mutex for an instant
//!               take(t)
//!   end_slice (holder t, its instruction slice ran out; counting policies only):
//!               policy.at_slice_end(t, waiters): keep running, or release(t, ticks) /
//!                   release(t, schedule) and take it back as at a check point;
//!               the next slice is policy.slice(t)
//!   release_while(f): in_blocking_call = true; release(t, blocking); f(); take(t) as a
//!               thread back from a blocking call (`release_returning(f)`: the same, the
//!               release returning)
//!   announce(t) (the holder has ended t's wait): if no scheduler, t is in a blocking
//!               call and not queued: queue t, back from a blocking call, from now
//!   exit:       release(t, thread_end), as a releaser that stops; the thread is
//!               unregistered
//! ```
//!
//! The holder's side of a check point costs one relaxed load of the eval breaker when
//! nobody wants anything; only then does it lock the mutex.
//!
//! # Policies
//!
//! A policy is a [`ReleasePolicy`]: the built-in ones ([`PolicyKind`]: `interval`,
//! `ticks`, `fifo`, `priority`, `deadline`) and a host's own alike. It answers the
//! questions in the transitions above — when a waiter asks for a drop, whether a thread
//! back from a blocking call asks at once, who gets a released GIL, whether a dropped
//! holder must let another thread run first, and for policies that slice time by
//! instructions, each thread's slice and what happens when it runs out — from what it is
//! shown of each waiter ([`Waiter`]: how long it has waited, whether it is back from a
//! blocking call, its last and total hold) and of the holder ([`Context`]). It never
//! changes the state, so no policy can break the invariants above, only choose among the
//! moves they allow; an answer they do not allow (a hand-off to a thread that is not
//! waiting) is ignored.
//!
//! # Who made you wait
//!
//! The lock knows nothing of the program it runs, so places are opaque numbers
//! ([`Location`]) that the holder reports and the embedder names ([`LocationNames`]). A
//! thread that begins to wait sets [`REPORT_LOCATION`]; the holder's next check point
//! then takes the slow path and reports where it is ([`GilGuard::report_location`]), and
//! the wait is charged to that place when it ends. A check point still costs one relaxed
//! load while nobody waits, and a single-threaded program never reports at all.
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
//! decides.
//!
//! One blocking call goes further: a thread that sleeps for at least
//! [`KEEP_CPU_PAUSES`] (`sleep`, through `release_keeping_cpu`) will wake on its own
//! CPU, where its timer fires, and the thread that takes the GIL from it, if it finds
//! itself on that CPU, moves to another one (the next allowed, counting round). The
//! kernel often puts it there: a waiter woken by the sleeper's release lands on the
//! waker's CPU, and a holder that spun a moment for the GIL never left it. Left there, it
//! holds the sleeper's CPU when the timer fires, and Linux, when it judges the CPUs busy,
//! queues the woken sleeper behind it instead of on the idle CPU until the next tick
//! (up to 4 ms at 250 Hz; seen with `perf sched` on the 2-vCPU machine). A 1 ms nap beside
//! 4 or 16 CPU-bound threads under `priority` went from 1.9–3.8 ms late at p99 to
//! 0.13–0.38. `--gil-cpu any` turns all of this off, to measure what it buys.
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
//! following, the alarm (a waiter put on watch is woken at once instead) and fork are
//! left out, and the bound on preemptions (2 for three threads)
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
// Who made a thread wait: location reports, and waits charged to them.
mod blame;
// The process's alarm, which wakes a waiter put on watch by a change of holder.
mod alarm;
// interval, ticks, fifo and priority as `ReleasePolicy`s.
mod builtin_policies;
// Following the previous holder's CPU.
mod cpu;
// The `deadline` policy: earliest deadline first.
mod deadline;
// The seeded generator the built-in policies draw from.
mod generator;
// Asking the policy: the views a question shows, the checks on its answers.
mod decide;
// The holder's proof and handle: check points, slices, blocking calls, exit.
mod guard;
// Places in the embedder's program, as opaque numbers, and their names.
mod location;
// The lock: `Gil<T>`, its state machine, thread registration, the rebuild after fork.
mod lock;
// The policy trait and what it may read.
mod policy;
// The built-in policies by name.
mod policy_kind;
// Which policy a lock runs, kept to make fresh instances.
mod policy_source;
// A waiting thread as recorded, and as a policy sees it.
mod queued;
// The seeded scheduler, `random`.
mod random;
// Why the GIL changed hands.
mod reason;
// The waiter on watch, which times the asks for all the waiters.
mod watch;
// Counters and the `--gil-stats` table; the same as JSON.
mod stats;
mod stats_json;
// The mutex and condition variables, real or (under `--cfg loom`) modelled.
mod sync;
mod thread_id;
// The `--gil-trace` recording and its format, which `toy timeline` reads back.
pub mod trace;
mod trace_json;

#[cfg(all(test, loom))]
mod loom_model;
#[cfg(all(test, not(loom)))]
mod tests;

pub use alarm::{AlarmForkHold, hold_for_fork as hold_alarm_for_fork};
pub use cpu::{FOLLOW_MIN_WAIT, KEEP_CPU_PAUSES};
pub use deadline::Deadline;
pub use guard::GilGuard;
pub use location::{Location, LocationNames};
pub use lock::{DROP_REQUEST, GIL_BITS, Gil, GilConfig, REPORT_LOCATION, Releaser};
pub use policy::{Context, ReleasePolicy, SliceEnd, Waiter};
pub use policy_kind::{ParsePolicyError, PolicyKind};
pub use policy_source::CustomPolicy;
pub use random::Random;
pub use reason::{Reasons, SwitchReason};
pub use stats::{COSTLIEST_SHOWN, GilStats, LineWait, ThreadState, ThreadStats};
pub use thread_id::ThreadId;
pub use trace_json::{write_trace_end, write_trace_start};
