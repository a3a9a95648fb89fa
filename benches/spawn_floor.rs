//! The machine's floor for "50 threads each sleep(0.1): speedup over sequential", with no
//! interpreter and no GIL: plain OS threads with the stack size toy gives its threads,
//! each sleeping 100 ms, against 50 sleeps in a row. Whatever thread creation costs on
//! this machine caps the speedup for toy as much as for this program, so toy's lab row
//! (scripts/lab/io_threads.toy) is read against this number.
//!
//!     cargo bench --bench spawn_floor            # 5 rounds, interleaved
//!     cargo bench --bench spawn_floor -- 20      # 20 rounds

use std::thread;
use std::time::{Duration, Instant};

/// toy's thread stack (src/threads.rs).
const STACK: usize = 64 << 20;
const THREADS: usize = 50;
const NAP: Duration = Duration::from_millis(100);

fn sequential() -> f64 {
    let t0 = Instant::now();
    for _ in 0..THREADS {
        thread::sleep(NAP);
    }
    t0.elapsed().as_secs_f64()
}

/// Seconds until every thread has said it is done, and for the spawn loop alone. The
/// OS-level joins (which unmap the stacks) come after the clock stops, as in toy, where
/// `join` waits for the thread's result and the OS thread is reaped at exit.
fn threaded() -> (f64, f64) {
    let (done, finished) = std::sync::mpsc::channel();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let done = done.clone();
            thread::Builder::new()
                .stack_size(STACK)
                .spawn(move || {
                    thread::sleep(NAP);
                    done.send(()).expect("main waits for every thread");
                })
                .expect("spawn a thread")
        })
        .collect();
    let spawned = t0.elapsed().as_secs_f64();
    for _ in 0..THREADS {
        finished.recv().expect("every thread reports");
    }
    let all_done = t0.elapsed().as_secs_f64();
    for h in handles {
        h.join().expect("a sleeping thread does not panic");
    }
    (all_done, spawned)
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    println!(
        "{THREADS} plain threads each sleep(0.1), {} MiB stacks: speedup over sequential",
        STACK >> 20
    );
    let mut speedups = Vec::new();
    for round in 1..=rounds {
        let seq = sequential();
        let (thr, spawned) = threaded();
        let speedup = seq / thr;
        speedups.push(speedup);
        println!(
            "round {round}: sequential {seq:.4} s, threads {thr:.4} s (spawn loop {:.3} ms, {:.1} us a thread), speedup {speedup:.2}x",
            spawned * 1e3,
            spawned * 1e6 / THREADS as f64
        );
    }
    speedups.sort_by(f64::total_cmp);
    println!(
        "floor: speedup {:.2}x to {:.2}x (median {:.2}x)",
        speedups[0],
        speedups[speedups.len() - 1],
        speedups[speedups.len() / 2]
    );
}
