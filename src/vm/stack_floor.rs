//! How deep builtins may nest eval loops on a thread's native stack. A builtin that calls
//! back into toy code (a sort key) runs a new eval loop inside its own Rust frames, so
//! recursion through builtins grows the thread's native stack, not only the frame count
//! the recursion limit bounds — and a host may run toy on any stack (std's threads get
//! 2 MB). Each VM knows its stack's floor: the lowest address at which a callback may
//! still start, a red zone above the stack's end that is left for the work of one level
//! (a builtin's own frames, a value printed or compared `MAX_NESTING` deep). Invariant: a
//! callback that would start below the floor is a `RecursionError`, never an overflow.

/// The red zone kept free below the floor: half the stack at most.
const RED_ZONE: usize = 4 << 20;

/// Where callbacks must stop on one thread's stack; `UNKNOWN` checks nothing.
#[derive(Clone, Copy, Debug)]
pub struct StackFloor {
    /// The stack's lowest address (it grows down towards it).
    low: usize,
    /// `low` plus the red zone.
    floor: usize,
}

impl StackFloor {
    /// No bounds known: nothing is checked.
    pub const UNKNOWN: StackFloor = StackFloor { low: 0, floor: 0 };

    /// For a stack spanning `low..low + size`.
    pub fn of(low: usize, size: usize) -> StackFloor {
        StackFloor {
            low,
            floor: low.saturating_add((size / 2).min(RED_ZONE)),
        }
    }

    /// For a thread started with a stack of `size` bytes, called in its first frames: the
    /// stack's top is a little above here (thread-local data, the start-up frames), so
    /// the estimated end lies that little below the real one, well inside the red zone.
    pub fn of_new_thread(size: usize) -> StackFloor {
        StackFloor::of(here().saturating_sub(size), size)
    }

    /// Whether the caller runs below the floor. An address outside the stack (a sanitizer
    /// may keep locals elsewhere) is not taken as a reason to refuse.
    pub fn reached(&self) -> bool {
        let sp = here();
        self.low <= sp && sp < self.floor
    }
}

/// An address in the caller's current stack frame.
#[inline(never)]
fn here() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_a_red_zone_above_the_end() {
        let f = StackFloor::of(1 << 30, 8 << 20);
        assert_eq!(f.floor, (1 << 30) + RED_ZONE);
        let small = StackFloor::of(1 << 30, 1 << 20);
        assert_eq!(small.floor, (1 << 30) + (512 << 10));
        assert!(!StackFloor::UNKNOWN.reached());
    }

    #[test]
    fn a_thread_high_on_its_stack_has_not_reached_it() {
        let size = 8 << 20;
        let on_thread = std::thread::Builder::new()
            .stack_size(size)
            .spawn(move || {
                let floor = StackFloor::of_new_thread(size);
                // A stack said to end 4 KB below here has its red zone all around here.
                let low = here() - 4096;
                (floor.reached(), StackFloor::of(low, 1 << 20).reached())
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(on_thread, (false, true));
    }
}
