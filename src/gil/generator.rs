//! `Generator`: the seeded random number generator the lock's own policies draw from —
//! the `random` scheduler's choices and `ticks`' slice jitter. xorshift64*, seeded
//! through splitmix64 so that neighbouring seeds give unrelated sequences. Invariant: the
//! same seed gives the same sequence on every platform, and the state is never zero (a
//! zero state would draw zeros for ever).

/// A small, fast, seeded generator; not for anything that must be unpredictable.
#[derive(Clone, Debug)]
pub(super) struct Generator {
    state: u64,
}

impl Generator {
    /// The generator for `seed`; every seed (0 included) gives its own sequence.
    pub(super) fn new(seed: u64) -> Generator {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Generator {
            state: if z == 0 { 0x2545_F491_4F6C_DD1D } else { z },
        }
    }

    /// The next number of the sequence.
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` at least 1).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
