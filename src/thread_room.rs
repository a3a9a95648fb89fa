//! Whether this process has room for one more OS thread, asked before a thread is started.
//!
//! A new thread needs memory mappings: its stack and guard page, which the spawner maps
//! (a failure there is an ordinary error from `std::thread::Builder::spawn`), and the
//! alternate signal stack with its guard page, which Rust's std maps from inside the new
//! thread as it starts. If that second step fails — the process has used the kernel's
//! limit on mappings (`vm.max_map_count`, 65,530 by default, about 16,000 threads), or its
//! address space — std panics where no panic can unwind, and the whole process aborts.
//! So `room_for_thread` refuses a thread while the mappings or the address space are near
//! their limits, and the spawner reports a `ThreadError` instead.
//!
//! Invariant: the check never refuses a thread the system could start with a safe margin,
//! and it stays cheap — the mappings are counted (a read of `/proc/self/maps`, slow with
//! tens of thousands of threads) only when an upper estimate of their number, kept since
//! the last count, comes near the limit.

use std::sync::Mutex;
use std::sync::OnceLock;

/// Mappings one thread may add, counted generously: stack, guard, signal stack and its
/// guard, and a share of the allocator's per-thread arenas.
const MAPS_PER_THREAD: usize = 8;

/// Mappings kept free for everything else the process maps meanwhile.
const MAP_MARGIN: usize = 512;

/// Address space kept free beyond the new stack (the signal stack, allocations meanwhile).
const SPACE_MARGIN: u64 = 64 << 20;

/// The mappings counted last, and the threads started since (each assumed to add
/// `MAPS_PER_THREAD`).
static ESTIMATE: Mutex<(usize, usize)> = Mutex::new((0, usize::MAX / 2));

/// `Ok` if a thread with a stack of `stack_bytes` can be started safely; otherwise why
/// not, in words for a `ThreadError`.
pub fn room_for_thread(stack_bytes: usize) -> Result<(), String> {
    check_mappings()?;
    check_address_space(stack_bytes)
}

fn check_mappings() -> Result<(), String> {
    let Some(max) = max_map_count() else { return Ok(()) };
    let mut estimate = ESTIMATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (counted, started) = *estimate;
    let guess = counted.saturating_add(started.saturating_mul(MAPS_PER_THREAD));
    if guess.saturating_add(MAP_MARGIN) < max {
        estimate.1 = started + 1;
        return Ok(());
    }
    let Some(now) = count_mappings() else { return Ok(()) };
    *estimate = (now, 0);
    if now.saturating_add(MAP_MARGIN) < max {
        estimate.1 = 1;
        return Ok(());
    }
    Err(format!(
        "{now} memory mappings in use, of the {max} that vm.max_map_count allows"
    ))
}

/// The kernel's limit on a process's memory mappings, if it can be read.
fn max_map_count() -> Option<usize> {
    static MAX: OnceLock<Option<usize>> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
    })
}

/// How many memory mappings this process has now (one line each in /proc/self/maps).
fn count_mappings() -> Option<usize> {
    use std::io::Read;
    let mut file = std::fs::File::open("/proc/self/maps").ok()?;
    let mut buf = vec![0u8; 64 << 10];
    let mut lines = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn check_address_space(stack_bytes: usize) -> Result<(), String> {
    let Some(limit) = address_space_limit() else {
        return Ok(());
    };
    let Some(used) = address_space_used() else {
        return Ok(());
    };
    let need = stack_bytes as u64 + SPACE_MARGIN;
    if used.saturating_add(need) <= limit {
        return Ok(());
    }
    Err(format!(
        "{} MB of address space in use, of the {} MB its limit allows",
        used >> 20,
        limit >> 20
    ))
}

/// The soft limit on the address space (RLIMIT_AS, "Max address space" in
/// /proc/self/limits), if there is one.
fn address_space_limit() -> Option<u64> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = text.lines().find(|l| l.starts_with("Max address space"))?;
        line["Max address space".len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// The address space in use (VmSize in /proc/self/status), in bytes.
fn address_space_used() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib << 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_with_few_threads_has_room() {
        assert_eq!(room_for_thread(64 << 20), Ok(()));
        let n = count_mappings().expect("/proc/self/maps");
        assert!(n > 10, "{n} mappings");
        assert!(max_map_count().is_none_or(|max| max > n));
    }
}
