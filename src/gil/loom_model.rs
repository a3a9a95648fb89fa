//! Model checks of the lock's state machine: loom runs each scenario below under every
//! interleaving of its threads (up to a bound on preemptions), with the lock's mutex and
//! condition variables replaced by loom's (see `sync`). What each run asserts:
//!
//! - **at most one holder**, and the other invariants of the module table that tie the
//!   state's fields together (`State::check`, asserted at every unlock of the mutex, so
//!   on every state another thread can see);
//! - **a reserved hand-off goes to a waiter** (part of the same check);
//! - **the holder's accesses are ordered**: the state is a loom `UnsafeCell` that every
//!   holder writes, and loom fails the run if two writes are not ordered by
//!   happens-before, so a second holder or a hand-over without synchronization is caught;
//! - **no lost wake-up**: loom fails a run in which every live thread is blocked, which
//!   is what a waiter left asleep on a free GIL comes to;
//! - nothing is lost: the count of writes is exact at the end.
//!
//! A timed wait (the switch interval) may end by timeout at any moment of loom's choosing,
//! once per thread and run. CPU following is off: it makes system calls and never changes
//! the state machine's decisions. Loom bounds the preemptions per run (6 with two threads,
//! 2 with three: about 110 seconds in all); `LOOM_MAX_PREEMPTIONS` raises the bound (fifo
//! with three threads at 3 explores 2.6 million interleavings in 5 minutes). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib gil::loom`,
//! and `-- --nocapture` to see how many interleavings each model explored.

use std::sync::Arc;

use ::loom::cell::UnsafeCell;
use ::loom::model::Builder;
use ::loom::thread;

use super::{Gil, GilConfig, GilGuard, PolicyKind, ThreadId};

/// The interpreter state of the models: a counter that loom watches.
struct Counter(UnsafeCell<u64>);

fn bump(g: &GilGuard<'_, Counter>) {
    // SAFETY: only the GIL's holder calls this, through its guard; were the GIL ever to
    // let two threads in at once, loom would report the race instead of allowing it.
    g.0.with_mut(|n| unsafe { *n += 1 });
}

fn count(g: &GilGuard<'_, Counter>) -> u64 {
    // SAFETY: as in `bump`.
    g.0.with(|n| unsafe { *n })
}

/// What one thread does: every transition of the state machine that a thread can start.
/// It takes the GIL, works, passes a check point (a forced drop, if a waiter asked or
/// under `ticks`), makes a blocking call (release and take back, jumping the queue under
/// `priority`), works, announces `peer` (queued for the GIL if it is in its own blocking
/// call, which returns at once), lets the GIL go for a moment while staying queued if the
/// policy chooses it, passes another check point and exits.
fn work(gil: &Gil<Counter>, tid: ThreadId, peer: ThreadId) {
    let mut g = gil.acquire(tid);
    bump(&g);
    g.check_point();
    g.release_while(|| ());
    bump(&g);
    g.announce_return(peer);
    g.release_returning(|| ());
    g.check_point();
    g.exit();
}

/// `threads` threads each `work` once under `policy`; then the GIL is taken once more to
/// see every write. At most `preemptions` times per run is a thread switched away from
/// while it could go on (loom's bound; switches at blocking points are always explored).
fn check(policy: PolicyKind, threads: usize, preemptions: usize) {
    let mut model = Builder::new();
    // LOOM_MAX_PREEMPTIONS, when set, overrides the bound, to explore further.
    model.preemption_bound = model.preemption_bound.or(Some(preemptions));
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    model.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let config = GilConfig {
            policy,
            check_interval: 1,
            trace: false,
            follow_cpu: false,
            ..GilConfig::default()
        };
        let gil = Arc::new(Gil::new(Counter(UnsafeCell::new(0)), config));
        let tids: Vec<ThreadId> = (0..threads).map(|_| gil.register_thread()).collect();
        let last = gil.register_thread();
        // The model's own thread is the first of the `threads`.
        let peer = |i: usize| tids[(i + 1) % threads];
        let others: Vec<_> = (1..threads)
            .map(|i| {
                let gil = gil.clone();
                let (tid, peer) = (tids[i], peer(i));
                thread::spawn(move || work(&gil, tid, peer))
            })
            .collect();
        work(&gil, tids[0], peer(0));
        for other in others {
            other.join().expect("a model thread panicked");
        }
        let g = gil.acquire(last);
        assert_eq!(count(&g), 2 * threads as u64, "{policy}: a write was lost");
    });
    let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
    let bound = model.preemption_bound.map_or("unbounded".to_owned(), |b| b.to_string());
    eprintln!("{policy}, {threads} threads, preemptions {bound}: {runs} interleavings");
}

macro_rules! models {
    ($($name:ident: $policy:ident, $threads:literal threads, $preemptions:literal preemptions;)*) => {
        $(
            #[test]
            fn $name() {
                check(PolicyKind::$policy, $threads, $preemptions);
            }
        )*
    };
}

models! {
    interval_two_threads: Interval, 2 threads, 6 preemptions;
    ticks_two_threads: Ticks, 2 threads, 6 preemptions;
    fifo_two_threads: Fifo, 2 threads, 6 preemptions;
    priority_two_threads: Priority, 2 threads, 6 preemptions;
    interval_three_threads: Interval, 3 threads, 2 preemptions;
    ticks_three_threads: Ticks, 3 threads, 2 preemptions;
    fifo_three_threads: Fifo, 3 threads, 2 preemptions;
    priority_three_threads: Priority, 3 threads, 2 preemptions;
}
