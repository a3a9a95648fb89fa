//! A GIL policy of the host's own: a lottery. Every waiter holds one ticket per
//! microsecond it has waited (and one to start with), and a released GIL goes to the
//! holder of a ticket drawn from a seeded generator, so long waiters usually win but
//! nobody is certain to. Everything else is the `interval` policy's (the trait's
//! defaults): a waiter asks after one switch interval, a dropped holder lets another run.
//!
//! `cargo run --release --example lottery_policy -- scripts/lab/fairness.toy` runs a
//! script under it and prints the script's output, then the `--gil-stats` table.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use toy::gil::{Context, GilStats, ReleasePolicy, ThreadId, Waiter};

#[derive(Clone)]
pub struct Lottery {
    rng: StdRng,
}

impl Lottery {
    pub fn new(seed: u64) -> Lottery {
        Lottery {
            rng: StdRng::seed_from_u64(seed),
        }
    }
}

impl ReleasePolicy for Lottery {
    fn name(&self) -> &str {
        "lottery"
    }

    fn next_holder(&mut self, waiters: &[Waiter], _: &Context) -> Option<ThreadId> {
        let tickets = |w: &Waiter| w.waited.as_micros() as u64 + 1;
        let total: u64 = waiters.iter().map(tickets).sum();
        if total == 0 {
            return None; // nobody waits
        }
        let mut draw = self.rng.random_range(0..total);
        for w in waiters {
            if draw < tickets(w) {
                return Some(w.tid);
            }
            draw -= tickets(w);
        }
        None
    }
}

/// Run the script `file` with `args` under a lottery seeded with `seed`; its statistics.
pub fn run(file: &str, args: Vec<String>, seed: u64) -> Result<GilStats, toy::RunError> {
    let mut toy = toy::Interpreter::builder()
        .policy_impl(Lottery::new(seed))
        .argv(args)
        .build();
    toy.run_file(file)?;
    toy.flush();
    Ok(toy.gil_stats())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_else(|| "scripts/lab/fairness.toy".to_string());
    match run(&file, args.collect(), 2024) {
        Ok(stats) => print!("{stats}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(e.exit_code());
        }
    }
}
