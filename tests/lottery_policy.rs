//! The lottery example (`examples/lottery_policy.rs`) as a host would use it: its policy
//! installed through the builder runs a real script and gets the same statistics as a
//! built-in one, and its draws are seeded and favour long waiters.

use std::time::Duration;

use toy::gil::{Context, ReleasePolicy, ThreadId, Waiter};

#[path = "../examples/lottery_policy.rs"]
#[allow(dead_code)] // the example's `main`; the test calls `run` with its own arguments
mod lottery_policy;

use lottery_policy::{Lottery, run};

fn script(name: &str) -> String {
    format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn lottery_runs_the_convoy_script_and_gets_the_statistics() {
    let stats = run(&script("convoy-picture.toy"), Vec::new(), 7).expect("the script runs");
    assert_eq!(stats.policy, "lottery");
    assert_eq!(stats.threads.len(), 3, "{stats}");
    assert!(stats.switches > 0, "{stats}");
    assert_eq!(stats.reasons.total(), stats.switches, "{stats}");
    // The napping thread waits behind the spinner, and that wait is charged to the
    // spinner's loop, line 9.
    let costliest = stats.waits_caused.first().expect("some wait was charged to a line");
    assert!(costliest.line.ends_with("convoy-picture.toy:9"), "{stats}");
    let table = stats.to_string();
    assert!(table.starts_with("GIL: policy lottery, "), "{table}");
    assert!(table.contains("costliest first:\n"), "{table}");
}

#[test]
fn lottery_reports_the_scripts_error() {
    let err = run(&script("no-such-script.toy"), Vec::new(), 1).unwrap_err();
    assert_ne!(err.exit_code(), 0);
}

fn waiting(tid: u32, waited: Duration) -> Waiter {
    Waiter {
        tid: ThreadId(tid),
        waited,
        from_blocking: false,
        last_hold: Duration::ZERO,
        total_hold: Duration::ZERO,
    }
}

fn context() -> Context {
    Context {
        holder: None,
        held: Duration::ZERO,
        held_in_all: Duration::ZERO,
        now: std::time::Instant::now(),
        switch_interval: Duration::from_millis(5),
        check_interval: 100,
    }
}

#[test]
fn lottery_draws_are_seeded_and_favour_long_waiters() {
    let queue = [
        waiting(2, Duration::from_micros(9)),
        waiting(3, Duration::from_micros(990)),
    ];
    let draws = |seed| {
        let mut lottery = Lottery::new(seed);
        (0..1000)
            .map(|_| lottery.next_holder(&queue, &context()).expect("somebody waits"))
            .collect::<Vec<_>>()
    };
    let first = draws(5);
    assert_eq!(first, draws(5), "same seed, same draws");
    assert_ne!(first, draws(6), "another seed, other draws");
    // 10 tickets against 991: the long waiter wins about 99 draws in 100, not all.
    let short = first.iter().filter(|&&t| t == ThreadId(2)).count();
    assert!((1..=30).contains(&short), "the short waiter won {short} of 1000");
    assert_eq!(Lottery::new(1).next_holder(&[], &context()), None);
}
