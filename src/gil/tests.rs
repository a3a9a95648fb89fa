use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex as StdMutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::{Duration, Instant};

use super::cpu::{self, Placement, placement};
use super::lock::{MIN_SWITCH_INTERVAL, ThreadRec};
use super::queued::Queued;
use super::sync::Invariant;
use super::trace::{End, Event, EventKind};
use super::*;

/// Breaker bits an embedder might use; the lock must leave them alone.
const BREAK_GC: u32 = 2;
const BREAK_INTERRUPT: u32 = 4;

const LONG: Duration = Duration::from_secs(3600);

fn config(policy: PolicyKind, switch_interval: Duration) -> GilConfig {
    GilConfig {
        policy,
        switch_interval,
        ..GilConfig::default()
    }
}

/// Poll until `cond` holds. The bound only turns a hang into a failure.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(60), "gave up waiting for {what}");
        thread::sleep(Duration::from_micros(200));
    }
}

/// `tid` holds the GIL, and the state's invariants hold (the ones the model checks assert
/// at every unlock).
fn holds<T>(gil: &Gil<T>, tid: ThreadId) {
    let st = gil.lock_state();
    st.check();
    assert_eq!(st.holder, Some(tid));
}

fn state_of<T>(gil: &Gil<T>, tid: ThreadId) -> ThreadState {
    gil.stats().thread(tid).unwrap().state
}

/// `tid` has had the GIL at least once.
fn acquired<T>(gil: &Gil<T>, tid: ThreadId) -> bool {
    gil.stats().thread(tid).is_some_and(|t| t.acquisitions > 0)
}

fn drop_requested<T>(gil: &Gil<T>) -> bool {
    gil.eval_breaker().load(Relaxed) & DROP_REQUEST != 0
}

#[test]
fn gil_policy_names_round_trip() {
    for p in PolicyKind::ALL {
        assert_eq!(p.to_string().parse::<PolicyKind>(), Ok(p));
    }
    assert_eq!("ticks".parse(), Ok(PolicyKind::Ticks));
    let err = "round-robin".parse::<PolicyKind>().unwrap_err();
    assert!(err.to_string().contains("round-robin"), "{err}");
    let c = GilConfig::default();
    assert_eq!(c.policy, PolicyKind::Interval);
    assert_eq!(c.switch_interval, Duration::from_millis(5));
    assert_eq!(c.check_interval, 100);
    assert!(!c.trace);
}

#[test]
fn gil_thread_ids_count_from_one() {
    let gil = Gil::new((), GilConfig::default());
    assert_eq!(gil.register_thread(), ThreadId::MAIN);
    assert_eq!(gil.register_thread().get(), 2);
    assert_eq!(gil.register_thread(), ThreadId(3));
}

#[test]
fn gil_settings_change_at_run_time() {
    let gil = Gil::new((), config(PolicyKind::Ticks, LONG));
    assert_eq!(gil.policy_name(), "ticks");
    assert_eq!(gil.tick_budget(), Some(100));
    gil.set_check_interval(7);
    assert_eq!(gil.tick_budget(), Some(7));
    gil.set_check_interval(0);
    assert_eq!(gil.check_interval(), 1);
    gil.set_switch_interval(Duration::from_millis(2));
    assert_eq!(gil.switch_interval(), Duration::from_millis(2));
    gil.set_switch_interval(Duration::ZERO);
    assert_eq!(gil.switch_interval(), MIN_SWITCH_INTERVAL);
    let interval = Gil::new((), GilConfig::default());
    assert_eq!(interval.tick_budget(), None);
    assert_eq!(interval.policy_name(), "interval");
}

#[test]
fn gil_stats_count_acquisitions_and_switches() {
    let gil = Gil::new(0u32, GilConfig::default());
    let main = gil.register_thread();
    let other = gil.register_thread();
    drop(gil.acquire(main));
    drop(gil.acquire(main)); // same holder again: no switch
    thread::scope(|s| {
        s.spawn(|| drop(gil.acquire(other)));
    });
    let mut g = gil.acquire(main);
    *g += 1;
    assert_eq!(state_of(&gil, main), ThreadState::Holding);
    assert_eq!(state_of(&gil, other), ThreadState::Released);
    drop(g);
    gil.thread_exit(other);
    let stats = gil.stats();
    assert_eq!(stats.switches, 2);
    assert_eq!(stats.acquisitions, 4);
    assert_eq!(stats.thread(main).unwrap().acquisitions, 3);
    assert_eq!(stats.thread(other).unwrap().acquisitions, 1);
    assert_eq!(stats.thread(other).unwrap().state, ThreadState::Exited);
    assert_eq!(stats.forced_drops, 0);
    assert_eq!(stats.threads.len(), 2);
}

/// Interval: a waiter asks; the holder's check point lets it run before the holder
/// gets the GIL back (forced switching), and the request is cleared without touching
/// the interpreter's own breaker bits.
#[test]
fn gil_interval_forced_switch_runs_the_asker_first() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Interval, Duration::from_millis(1)));
    let main = gil.register_thread();
    let other = gil.register_thread();
    let mut g = gil.acquire(main);
    gil.eval_breaker().fetch_or(BREAK_GC, Relaxed);
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = gil.acquire(other);
            g.push(other.get());
        });
        wait_until("the drop request", || drop_requested(&gil));
        assert_eq!(gil.stats().thread(other).unwrap().drop_requests, 1);
        g.check_point();
        g.push(main.get());
    });
    assert_eq!(*g, [2, 1]);
    assert!(!drop_requested(&gil));
    assert_eq!(gil.eval_breaker().load(Relaxed), BREAK_GC);
    let stats = gil.stats();
    assert_eq!(stats.forced_drops, 1);
    assert_eq!(stats.thread(main).unwrap().forced_drops, 1);
    // Main may ask too, if `other` is descheduled while holding; `other` asked once.
    assert_eq!(stats.thread(other).unwrap().drop_requests, 1);
    assert_eq!(stats.switches, 2);
}

#[test]
fn gil_check_point_without_request_keeps_running() {
    for policy in PolicyKind::ALL {
        let gil = Gil::new(0u8, config(policy, LONG));
        let main = gil.register_thread();
        let mut g = gil.acquire(main);
        gil.eval_breaker().fetch_or(BREAK_INTERRUPT, Relaxed);
        g.check_point();
        assert_eq!(gil.eval_breaker().load(Relaxed), BREAK_INTERRUPT);
        drop(g);
        let stats = gil.stats();
        assert_eq!((stats.acquisitions, stats.forced_drops), (1, 0), "{policy}");
    }
}

/// Ticks: nobody is handed the GIL. With a waiter that has not been scheduled yet
/// (simulated by a queue entry with no thread behind it), the dropper simply takes
/// the GIL straight back.
#[test]
fn gil_ticks_dropper_can_win_again() {
    let gil = Gil::new(0u8, config(PolicyKind::Ticks, LONG));
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    gil.lock_state()
        .waiters
        .push(Queued::new(ThreadId(99), Instant::now(), false));
    for _ in 0..3 {
        g.check_point();
    }
    assert!(!drop_requested(&gil));
    gil.lock_state().waiters.clear();
    drop(g);
    let stats = gil.stats();
    assert_eq!(stats.acquisitions, 4);
    assert_eq!(stats.forced_drops, 3);
    assert_eq!(stats.switches, 0);
}

/// Ticks with a real waiter: repeated check points eventually let it in.
#[test]
fn gil_ticks_waiter_gets_in() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Ticks, LONG));
    let main = gil.register_thread();
    let other = gil.register_thread();
    let mut g = gil.acquire(main);
    thread::scope(|s| {
        start_waiter(s, &gil, other);
        let start = Instant::now();
        while g.is_empty() {
            assert!(start.elapsed() < Duration::from_secs(60), "waiter starved");
            g.check_point();
        }
    });
    assert!(!drop_requested(&gil));
    assert_eq!(gil.stats().drop_requests, 0);
}

/// Fifo: the GIL goes to waiters in arrival order, and a holder that was asked to
/// drop queues behind them.
#[test]
fn gil_fifo_hands_to_longest_waiter() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Fifo, Duration::from_millis(1)));
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    thread::scope(|s| {
        for _ in 0..3 {
            let tid = gil.register_thread();
            let gil = &gil;
            s.spawn(move || gil.acquire(tid).push(tid.get()));
            wait_until("the waiter", || state_of(gil, tid) == ThreadState::Waiting);
        }
        wait_until("the drop request", || drop_requested(&gil));
        g.check_point();
        g.push(main.get());
    });
    assert_eq!(*g, [2, 3, 4, 1]);
}

/// Fifo also hands over on an ordinary release: a newcomer cannot barge in.
#[test]
fn gil_fifo_release_reserves_for_the_queue() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Fifo, LONG));
    let main = gil.register_thread();
    let other = gil.register_thread();
    let g = gil.acquire(main);
    thread::scope(|s| {
        start_waiter(s, &gil, other);
        drop(g);
        // The GIL is reserved for `other`; main queues behind it.
        gil.acquire(main).push(main.get());
    });
    assert_eq!(*gil.acquire(main), [2, 1]);
}

/// Starts thread `tid`, which takes the GIL and pushes its id; returns once it is queued
/// behind the holder.
fn start_waiter<'s, 'e>(s: &'s thread::Scope<'s, 'e>, gil: &'e Gil<Vec<u32>>, tid: ThreadId) {
    s.spawn(move || gil.acquire(tid).push(tid.get()));
    wait_until("the waiter", || state_of(gil, tid) == ThreadState::Waiting);
}

/// Starts thread `io`, which takes the GIL once, then makes a blocking call that returns
/// when `rx` receives, then pushes its id; returns once it is in that call.
fn start_blocked<'s, 'e>(
    s: &'s thread::Scope<'s, 'e>,
    gil: &'e Gil<Vec<u32>>,
    io: ThreadId,
    rx: &'e StdMutex<std::sync::mpsc::Receiver<()>>,
) {
    s.spawn(move || {
        let mut g = gil.acquire(io);
        g.release_while(|| rx.lock().unwrap().recv().unwrap());
        g.push(io.get());
    });
    wait_until("the blocking call", || {
        state_of(gil, io) == ThreadState::Released && acquired(gil, io)
    });
}

/// Priority: a thread back from a blocking call asks at once (the switch interval is
/// an hour) and is handed the GIL ahead of an older waiter.
#[test]
fn gil_priority_hands_to_returning_thread() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Priority, LONG));
    let main = gil.register_thread();
    let old = gil.register_thread();
    let io = gil.register_thread();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = StdMutex::new(rx);
    thread::scope(|s| {
        // Owned by the scope's closure: a failed assertion drops it, so the blocked
        // thread's `recv` fails instead of the scope waiting for it forever.
        let tx = tx;
        start_blocked(s, &gil, io, &rx);
        let mut g = gil.acquire(main);
        start_waiter(s, &gil, old);
        assert!(!drop_requested(&gil));
        tx.send(()).unwrap();
        wait_until("the returner's request", || drop_requested(&gil));
        g.check_point();
        g.push(main.get());
    });
    let g = gil.acquire(main);
    assert_eq!(g[0], io.get(), "order: {:?}", *g);
    assert_eq!(g.len(), 3);
    drop(g);
    assert_eq!(gil.stats().thread(io).unwrap().drop_requests, 1);
}

/// `release_returning` under `priority`: the releaser, back in microseconds, is queued
/// before the policy chooses, and the policy (threads back from blocking calls first)
/// keeps the GIL for it: the waiter is not handed the GIL, and nothing changes hands.
#[test]
fn gil_priority_keeps_the_gil_for_a_returning_releaser() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Priority, LONG));
    let main = gil.register_thread();
    let other = gil.register_thread();
    let mut g = gil.acquire(main);
    thread::scope(|s| {
        start_waiter(s, &gil, other);
        let reserved = g.release_returning(|| gil.lock_state().reserved_for);
        assert_eq!(reserved, Some(main), "the GIL is kept for the releaser");
        holds(&gil, main);
        assert!(!acquired(&gil, other));
        assert_eq!(gil.stats().switches, 0);
        g.push(main.get());
        drop(g);
    });
    assert_eq!(*gil.acquire(main), [1, 2]);
}

/// Under `fifo` the longest waiter comes first, `release_returning` or not: the GIL goes
/// to it while the releaser is away, and the releaser queues behind it.
#[test]
fn gil_fifo_hands_over_during_release_returning() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Fifo, LONG));
    let main = gil.register_thread();
    let other = gil.register_thread();
    let mut g = gil.acquire(main);
    thread::scope(|s| {
        start_waiter(s, &gil, other);
        let queued_while_away = g.release_returning(|| {
            let queued = gil.lock_state().waiters.iter().any(|w| w.tid == main);
            wait_until("the waiter's turn", || acquired(&gil, other));
            queued
        });
        assert!(
            !queued_while_away,
            "fifo would not keep the GIL for it: it queues on return"
        );
        g.push(main.get());
        let st = gil.lock_state();
        st.check();
        assert!(st.waiters.is_empty());
    });
    drop(g);
    assert_eq!(*gil.acquire(main), [2, 1]);
}

/// A thread announced while it is away in a blocking call is queued from then on, as a
/// thread back from one: when the holder lets go, `priority` hands it the GIL ahead of
/// an older waiter, before the thread has even come back; `fifo` queues it last.
#[test]
fn gil_announced_thread_is_queued_before_it_returns() {
    for (policy, order) in [(PolicyKind::Priority, [3, 2]), (PolicyKind::Fifo, [2, 3])] {
        let gil = Gil::new(Vec::new(), config(policy, LONG));
        let main = gil.register_thread();
        let old = gil.register_thread();
        let io = gil.register_thread();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = StdMutex::new(rx);
        thread::scope(|s| {
            // Owned by the scope's closure: a failed assertion drops it, so the blocked
            // thread's `recv` fails instead of the scope waiting for it forever.
            let tx = tx;
            start_blocked(s, &gil, io, &rx);
            let g = gil.acquire(main);
            start_waiter(s, &gil, old);
            // Not in a blocking call (waiting, or the holder): nothing changes.
            g.announce_return(old);
            g.announce_return(main);
            g.announce_return(io);
            g.announce_return(io);
            {
                let st = gil.lock_state();
                st.check();
                let queued: Vec<u32> = st.waiters.iter().map(|w| w.tid.get()).collect();
                assert_eq!(queued, [2, 3], "{policy:?}");
                assert!(st.waiters[1].from_blocking);
            }
            assert_eq!(state_of(&gil, io), ThreadState::Waiting);
            drop(g);
            {
                // The chosen thread is reserved the GIL, unless (`old`, awake) it has
                // already taken it: nobody else can, `io` is still in its call.
                let st = gil.lock_state();
                let first = Some(ThreadId(order[0]));
                assert!(st.reserved_for == first || st.last_holder == first, "{policy:?}");
            }
            tx.send(()).unwrap();
        });
        assert_eq!(*gil.acquire(main), order, "{policy:?}");
    }
}

#[test]
fn gil_release_while_retakes_after_panic() {
    let gil = Gil::new(5u8, GilConfig::default());
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    let result = catch_unwind(AssertUnwindSafe(|| g.release_while(|| panic!("boom"))));
    assert!(result.is_err());
    assert_eq!(state_of(&gil, main), ThreadState::Holding);
    *g += 1;
    assert_eq!(*g, 6);
    g.exit();
    assert_eq!(state_of(&gil, main), ThreadState::Exited);
}

#[derive(Default)]
struct Counter {
    value: u64,
}

/// 8 threads × 2000 increments under each policy, with check points and slice ends in
/// the VM's style and the occasional blocking call: every increment survives, and every
/// switch is counted under one reason.
#[test]
fn gil_counter_is_exact_under_every_policy() {
    for policy in PolicyKind::ALL {
        let gil = Gil::new(
            Counter::default(),
            GilConfig {
                policy,
                switch_interval: Duration::from_micros(50),
                check_interval: 7,
                ..GilConfig::default()
            },
        );
        let _main = gil.register_thread();
        thread::scope(|s| {
            for _ in 0..8 {
                let tid = gil.register_thread();
                let gil = &gil;
                s.spawn(move || {
                    let mut g = gil.acquire(tid);
                    let mut ticks = g.tick_budget().unwrap_or(u32::MAX);
                    for i in 0..2000 {
                        let v = g.value;
                        g.value = std::hint::black_box(v) + 1;
                        ticks -= 1;
                        if ticks == 0 {
                            ticks = g.end_slice(None);
                            holds(gil, tid);
                        } else if gil.eval_breaker().load(Relaxed) & DROP_REQUEST != 0 {
                            g.check_point();
                            holds(gil, tid);
                        }
                        if i % 400 == 0 {
                            g.release_while(thread::yield_now);
                            holds(gil, tid);
                        }
                    }
                    g.exit();
                });
            }
        });
        let stats = gil.stats();
        assert_eq!(stats.threads.len(), 9);
        assert!(stats.acquisitions >= 8 + 8 * 5, "{policy}: {stats}");
        // Every switch is counted under one reason.
        assert_eq!(stats.reasons.total(), stats.switches, "{policy}: {stats}");
        assert!(stats.reasons[SwitchReason::ThreadEnd] >= 1, "{policy}: {stats}");
        // Only a scheduler hands the GIL on at its own choice (whether it does here
        // depends on whether the workers' runs overlap), and only `ticks` yields at the
        // end of a slice.
        if policy != PolicyKind::Random {
            assert_eq!(stats.reasons[SwitchReason::Schedule], 0, "{policy}");
        }
        if policy != PolicyKind::Ticks {
            assert_eq!(stats.reasons[SwitchReason::Ticks], 0, "{policy}");
        }
        assert_eq!(gil.into_inner().value, 16_000, "{policy}");
    }
}

#[test]
fn gil_follow_needs_a_forced_drop_a_switch_and_a_long_wait() {
    let long = Some(FOLLOW_MIN_WAIT);
    let follow = |dropped_on, switched, waited| placement(dropped_on, None, switched, waited);
    assert_eq!(follow(Some(3), true, long), Some(Placement::Onto(3)));
    assert_eq!(
        follow(Some(3), true, Some(FOLLOW_MIN_WAIT * 50)),
        Some(Placement::Onto(3))
    );
    // The last release was not a forced drop (or following is off).
    assert_eq!(follow(None, true, long), None);
    // The same thread took it back.
    assert_eq!(follow(Some(3), false, long), None);
    // It did not wait, or not long enough for a move to pay.
    assert_eq!(follow(Some(3), true, None), None);
    let short = FOLLOW_MIN_WAIT - Duration::from_nanos(1);
    assert_eq!(follow(Some(3), true, Some(short)), None);
}

/// A sleeper's CPU is kept free of any thread that takes the GIL from it, however long
/// that thread waited (one that spun a moment on the sleeper's CPU lands there too); a
/// sleeper that takes the GIL back itself moves nowhere.
#[test]
fn gil_keeping_a_cpu_needs_only_a_switch() {
    for waited in [None, Some(Duration::ZERO), Some(FOLLOW_MIN_WAIT * 50)] {
        assert_eq!(placement(None, Some(1), true, waited), Some(Placement::OffOf(1)));
        assert_eq!(placement(None, Some(1), false, waited), None);
    }
    assert_eq!(placement(None, None, true, Some(FOLLOW_MIN_WAIT)), None);
}

/// A move lands on the CPU asked for and leaves the thread's affinity as it was; a CPU
/// outside the affinity is refused without changing anything.
#[test]
fn gil_cpu_move_keeps_the_thread_unpinned() {
    thread::spawn(|| {
        let own = cpu::allowed();
        assert!(!own.is_empty());
        for &c in &own {
            assert!(cpu::move_to(c), "move to CPU {c} of {own:?}");
            assert_eq!(cpu::allowed(), own);
        }
        assert!(!cpu::move_to(libc::CPU_SETSIZE as u32));
        if let [first, second, ..] = own[..] {
            // Off a CPU: onto the next one allowed, counting round.
            for (i, &c) in own.iter().enumerate() {
                assert!(cpu::move_to(c));
                let next = own[(i + 1) % own.len()];
                assert_eq!(cpu::move_off(c), Some(next), "off CPU {c} of {own:?}");
                assert_eq!(cpu::allowed(), own);
            }
            cpu::restrict(&[first]);
            assert!(!cpu::move_to(second));
            assert_eq!(cpu::move_off(first), None, "nowhere else to go");
            assert_eq!(cpu::allowed(), [first]);
            assert_eq!(cpu::current(), Some(first));
        } else {
            eprintln!("not checked: refusing a CPU outside the mask needs two CPUs; this process has {own:?}");
        }
    })
    .join()
    .unwrap();
}

/// Two threads trade the GIL through forced drops until each has had it `rounds` times
/// (both run check points while holding it). Returns the stats and the trace's "cpu
/// move" events as (tid, from, to), after checking that every thread ends every
/// hand-off with the affinity it started with.
fn trade_by_forced_drops(follow_cpu: bool, rounds: usize) -> (GilStats, Vec<(u64, i64, u64)>) {
    let gil = Gil::new(
        Vec::new(),
        GilConfig {
            switch_interval: FOLLOW_MIN_WAIT * 2,
            trace: true,
            follow_cpu,
            ..GilConfig::default()
        },
    );
    let (gil, main, worker) = (&gil, gil.register_thread(), gil.register_thread());
    let trade = move |tid: ThreadId| {
        let own = cpu::allowed();
        let mut g = gil.acquire(tid);
        while g.len() < 2 * rounds {
            if g.last() != Some(&tid.get()) {
                assert_eq!(cpu::allowed(), own, "thread {tid} left pinned after a hand-off");
                g.push(tid.get());
            }
            g.check_point();
        }
    };
    thread::scope(|s| {
        s.spawn(move || trade(worker));
        trade(main);
    });
    (gil.stats(), traced_moves(gil))
}

/// The trace's "cpu move" events, as (tid, from, to).
fn traced_moves<T>(gil: &Gil<T>) -> Vec<(u64, i64, u64)> {
    let json: serde_json::Value = serde_json::from_str(&gil.trace_json()).unwrap();
    json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "cpu move")
        .map(|e| {
            assert_eq!(e["ph"], "i");
            let args = &e["args"];
            (
                e["tid"].as_u64().unwrap(),
                args["from"].as_i64().unwrap(),
                args["to"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The CPUs this process may run on, or `None`, saying that the test (`what`) is
/// skipped, when there are fewer than two: with one there is nowhere to move.
fn at_least_two_cpus(what: &str) -> Option<Vec<u32>> {
    let own = cpu::allowed();
    if own.len() < 2 {
        eprintln!("skipped: this process may run only on CPUs {own:?}; {what} needs two");
        return None;
    }
    Some(own)
}

/// Following moves a thread that took the GIL at a forced drop onto the CPU the dropper
/// ran on, and every move is traced, counted (per thread and in total) and goes to another
/// CPU the thread may use. With fewer than two CPUs there is nowhere to move, so the test
/// says it is skipped rather than pass on zero moves.
#[test]
fn gil_follow_moves_only_onto_another_cpu_and_counts_every_move() {
    let Some(own) = at_least_two_cpus("following") else {
        return;
    };
    // A hand-off moves the taker only when the kernel woke it on another CPU than the
    // dropper's: usual with two CPUs, not certain on a busy machine. So trade until some
    // thread moved, checking every trade, and fail if none ever does.
    const TRADES: usize = 200;
    for _ in 0..TRADES {
        let (stats, moves) = trade_by_forced_drops(true, 6);
        assert!(stats.follow_cpu);
        assert!(stats.forced_drops >= 6, "{stats}");
        assert_eq!(stats.cpu_moves, moves.len() as u64);
        for tid in [1, 2] {
            let traced = moves.iter().filter(|m| m.0 == tid).count() as u64;
            assert_eq!(stats.thread(ThreadId(tid as u32)).unwrap().cpu_moves, traced);
        }
        for &(_, from, to) in &moves {
            assert_ne!(from, to as i64);
            assert!(own.contains(&(to as u32)), "moved to CPU {to}, outside {own:?}");
        }
        assert!(stats.to_string().contains("cpu follow"));
        if !moves.is_empty() {
            return;
        }
    }
    panic!("no thread followed the dropper's CPU in {TRADES} trades of 12 forced hand-offs on CPUs {own:?}");
}

/// A thread that takes the GIL from a sleeper (`release_keeping_cpu`) while on the
/// sleeper's CPU moves off it, is counted and traced, and keeps its affinity; with
/// following off it stays. The taker is put on the sleeper's CPU before it waits, and the
/// kernel usually wakes it there (the sleeper is about to sleep); not certainly, so the
/// hand-off is repeated until one moves, and fails if none ever does.
#[test]
fn gil_taker_moves_off_a_sleepers_cpu() {
    let Some(own) = at_least_two_cpus("moving off") else {
        return;
    };
    let hand_off = |follow_cpu: bool| {
        let gil = Gil::new(
            Vec::new(),
            GilConfig {
                trace: true,
                follow_cpu,
                ..GilConfig::default()
            },
        );
        let (sleeper, taker) = (gil.register_thread(), gil.register_thread());
        let (gil, own) = (&gil, &own);
        let at = thread::scope(|s| {
            let mut g = gil.acquire(sleeper);
            let at = cpu::current().unwrap();
            s.spawn(move || {
                cpu::move_to(at);
                gil.acquire(taker).push(taker.get());
                assert_eq!(&cpu::allowed(), own, "the taker is left pinned");
            });
            // Kept there until it has let go (after the spawn, which would pass the mask
            // on): moved meanwhile, as under the load of the other tests, it would
            // release from, and keep, another CPU than `at`.
            cpu::restrict(&[at]);
            wait_until("the taker", || state_of(gil, taker) == ThreadState::Waiting);
            g.release_keeping_cpu(|| thread::sleep(Duration::from_millis(2)));
            cpu::restrict(own);
            at
        });
        (gil.stats(), traced_moves(gil), at)
    };
    const TRADES: usize = 200;
    for _ in 0..TRADES {
        let (stats, moves, at) = hand_off(true);
        assert_eq!(stats.cpu_moves, moves.len() as u64);
        for &(tid, from, to) in &moves {
            assert_eq!(
                (tid, from),
                (2, at as i64),
                "only the taker moves, off the sleeper's CPU"
            );
            assert_ne!(to, at as u64);
            assert!(own.contains(&(to as u32)), "moved to CPU {to}, outside {own:?}");
        }
        if !moves.is_empty() {
            let (stats, moves, _) = hand_off(false);
            assert_eq!((stats.cpu_moves, moves.len()), (0, 0), "following off");
            return;
        }
    }
    panic!("no taker moved off the sleeper's CPU in {TRADES} hand-offs on CPUs {own:?}");
}

/// Whether thread `rec`, about to be woken, is pinned (`pins`) to one of the CPUs `own`
/// for its wake-up, as the lock records and as the OS has it; or else left with `own`.
fn assert_pinned_for_its_wake_up(rec: &ThreadRec, pins: bool, own: &[u32], case: &str) {
    assert_eq!(rec.pinned.is_some(), pins, "{case}");
    let mask = cpu::allowed_of(rec.os_tid);
    if pins {
        assert_eq!(mask.len(), 1, "pinned to one CPU: {mask:?} ({case})");
        assert!(own.contains(&mask[0]), "{case}");
    } else {
        assert_eq!(mask, own, "left alone ({case})");
    }
}

/// A releaser that stops running (`Releaser::Stops`: a wait on another thread, a thread's
/// end) wakes the waiter asleep for the GIL on its own CPU: the waiter is pinned there
/// until it runs, and then has its own mask back. A release that goes on running
/// (`Leaves`) pins nobody, nor does one with following off.
#[test]
fn gil_stopping_releaser_wakes_the_waiter_on_its_cpu() {
    let Some(own) = at_least_two_cpus("waking on the releaser's CPU") else {
        return;
    };
    for (releaser, follow_cpu) in [
        (Releaser::Stops, true),
        (Releaser::Leaves, true),
        (Releaser::Stops, false),
    ] {
        let pins = releaser == Releaser::Stops && follow_cpu;
        let gil = Gil::new(
            Vec::new(),
            GilConfig {
                follow_cpu,
                ..GilConfig::default()
            },
        );
        let (holder, waiter) = (gil.register_thread(), gil.register_thread());
        let gil = &gil;
        let mut st = gil.lock_state();
        assert_eq!(gil.take(&mut st, holder, false, None), None);
        drop(st);
        let after = thread::scope(|s| {
            let woken = s.spawn(move || {
                gil.acquire(waiter).push(waiter.get());
                cpu::allowed()
            });
            wait_until("the waiter asleep", || gil.lock_state().rec(waiter).asleep);
            let mut st = gil.lock_state();
            gil.release_as(&mut st, holder, End::Blocking, SwitchReason::Blocking, releaser);
            // The waiter needs the mutex to run on from its wake-up: it is still pinned.
            let rec = st.rec(waiter);
            assert_ne!(rec.os_tid, 0, "known once it came to the lock");
            assert_pinned_for_its_wake_up(rec, pins, &own, &format!("{releaser:?}, follow {follow_cpu}"));
            drop(st);
            woken.join().expect("the waiter")
        });
        assert_eq!(after, own, "the waiter has its own mask back once it runs");
        assert!(gil.lock_state().rec(waiter).pinned.is_none());
    }
}

/// A thread's end wakes a joiner the GIL goes to (announced, still inside its join) on
/// the ending thread's CPU: the release pins it there, and it has its own mask back once
/// it arrives at the lock, before it holds the GIL. With following off, nobody is pinned.
#[test]
fn gil_an_ending_thread_wakes_its_announced_joiner_on_its_cpu() {
    let Some(own) = at_least_two_cpus("waking a joiner on the ending thread's CPU") else {
        return;
    };
    for follow_cpu in [true, false] {
        let gil = Gil::new(
            Vec::<u32>::new(),
            GilConfig {
                policy: PolicyKind::Priority,
                follow_cpu,
                ..GilConfig::default()
            },
        );
        let (ending, joiner) = (gil.register_thread(), gil.register_thread());
        let gil = &gil;
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        let mask_holding = thread::scope(|s| {
            // Owned here, so a failed assertion below drops it and ends the joiner's wait.
            let finish = finish;
            let joined = s.spawn(move || {
                let mut guard = gil.acquire(joiner);
                guard
                    .release_while(move || finished.recv())
                    .expect("the ending thread ends");
                // Back at the lock and holding the GIL again.
                let mask = cpu::allowed();
                assert!(gil.lock_state().rec(joiner).pinned.is_none());
                mask
            });
            wait_until("the joiner inside its join", || {
                let st = gil.lock_state();
                st.rec(joiner).in_blocking_call && !st.locked
            });
            let mut st = gil.lock_state();
            assert_eq!(gil.take(&mut st, ending, false, None), None);
            // The thread ends: its joiner is announced, then it lets the GIL go.
            assert!(gil.announce(&mut st, joiner, Instant::now()));
            gil.release_as(&mut st, ending, End::Blocking, SwitchReason::Blocking, Releaser::Stops);
            assert_eq!(st.reserved_for, Some(joiner), "priority hands the GIL to the joiner");
            let rec = st.rec(joiner);
            assert_pinned_for_its_wake_up(rec, follow_cpu, &own, &format!("follow {follow_cpu}"));
            drop(st);
            // Only now is the joiner woken.
            finish.send(()).expect("the joiner waits");
            joined.join().expect("the joiner")
        });
        assert_eq!(mask_holding, own, "the joiner holds the GIL with its own mask");
    }
}

#[test]
fn gil_any_cpu_never_moves_a_thread() {
    let (stats, moves) = trade_by_forced_drops(false, 6);
    assert!(stats.forced_drops >= 6, "{stats}");
    assert_eq!((stats.cpu_moves, moves.len()), (0, 0));
    assert!(stats.threads.iter().all(|t| t.cpu_moves == 0));
    assert!(stats.to_string().contains("cpu any"));
}

/// The whole follow decision, driven through the state machine on one thread: a
/// forced drop attracts a taker that waited long enough; a blocking release (the
/// releaser may want its CPU: native code runs in parallel), a short wait, the same
/// thread taking it back, or following turned off attract nobody. A release keeping its
/// CPU sends the next holder off it, even after a short wait; a blocking release does
/// not.
#[test]
fn gil_follow_decision_follows_forced_drops_only() {
    for follow_cpu in [true, false] {
        let gil = Gil::new(
            (),
            GilConfig {
                follow_cpu,
                ..GilConfig::default()
            },
        );
        let (main, other) = (gil.register_thread(), gil.register_thread());
        let long_ago = Some(Instant::now() - FOLLOW_MIN_WAIT * 2);
        let mut st = gil.lock_state();
        assert_eq!(gil.take(&mut st, main, false, None), None);
        gil.release(&mut st, main, End::Forced, SwitchReason::DropRequest);
        let dropped_on = st.dropped_on_cpu;
        assert_eq!(dropped_on.is_some(), follow_cpu, "a forced drop records its CPU");
        assert_eq!(
            gil.take(&mut st, other, false, long_ago),
            dropped_on.map(Placement::Onto)
        );
        assert_eq!(st.dropped_on_cpu, None, "a take consumes the hand-off");
        gil.release(&mut st, other, End::Blocking, SwitchReason::Blocking);
        assert_eq!(st.dropped_on_cpu, None);
        assert_eq!(gil.take(&mut st, main, true, long_ago), None, "blocking release");
        gil.release(&mut st, main, End::Forced, SwitchReason::DropRequest);
        assert_eq!(
            gil.take(&mut st, other, false, Some(Instant::now())),
            None,
            "short wait"
        );
        gil.release(&mut st, other, End::Forced, SwitchReason::Ticks);
        assert_eq!(gil.take(&mut st, other, false, long_ago), None, "same thread again");
        gil.release(&mut st, other, End::Released, SwitchReason::ThreadEnd);
        assert_eq!(gil.take(&mut st, main, true, None), None, "thread end");
        gil.release_as(&mut st, main, End::Blocking, SwitchReason::Blocking, Releaser::KeepsCpu);
        let kept = st.kept_cpu;
        assert_eq!(kept.is_some(), follow_cpu, "a sleeper records its CPU");
        let short = Some(Instant::now());
        assert_eq!(gil.take(&mut st, other, false, short), kept.map(Placement::OffOf));
        assert_eq!(st.kept_cpu, None, "a take consumes the hand-off");
        gil.release_as(
            &mut st,
            other,
            End::Blocking,
            SwitchReason::Blocking,
            Releaser::KeepsCpu,
        );
        assert_eq!(gil.take(&mut st, other, true, None), None, "the sleeper itself");
        gil.release_as(&mut st, other, End::Blocking, SwitchReason::Blocking, Releaser::Returns);
        assert_eq!(st.kept_cpu, None);
        assert_eq!(gil.take(&mut st, main, false, long_ago), None, "returning release");
    }
}

/// The trace format, byte for byte, written out in full rather than through the
/// `trace` constants: traces already on disk must stay readable by `toy timeline`, so
/// any change here is a format change, never a refactoring.
#[test]
fn gil_trace_format_is_pinned() {
    let gil = Gil::new(
        (),
        GilConfig {
            trace: true,
            // A name that must be escaped, and one the embedder does not know.
            location_names: Some(LocationNames::new(|at| {
                (at.0 == 7).then(|| "say \"hi\"\\.toy:3".to_string())
            })),
            ..GilConfig::default()
        },
    );
    let (main, other) = (gil.register_thread(), gil.register_thread());
    let at = Duration::from_nanos;
    let running = |end, reason, at| EventKind::Running {
        end,
        reason: Some(reason),
        at,
    };
    let event = |kind, start, end| Event {
        kind,
        start: at(start),
        end: at(end),
    };
    {
        let mut st = gil.lock_state();
        st.rec_mut(main).events = vec![
            event(
                running(End::Forced, SwitchReason::DropRequest, Some(Location(7))),
                1_500,
                2_000_250,
            ),
            event(EventKind::CpuMove { from: None, to: 1 }, 7, 7),
            event(
                running(End::Blocking, SwitchReason::Blocking, Some(Location(8))),
                3_000_000,
                3_000_001,
            ),
        ];
        st.rec_mut(other).events = vec![
            event(EventKind::Waiting, 0, 3),
            event(EventKind::DropRequest { holder: Some(main) }, 2_000, 2_000),
            event(EventKind::DropRequest { holder: None }, 2_500, 2_500),
            event(EventKind::CpuMove { from: Some(0), to: 1 }, 12_345_678, 12_345_678),
            event(
                running(End::Released, SwitchReason::ThreadEnd, None),
                5_000_000_000,
                5_000_000_000,
            ),
        ];
    }
    let expected = r##"{"displayTimeUnit":"ms","traceEvents":[
{"name":"process_name","ph":"M","pid":1,"args":{"name":"toy"}},
{"name":"thread_name","ph":"M","pid":1,"tid":1,"args":{"name":"thread 1 (main)"}},
{"name":"thread_sort_index","ph":"M","pid":1,"tid":1,"args":{"sort_index":1}},
{"name":"thread_name","ph":"M","pid":1,"tid":2,"args":{"name":"thread 2"}},
{"name":"thread_sort_index","ph":"M","pid":1,"tid":2,"args":{"sort_index":2}},
{"name":"running","cat":"gil","ph":"X","pid":1,"tid":1,"ts":1.500,"dur":1998.750,"args":{"end":"forced drop","reason":"drop_request","line":"say \"hi\"\\.toy:3"}},
{"name":"cpu move","cat":"gil","ph":"i","s":"t","pid":1,"tid":1,"ts":0.007,"args":{"from":-1,"to":1}},
{"name":"running","cat":"gil","ph":"X","pid":1,"tid":1,"ts":3000.000,"dur":0.001,"args":{"end":"blocking call","reason":"blocking","line":"#8"}},
{"name":"waiting for GIL","cat":"gil","ph":"X","pid":1,"tid":2,"ts":0.000,"dur":0.003},
{"name":"drop request","cat":"gil","ph":"i","s":"t","pid":1,"tid":2,"ts":2.000,"args":{"holder":1}},
{"name":"drop request","cat":"gil","ph":"i","s":"t","pid":1,"tid":2,"ts":2.500,"args":{"holder":0}},
{"name":"cpu move","cat":"gil","ph":"i","s":"t","pid":1,"tid":2,"ts":12345.678,"args":{"from":0,"to":1}},
{"name":"running","cat":"gil","ph":"X","pid":1,"tid":2,"ts":5000000.000,"dur":0.000,"args":{"end":"released","reason":"thread_end"}}
]}
"##;
    assert_eq!(gil.trace_json(), expected);
}

#[test]
fn gil_trace_is_chrome_json() {
    let gil = Gil::new(
        (),
        GilConfig {
            switch_interval: Duration::from_millis(1),
            trace: true,
            ..GilConfig::default()
        },
    );
    let main = gil.register_thread();
    let other = gil.register_thread();
    let mut g = gil.acquire(main);
    thread::scope(|s| {
        s.spawn(|| gil.acquire(other).exit());
        wait_until("the drop request", || drop_requested(&gil));
        g.check_point();
    });
    drop(g);
    let _still = gil.acquire(main);
    let path = std::env::temp_dir().join(format!("toy-gil-trace-{}.json", std::process::id()));
    gil.write_trace(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    fn with_name<'a>(events: &'a [serde_json::Value], name: &'a str) -> impl Iterator<Item = &'a serde_json::Value> {
        events.iter().filter(move |e| e["name"] == name)
    }
    let named = |name| with_name(events, name);
    let names: Vec<_> = named("thread_name")
        .map(|e| (e["tid"].as_u64().unwrap(), e["args"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [(1, "thread 1 (main)"), (2, "thread 2")]);
    for e in events {
        assert_eq!(e["pid"], 1);
        if e["ph"] == "X" || e["ph"] == "i" {
            assert!(e["ts"].as_f64().unwrap() >= 0.0);
        }
        if e["ph"] == "X" {
            assert!(e["dur"].as_f64().unwrap() >= 0.0);
        }
    }
    let tids = |name: &str| -> Vec<u64> { with_name(events, name).map(|e| e["tid"].as_u64().unwrap()).collect() };
    // main: running (forced drop), running (released), running (still running);
    // thread 2: waiting, running.
    assert_eq!(tids("running"), [1, 1, 1, 2]);
    assert!(tids("waiting for GIL").contains(&2));
    assert!(tids("waiting for GIL").contains(&1)); // main waited during its forced drop
    assert!(named("drop request").all(|e| e["ph"] == "i" && e["s"] == "t"));
    let request: Vec<_> = named("drop request").filter(|e| e["tid"] == 2).collect();
    assert_eq!(request.len(), 1);
    assert_eq!(request[0]["args"]["holder"], 1);
    let ends: Vec<_> = named("running").map(|e| e["args"]["end"].as_str().unwrap()).collect();
    assert!(
        ends.contains(&"forced drop") && ends.contains(&"still running"),
        "{ends:?}"
    );
}

#[test]
fn gil_tracing_off_records_nothing() {
    let gil = Gil::new((), GilConfig::default());
    let main = gil.register_thread();
    drop(gil.acquire(main));
    assert!(!gil.tracing());
    assert!(
        gil.lock_state()
            .threads
            .iter()
            .flatten()
            .all(|r| r.events.capacity() == 0)
    );
    let json: serde_json::Value = serde_json::from_str(&gil.trace_json()).unwrap();
    assert!(json["traceEvents"].as_array().unwrap().iter().all(|e| e["ph"] == "M"));
}

#[test]
fn gil_stats_table_is_aligned() {
    let gil = Gil::new((), GilConfig::default());
    let main = gil.register_thread();
    let other = gil.register_thread();
    drop(gil.acquire(main));
    thread::scope(|s| {
        s.spawn(|| gil.acquire(other).exit());
    });
    let table = gil.stats().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("GIL: policy interval, switch interval 5.000 ms"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("thread") && lines[1].contains("hold (ms)"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("1 (main)") && lines[3].starts_with("2 "),
        "{table}"
    );
    assert!(lines[4].starts_with("total"), "{table}");
    assert_eq!(
        lines[5],
        "switches: 1 (drop_request 0, ticks 0, blocking 1, thread_end 0, schedule 0)"
    );
    assert_eq!(lines[6], "waits caused: none charged to a line");
    let width = lines[1].len();
    assert!(lines[1..5].iter().all(|l| l.len() == width), "{table}");
}

/// The table ends with the five costliest lines of `waits_caused`, costliest first, their
/// names and milliseconds aligned; the rest are in `gil_stats()` only.
#[test]
fn gil_stats_table_ends_with_the_five_costliest_lines() {
    let mut stats = Gil::new((), GilConfig::default()).stats();
    stats.waits_caused = (1..=7u64)
        .rev()
        .map(|i| LineWait {
            line: format!("spin.toy:{}", i * 3),
            wait: Duration::from_micros(i * 1500),
        })
        .collect();
    let table = stats.to_string();
    let tail: Vec<&str> = table.lines().skip_while(|l| !l.starts_with("waits caused")).collect();
    assert_eq!(
        tail,
        [
            "waits caused (where the holder was when others began to wait), costliest first:",
            "  spin.toy:21  10.500 ms",
            "  spin.toy:18   9.000 ms",
            "  spin.toy:15   7.500 ms",
            "  spin.toy:12   6.000 ms",
            "  spin.toy:9    4.500 ms",
        ],
        "{table}"
    );
    assert_eq!(COSTLIEST_SHOWN, 5);
}

/// Fork while other threads contend for the GIL; the child rebuilds the lock and
/// uses it (contention-free), including for a thread registered after the fork.
#[test]
fn gil_after_fork_child_gets_a_working_lock() {
    let gil = Gil::new(
        Counter::default(),
        config(PolicyKind::Interval, Duration::from_micros(20)),
    );
    let main = gil.register_thread();
    let stop = AtomicBool::new(false);
    let statuses: Vec<i32> = thread::scope(|s| {
        for _ in 0..2 {
            let tid = gil.register_thread();
            let (gil, stop) = (&gil, &stop);
            s.spawn(move || {
                while !stop.load(Relaxed) {
                    let mut g = gil.acquire(tid);
                    g.value += 1;
                    g.release_while(thread::yield_now);
                }
                gil.thread_exit(tid);
            });
        }
        let statuses = (0..10).map(|_| fork_once(&gil, main)).collect();
        stop.store(true, Relaxed);
        statuses
    });
    assert_eq!(statuses, [0; 10], "child exit statuses");
}

/// Fork while holding the GIL; returns the child's exit status.
fn fork_once(gil: &Gil<Counter>, main: ThreadId) -> i32 {
    let g = gil.acquire(main);
    // SAFETY: fork in a test; the child only runs `child` and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = catch_unwind(AssertUnwindSafe(|| child(gil, main, g))).unwrap_or(Err(99));
        // SAFETY: leave the child without running the parent's exit handlers.
        unsafe { libc::_exit(code.err().unwrap_or(0)) };
    }
    assert!(pid > 0, "fork failed");
    drop(g);
    wait_child(pid)
}

/// The child's checks; `Err(n)` becomes the exit status (no printing after fork).
fn child(gil: &Gil<Counter>, main: ThreadId, mut g: GilGuard<'_, Counter>) -> Result<(), i32> {
    // SAFETY: we are the forked child's only thread and hold the GIL as `main`.
    unsafe { gil.after_fork_in_child(main) };
    let check = |ok: bool, code: i32| if ok { Ok(()) } else { Err(code) };
    check(!drop_requested(gil), 1)?;
    let stats = gil.stats();
    check(stats.threads.len() == 1, 2)?;
    check(stats.thread(main).map(|t| t.state) == Some(ThreadState::Holding), 3)?;
    g.check_point();
    let before = g.value;
    g.value += 1;
    g.release_while(|| ());
    drop(g);
    // A thread registered in the child. Its ids are used from this OS thread: starting a
    // real one is not safe here, since std's thread start takes a global lock that a
    // parent thread may have held at the fork (seen hanging ~1 fork in 3000).
    let worker = gil.register_thread();
    gil.acquire(worker).value += 1;
    let g = gil.acquire(main);
    check(g.value == before + 2, 4)?;
    drop(g);
    check(gil.stats().thread(worker).map(|t| t.acquisitions) == Some(1), 5)
}

/// waitpid with a bound: a hung child is killed and reported.
fn wait_child(pid: libc::pid_t) -> i32 {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: plain syscall on our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            return if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
        }
        if start.elapsed() > Duration::from_secs(30) {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return -2; // hung
        }
        thread::sleep(Duration::from_millis(1));
    }
}

// ---- the policy trait and each policy's decisions ---------------------------------------

const MS: Duration = Duration::from_millis(1);

fn waiter(tid: u32, waited: Duration, from_blocking: bool, last_hold: Duration) -> Waiter {
    Waiter {
        tid: ThreadId(tid),
        waited,
        from_blocking,
        last_hold,
        total_hold: last_hold * 3,
    }
}

/// The moment every policy question in these tests is asked at, so that answers that
/// keep times of their own (deadline's) are reproducible.
fn question_time() -> Instant {
    static AT: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *AT.get_or_init(|| Instant::now() + Duration::from_secs(60))
}

/// A holder (thread 1) that has held the GIL for `held` — its first hold — with a 5 ms
/// switch interval.
fn cx(held: Duration) -> Context {
    Context {
        holder: Some(ThreadId(1)),
        held,
        held_in_all: held,
        now: question_time(),
        switch_interval: 5 * MS,
        check_interval: 100,
    }
}

#[test]
fn gil_interval_asks_after_an_interval_of_the_same_holder() {
    let mut p = PolicyKind::Interval.instance(1);
    let w = waiter(2, 3 * MS, false, MS);
    // Waited 3 ms, the holder has held 10: 2 ms to go; a holder of 1 ms: 4 ms to go.
    assert_eq!(p.ask_after(&w, &cx(10 * MS)), Some(2 * MS));
    assert_eq!(p.ask_after(&w, &cx(MS)), Some(4 * MS));
    assert_eq!(
        p.ask_after(&waiter(2, 9 * MS, false, MS), &cx(9 * MS)),
        Some(Duration::ZERO)
    );
    assert!(!p.asks_on_return(&waiter(2, MS, true, MS)));
    assert_eq!(p.next_holder(&[w], &cx(MS)), None);
    assert!(p.forced_switching());
    assert!(!p.counts_instructions());
}

#[test]
fn gil_fifo_and_priority_choose_from_the_queue() {
    let queue = [
        waiter(2, 9 * MS, false, MS),
        waiter(3, 5 * MS, true, MS),
        waiter(4, MS, true, MS),
    ];
    let mut fifo = PolicyKind::Fifo.instance(1);
    assert_eq!(fifo.next_holder(&queue, &cx(MS)), Some(ThreadId(2)));
    assert_eq!(fifo.next_holder(&[], &cx(MS)), None);
    let mut priority = PolicyKind::Priority.instance(1);
    assert!(priority.asks_on_return(&queue[1]));
    // The first thread back from a blocking call, ahead of an older CPU-bound waiter.
    assert_eq!(priority.next_holder(&queue, &cx(MS)), Some(ThreadId(3)));
    assert_eq!(priority.next_holder(&queue[..1], &cx(MS)), None);
}

#[test]
fn gil_ticks_slices_are_jittered_around_the_check_interval() {
    let mut ticks = PolicyKind::Ticks.instance(1);
    assert!(ticks.counts_instructions());
    assert!(!ticks.forced_switching());
    assert_eq!(ticks.ask_after(&waiter(2, LONG, false, MS), &cx(LONG)), None);
    let slices: Vec<u32> = (0..200).map(|_| ticks.slice(ThreadId(1), &cx(MS))).collect();
    assert!(slices.iter().all(|&n| (51..=150).contains(&n)), "{slices:?}");
    assert!(slices.iter().any(|&n| n != slices[0]), "no jitter: {slices:?}");
    let one = Context {
        check_interval: 1,
        ..cx(MS)
    };
    assert_eq!(ticks.slice(ThreadId(1), &one), 1);
    assert_eq!(ticks.at_slice_end(ThreadId(1), &[], &cx(MS)), SliceEnd::KeepRunning);
    let queue = [waiter(2, MS, false, MS)];
    assert_eq!(ticks.at_slice_end(ThreadId(1), &queue, &cx(MS)), SliceEnd::Yield);
}

/// A waiter of the deadline tests: `tid`, back from a blocking call or not, having held the
/// GIL `total_hold` in all, waiting since `waited` before the question.
fn dl_waiter(tid: u32, waited: Duration, from_blocking: bool, total_hold: Duration) -> Waiter {
    Waiter {
        tid: ThreadId(tid),
        waited,
        from_blocking,
        last_hold: total_hold,
        total_hold,
    }
}

/// Deadline: the first wait sets a deadline a slice after its start; a waiter with an
/// earlier deadline than the holder's asks at once, a later one when the holder has spent
/// its slice; a released GIL goes to the earliest deadline, ties in arrival order.
#[test]
fn gil_deadline_puts_the_earliest_deadline_first() {
    let mut p = Deadline::default();
    let now = question_time();
    // Holder 1 has held 2 ms, its first hold: its deadline is 3 ms from now.
    let cpu = dl_waiter(2, MS, false, Duration::ZERO);
    assert_eq!(p.deadline_of(&cpu, &cx(2 * MS)), now + 4 * MS);
    assert_eq!(p.ask_after(&cpu, &cx(2 * MS)), Some(3 * MS));
    // Asked again later in the same wait, the deadline has not moved.
    let cpu_later = dl_waiter(2, 3 * MS, false, Duration::ZERO);
    let later = Context {
        now: now + 2 * MS,
        ..cx(4 * MS)
    };
    assert_eq!(p.deadline_of(&cpu_later, &later), now + 4 * MS);
    assert_eq!(p.ask_after(&cpu_later, &later), Some(MS));
    // A holder that has spent its slice is asked at once by anybody.
    assert_eq!(p.ask_after(&cpu, &cx(6 * MS)), Some(Duration::ZERO));
    // Ties: the one that began to wait first (listed first); nobody: nobody.
    let twin = dl_waiter(5, MS, false, Duration::ZERO);
    assert_eq!(p.next_holder(&[cpu, twin], &cx(MS)), Some(ThreadId(2)));
    assert_eq!(p.next_holder(&[twin, cpu], &cx(MS)), Some(ThreadId(5)));
    assert_eq!(p.next_holder(&[], &cx(MS)), None);
    assert!(p.forced_switching() && !p.counts_instructions());
    assert_eq!(p.name(), "deadline");
}

/// Deadline's virtual deadlines: a thread that blocks often and holds little keeps its
/// early deadline and takes the GIL from a holder whose deadline is later, round trip
/// after round trip; one that holds a whole slice between blocking calls gets a later
/// deadline and waits its turn behind a CPU-bound thread that waited first.
#[test]
fn gil_deadline_keeps_a_deadline_until_its_slice_is_spent() {
    let mut p = Deadline::default();
    let now = question_time();
    // The I/O thread (3) first waits 1 ms before `now`, for a holder (1) that began its
    // hold 2 ms before: the holder's deadline comes first, so the I/O thread asks when
    // that slice is spent (in 3 ms).
    let first = dl_waiter(3, MS, true, Duration::ZERO);
    assert_eq!(p.ask_after(&first, &cx(2 * MS)), Some(3 * MS));
    assert_eq!(p.deadline_of(&first, &cx(2 * MS)), now + 4 * MS);
    // Thread 1, made to drop after 12 ms, has spent its slice: its new deadline is a
    // slice after its last one, later than the I/O thread's.
    let dropped = dl_waiter(1, Duration::ZERO, false, 12 * MS);
    assert_eq!(p.deadline_of(&dropped, &cx(MS)), now + 8 * MS);
    // Holder 1 took the GIL back at `now`; a millisecond later the I/O thread has made
    // 200 round trips and held 2 ms in all: it keeps its deadline, earlier than holder
    // 1's new one, so it asks at once every time it comes back.
    let back = |held_in_all: Duration| Waiter {
        last_hold: Duration::from_micros(10),
        ..dl_waiter(3, Duration::from_micros(5), true, held_in_all)
    };
    let holder_1 = Context {
        held_in_all: 13 * MS,
        now: now + MS,
        ..cx(MS)
    };
    assert_eq!(p.ask_after(&back(2 * MS), &holder_1), Some(Duration::ZERO));
    assert_eq!(p.next_holder(&[dropped, back(2 * MS)], &cx(MS)), Some(ThreadId(3)));
    // Had it held a whole slice within that millisecond, far more than its share, its
    // deadline would move a slice on, behind holder 1's: it would wait for the 4 ms left
    // of that slice.
    let mut greedy = p.clone();
    let spent = back(5 * MS);
    assert_eq!(greedy.deadline_of(&spent, &holder_1), now + 9 * MS);
    assert_eq!(greedy.ask_after(&spent, &holder_1), Some(4 * MS));
    // Spending it over 30 ms instead (a sixth of the time), its next deadline is counted
    // from four slices before this wait (no further back): ahead of holder 1's, which has
    // held the rest of the time, so it asks at once.
    let at_30 = Context {
        now: now + 30 * MS,
        held_in_all: 14 * MS,
        held: MS,
        ..cx(MS)
    };
    assert_eq!(p.deadline_of(&spent, &at_30), now + 15 * MS - Duration::from_micros(5));
    let holder_1_again = Context {
        held_in_all: 37 * MS,
        held: 2 * MS,
        ..at_30
    };
    assert_eq!(p.ask_after(&spent, &holder_1_again), Some(Duration::ZERO));
    // A thread (4) that held 8 ms of the last 10 at a stretch is charged for them: back
    // from its blocking call, its deadline is counted from a slice before this wait,
    // behind a CPU-bound thread that has waited 10 ms.
    let heavy_start = dl_waiter(4, MS, false, Duration::ZERO);
    let ten_ago = Context {
        now: now - 10 * MS,
        ..cx(MS)
    };
    assert_eq!(p.deadline_of(&heavy_start, &ten_ago), now - 6 * MS);
    let heavy = dl_waiter(4, Duration::from_micros(10), true, 8 * MS);
    let cpu = dl_waiter(2, 10 * MS, false, Duration::ZERO);
    assert_eq!(p.next_holder(&[heavy, cpu], &cx(MS)), Some(ThreadId(2)));
    assert_eq!(p.deadline_of(&heavy, &cx(MS)), now - Duration::from_micros(10));
    assert_eq!(p.deadline_of(&cpu, &cx(MS)), now - 5 * MS);
}

/// Deadline with a slice of its own: deadlines and the holder's slice follow it, not the
/// switch interval.
#[test]
fn gil_deadline_with_a_slice_of_its_own() {
    let mut p = Deadline::with_slice(2 * MS);
    let w = dl_waiter(2, Duration::ZERO, false, Duration::ZERO);
    assert_eq!(p.deadline_of(&w, &cx(MS)), question_time() + 2 * MS);
    // The holder began 1 ms ago: its deadline (1 ms from now) is first; 1 ms of slice left.
    assert_eq!(p.ask_after(&w, &cx(MS)), Some(MS));
}

/// Deadline through the lock: a thread back from a blocking call, whose deadline was set
/// when it first waited, is handed the GIL at the holder's next check point, ahead of a
/// CPU-bound thread that began to wait later (the switch interval, so the slice, is an
/// hour: nobody's slice runs out here).
#[test]
fn gil_deadline_hands_to_the_returning_thread() {
    let gil = Gil::new(Vec::new(), config(PolicyKind::Deadline, LONG));
    let main = gil.register_thread();
    let cpu_bound = gil.register_thread();
    let io = gil.register_thread();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = StdMutex::new(rx);
    thread::scope(|s| {
        // Owned by the scope's closure: a failed assertion drops it, so the blocked
        // thread's `recv` fails instead of the scope waiting for it forever.
        let tx = tx;
        s.spawn(|| {
            let mut g = gil.acquire(io);
            wait_until("main's wait", || state_of(&gil, main) == ThreadState::Waiting);
            g.release_while(|| rx.lock().unwrap().recv().unwrap());
            g.push(io.get());
        });
        wait_until("the I/O thread's hold", || state_of(&gil, io) == ThreadState::Holding);
        // Main waits behind the I/O thread (so its deadline is the later one) and gets the
        // GIL when the I/O thread blocks.
        let mut g = gil.acquire(main);
        s.spawn(|| gil.acquire(cpu_bound).push(cpu_bound.get()));
        wait_until("the CPU-bound waiter", || {
            state_of(&gil, cpu_bound) == ThreadState::Waiting
        });
        assert!(!drop_requested(&gil));
        tx.send(()).unwrap();
        wait_until("the returner's request", || drop_requested(&gil));
        g.check_point();
        g.push(main.get());
    });
    let g = gil.acquire(main);
    assert_eq!(g[0], io.get(), "order: {:?}", *g);
    assert_eq!(g.len(), 3);
    drop(g);
    let stats = gil.stats();
    assert_eq!(stats.policy, "deadline");
    assert_eq!(stats.reasons[SwitchReason::DropRequest], 1, "{stats}");
    assert_eq!(stats.reasons.total(), stats.switches, "{stats}");
}

/// A seeded scheduler in a dozen lines: it counts instructions, draws each slice from
/// its generator, hands the GIL on at the end of every slice to a waiter the generator
/// picks, and never lets a waiter ask. This is the shape of the `random` policy; it also
/// names a thread that is not waiting now and then, which the lock must ignore.
#[derive(Clone)]
struct Seeded {
    state: u64,
}

impl Seeded {
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
}

impl ReleasePolicy for Seeded {
    fn name(&self) -> &str {
        "seeded"
    }
    fn ask_after(&mut self, _: &Waiter, _: &Context) -> Option<Duration> {
        None
    }
    fn forced_switching(&self) -> bool {
        false
    }
    fn counts_instructions(&self) -> bool {
        true
    }
    fn slice(&mut self, _: ThreadId, _: &Context) -> u32 {
        1 + (self.next() % 5) as u32
    }
    fn at_slice_end(&mut self, _: ThreadId, waiters: &[Waiter], _: &Context) -> SliceEnd {
        if waiters.is_empty() {
            SliceEnd::KeepRunning
        } else {
            SliceEnd::HandOff
        }
    }
    fn next_holder(&mut self, waiters: &[Waiter], _: &Context) -> Option<ThreadId> {
        let pick = self.next() as usize % (waiters.len() + 1);
        // One time in len+1: a thread that is not waiting (the lock must not reserve it).
        Some(waiters.get(pick).map_or(ThreadId(77), |w| w.tid))
    }
}

/// The trait expresses a seeded scheduler, and the lock counts its hand-offs as
/// `schedule` while keeping its invariants (checked at every slice end).
#[test]
fn gil_custom_policy_schedules_at_slice_ends() {
    let gil = Gil::new(
        Counter::default(),
        GilConfig {
            custom_policy: Some(CustomPolicy::new(Seeded { state: 42 })),
            ..GilConfig::default()
        },
    );
    assert_eq!(gil.policy_name(), "seeded");
    assert_eq!(gil.tick_budget(), Some(100));
    let main = gil.register_thread();
    // Everyone waits before anyone runs, so the slices end with others waiting.
    let g = gil.acquire(main);
    thread::scope(|s| {
        let mut workers = Vec::new();
        for _ in 0..3 {
            let tid = gil.register_thread();
            workers.push(tid);
            let gil = &gil;
            s.spawn(move || {
                let mut g = gil.acquire(tid);
                let mut ticks = g.tick_budget().expect("the policy counts instructions");
                assert!((1..=5).contains(&ticks));
                for _ in 0..3000 {
                    g.value += 1;
                    ticks -= 1;
                    if ticks == 0 {
                        ticks = g.end_slice(None);
                        assert!((1..=5).contains(&ticks));
                        holds(gil, tid);
                    }
                }
                g.exit();
            });
        }
        wait_until("every worker waiting", || {
            workers.iter().all(|&w| state_of(&gil, w) == ThreadState::Waiting)
        });
        drop(g);
    });
    let stats = gil.stats();
    assert_eq!(stats.reasons.total(), stats.switches, "{stats}");
    assert!(stats.reasons[SwitchReason::Schedule] > 0, "{stats}");
    assert_eq!(stats.reasons[SwitchReason::DropRequest], 0, "{stats}");
    assert_eq!(stats.drop_requests, 0);
    assert_eq!(gil.into_inner().value, 9000);
}

/// A thread that begins to wait asks the holder where it is (REPORT_LOCATION); the
/// holder's report charges that wait to the place, and the bit is cleared.
#[test]
fn gil_waits_are_charged_to_the_place_the_holder_reports() {
    let gil = Gil::new(
        (),
        GilConfig {
            location_names: Some(LocationNames::new(|at| Some(format!("loop.toy:{}", at.0)))),
            ..config(PolicyKind::Interval, LONG)
        },
    );
    let main = gil.register_thread();
    let other = gil.register_thread();
    let mut g = gil.acquire(main);
    let report_asked = || gil.eval_breaker().load(Relaxed) & REPORT_LOCATION != 0;
    assert!(!report_asked(), "nobody waits yet");
    g.report_location(Location(3)); // before anyone waits: charged to nobody
    thread::scope(|s| {
        s.spawn(|| gil.acquire(other).exit());
        wait_until("the waiter", || state_of(&gil, other) == ThreadState::Waiting);
        assert!(report_asked());
        thread::sleep(2 * MS);
        g.report_location(Location(12));
        assert!(!report_asked());
        g.report_location(Location(13)); // a later place: the wait is already placed
        g.release_while(|| wait_until("the waiter's turn", || acquired(&gil, other)));
    });
    drop(g);
    let stats = gil.stats();
    assert_eq!(stats.waits_caused.len(), 1, "{stats}");
    assert_eq!(stats.waits_caused[0].line, "loop.toy:12");
    assert!(stats.waits_caused[0].wait >= 2 * MS, "{stats}");
    assert!(stats.waits_caused[0].wait <= stats.thread(other).unwrap().wait);
    let table = stats.to_string();
    assert!(table.contains("costliest first:\n  loop.toy:12  "), "{table}");
    assert_eq!(stats.reasons[SwitchReason::Blocking], 1, "{stats}");
    assert_eq!(stats.reasons[SwitchReason::ThreadEnd], 1, "{stats}");
}

/// A wait whose holder never reported (it released before any check point) is charged
/// to the last place the holder reported during its hold; with no place at all, to none.
#[test]
fn gil_a_wait_without_a_report_falls_back_to_the_last_place() {
    let gil = Gil::new((), config(PolicyKind::Interval, LONG));
    let main = gil.register_thread();
    let other = gil.register_thread();
    for (report, expected) in [(None, 0), (Some(Location(4)), 1)] {
        let mut g = gil.acquire(main);
        if let Some(at) = report {
            g.report_location(at);
        }
        thread::scope(|s| {
            s.spawn(|| drop(gil.acquire(other)));
            wait_until("the waiter", || state_of(&gil, other) == ThreadState::Waiting);
            drop(g);
        });
        let stats = gil.stats();
        assert_eq!(stats.waits_caused.len(), expected, "{stats}");
    }
    assert_eq!(gil.stats().waits_caused[0].line, "#4");
}

/// The statistics as JSON carry the reasons, the places and the totals.
#[test]
fn gil_stats_json_has_every_number() {
    let gil = Gil::new((), GilConfig::default());
    let main = gil.register_thread();
    let other = gil.register_thread();
    let mut g = gil.acquire(main);
    thread::scope(|s| {
        s.spawn(|| gil.acquire(other).exit());
        wait_until("the waiter", || state_of(&gil, other) == ThreadState::Waiting);
        g.report_location(Location(0));
        g.release_while(|| wait_until("the waiter's turn", || acquired(&gil, other)));
    });
    drop(g);
    let stats = gil.stats();
    let json: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
    assert_eq!(json["policy"], "interval");
    assert_eq!(json["switches"], stats.switches);
    let reasons = json["reasons"].as_object().unwrap();
    assert_eq!(reasons.len(), 5);
    let sum: u64 = reasons.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(sum, stats.switches);
    assert_eq!(json["waits_caused"][0][0], "#0");
    assert!(json["waits_caused"][0][1].as_f64().unwrap() > 0.0);
    assert_eq!(json["threads"].as_array().unwrap().len(), 2);
    assert!((json["wait_s"].as_f64().unwrap() - stats.total_wait().as_secs_f64()).abs() < 1e-9);
}

/// Voluntary context switches of the calling thread so far: how often it slept.
fn sleeps_of_this_thread() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes only the `rusage` it is given, which lives on this stack.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage");
    // SAFETY: it returned 0, so it filled the struct (and zeroed is a valid rusage anyway).
    unsafe { usage.assume_init() }.ru_nvcsw
}

/// A waiting thread's life: takes the GIL as `tid`, holds it for `hold` without a check
/// point, counts itself in, and records how often it slept to get it.
fn take_counting_sleeps(gil: &Gil<u32>, tid: ThreadId, hold: Duration, sleeps: &StdMutex<Vec<i64>>) {
    let before = sleeps_of_this_thread();
    let mut g = gil.acquire(tid);
    let slept = sleeps_of_this_thread() - before;
    if !hold.is_zero() {
        thread::sleep(hold);
    }
    *g += 1;
    drop(g);
    sleeps.lock().unwrap().push(slept);
    gil.thread_exit(tid);
}

/// Twelve threads wait while the holder keeps the GIL for 20 switch intervals without a
/// check point (as native code that holds it would). Only the waiter on watch wakes every
/// interval to ask again; the others doze until the release. When every waiter timed its
/// own ask, each woke about 20 times (240 in all); now the sleeps must stay under half
/// that. Asserted under each policy whose waiters ask.
#[test]
fn gil_only_the_waiter_on_watch_wakes_to_ask() {
    const WAITERS: usize = 12;
    for policy in [
        PolicyKind::Interval,
        PolicyKind::Fifo,
        PolicyKind::Priority,
        PolicyKind::Deadline,
    ] {
        let gil = Gil::new(0u32, config(policy, Duration::from_millis(2)));
        let main = gil.register_thread();
        let mut g = gil.acquire(main);
        let sleeps = StdMutex::new(Vec::new());
        thread::scope(|s| {
            for _ in 0..WAITERS {
                let tid = gil.register_thread();
                let (gil, sleeps) = (&gil, &sleeps);
                s.spawn(move || take_counting_sleeps(gil, tid, Duration::ZERO, sleeps));
            }
            wait_until("every thread queued", || gil.lock_state().waiters.len() == WAITERS);
            thread::sleep(Duration::from_millis(40));
            {
                let st = gil.lock_state();
                st.check();
                assert!(st.watch.is_some(), "{policy}: nobody is on watch");
            }
            *g += 1;
            drop(g);
        });
        let sleeps = sleeps.into_inner().unwrap();
        let total: i64 = sleeps.iter().sum();
        assert!(total < 120, "{policy}: the waiters slept {total} times ({sleeps:?})");
        assert_eq!(gil.into_inner(), WAITERS as u32 + 1, "{policy}");
    }
}

/// Twelve threads queue for the GIL and take it in turn, each holding it for a
/// millisecond. Each change of holder names a new waiter on watch; the alarm times that
/// waiter's ask, so the change wakes nobody but the next holder, and each waiter sleeps
/// once. (Woken to time its own ask, each slept twice: 23 sleeps in all.)
#[test]
fn gil_a_change_of_holder_wakes_only_the_next_holder() {
    const WAITERS: usize = 12;
    for policy in [PolicyKind::Fifo, PolicyKind::Interval] {
        let gil = Gil::new(0u32, config(policy, Duration::from_secs(1)));
        let main = gil.register_thread();
        let g = gil.acquire(main);
        let sleeps = StdMutex::new(Vec::new());
        thread::scope(|s| {
            for queued in 1..=WAITERS {
                let tid = gil.register_thread();
                let (gil, sleeps) = (&gil, &sleeps);
                s.spawn(move || take_counting_sleeps(gil, tid, Duration::from_millis(1), sleeps));
                wait_until("the thread queued", || gil.lock_state().waiters.len() == queued);
            }
            drop(g);
        });
        let sleeps = sleeps.into_inner().unwrap();
        let total: i64 = sleeps.iter().sum();
        assert!(
            total < (WAITERS * 3 / 2) as i64,
            "{policy}: the waiters slept {total} times ({sleeps:?})"
        );
        assert_eq!(gil.into_inner(), WAITERS as u32, "{policy}");
    }
}

/// A waiter named on watch by a change of holder asks that holder in time: the holder
/// keeps the GIL, without a check point, for six switch intervals, while the waiter, put
/// to doze for eight of them when it queued, is woken by the alarm after one.
#[test]
fn gil_the_alarm_wakes_the_waiter_a_change_of_holder_put_on_watch() {
    let gil = Gil::new(0u32, config(PolicyKind::Interval, Duration::from_millis(5)));
    let main = gil.register_thread();
    let (first, second) = (gil.register_thread(), gil.register_thread());
    let g = gil.acquire(main);
    let asked_in_time = thread::scope(|s| {
        let gil = &gil;
        let holder = s.spawn(move || {
            let g = gil.acquire(first);
            thread::sleep(Duration::from_millis(30));
            let asked = drop_requested(gil);
            drop(g);
            gil.thread_exit(first);
            asked
        });
        wait_until("the first waiter queued", || gil.lock_state().waiters.len() == 1);
        s.spawn(move || {
            drop(gil.acquire(second));
            gil.thread_exit(second);
        });
        wait_until("the second waiter queued", || gil.lock_state().waiters.len() == 2);
        {
            let st = gil.lock_state();
            let watch = st.watch.expect("the first waiter is on watch");
            assert_eq!((watch.watcher, watch.by_alarm), (first, false));
        }
        drop(g);
        holder.join().unwrap()
    });
    assert!(
        asked_in_time,
        "the second waiter did not ask within six switch intervals"
    );
    let stats = gil.stats();
    assert!(
        stats.thread(second).unwrap().drop_requests >= 1,
        "the ask was not the second waiter's"
    );
}

/// The alarm holds a lock weakly: once the lock is dropped, nothing of it is kept.
#[test]
fn gil_the_alarm_keeps_nothing_of_a_dropped_lock() {
    let gil = Gil::new(0u32, config(PolicyKind::Fifo, Duration::from_secs(3600)));
    let main = gil.register_thread();
    let waiters = [gil.register_thread(), gil.register_thread()];
    let g = gil.acquire(main);
    thread::scope(|s| {
        for (queued, tid) in waiters.into_iter().enumerate() {
            let gil = &gil;
            s.spawn(move || {
                drop(gil.acquire(tid));
                gil.thread_exit(tid);
            });
            wait_until("the thread queued", || gil.lock_state().waiters.len() == queued + 1);
        }
        drop(g);
    });
    assert!(gil.lock_state().alarm_due.is_some(), "a change of holder set the alarm");
    let shared = std::sync::Arc::downgrade(gil.shared_arc());
    drop(gil);
    assert!(shared.upgrade().is_none(), "the lock outlived its owner");
}
