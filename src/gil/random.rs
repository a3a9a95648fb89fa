//! The `random` policy: a seeded scheduler for reproducing races. It counts instructions,
//! draws each slice's length from its generator, and at every slice's end hands the GIL to
//! a runnable thread the generator picks (the holder itself among them). It is a
//! scheduling policy ([`ReleasePolicy::schedules`]): the lock shows it every thread that
//! can run, in thread-id order, whether or not the thread has reached the lock yet, and
//! keeps every other thread off the GIL. Invariant: the generator is consulted only by
//! the holder, at its slice ends and releases, so the same seed draws the same numbers at
//! the same points of the same program, and the run is repeated exactly.

use std::time::Duration;

use super::generator::Generator;
use super::policy::{Context, ReleasePolicy, SliceEnd, Waiter};
use super::thread_id::ThreadId;

/// A seeded scheduler (`--gil-policy random --gil-seed N`).
#[derive(Clone, Debug)]
pub struct Random {
    rng: Generator,
}

impl Random {
    /// The scheduler for `seed`; every seed (0 included) gives its own sequence.
    pub fn new(seed: u64) -> Random {
        Random {
            rng: Generator::new(seed),
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }
}

impl ReleasePolicy for Random {
    fn name(&self) -> &str {
        "random"
    }

    /// Nobody asks: the scheduler alone decides when the holder stops.
    fn ask_after(&mut self, _: &Waiter, _: &Context) -> Option<Duration> {
        None
    }

    fn counts_instructions(&self) -> bool {
        true
    }

    fn schedules(&self) -> bool {
        true
    }

    /// Between 1 and twice the check interval instructions, so the mean is about the
    /// check interval and any instruction may end a slice.
    fn slice(&mut self, _: ThreadId, cx: &Context) -> u32 {
        let span = u64::from(cx.check_interval.max(1)) * 2;
        1 + self.below(span) as u32
    }

    fn at_slice_end(&mut self, _: ThreadId, _: &[Waiter], _: &Context) -> SliceEnd {
        SliceEnd::HandOff
    }

    /// Any of the runnable threads, with equal chances.
    fn next_holder(&mut self, runnable: &[Waiter], _: &Context) -> Option<ThreadId> {
        if runnable.is_empty() {
            return None;
        }
        let pick = self.below(runnable.len() as u64) as usize;
        Some(runnable[pick].tid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers_and_others_differ() {
        let draws = |seed| {
            let mut r = Random::new(seed);
            (0..32).map(|_| r.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        assert_ne!(draws(0), draws(1));
    }

    #[test]
    fn slices_cover_one_to_twice_the_check_interval() {
        let mut r = Random::new(3);
        let cx = Context {
            holder: None,
            held: Duration::ZERO,
            held_in_all: Duration::ZERO,
            now: std::time::Instant::now(),
            switch_interval: Duration::from_millis(5),
            check_interval: 10,
        };
        let slices: Vec<u32> = (0..2000).map(|_| r.slice(ThreadId(1), &cx)).collect();
        assert_eq!(slices.iter().min(), Some(&1));
        assert_eq!(slices.iter().max(), Some(&20));
    }
}
