//! The counters behind `gil_stats()` and `--gil-stats`: a [`GilStats`] snapshot with one
//! [`ThreadStats`] row per registered thread, and its `Display` table. A snapshot is taken
//! under the lock's mutex, so its totals and rows describe one moment.

use std::fmt;
use std::time::{Duration, Instant};

use super::lock::Gil;
use super::policy::PolicyKind;
use super::thread_id::ThreadId;

/// Where a thread stands with respect to the GIL when the snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    Holding,
    Waiting,
    /// Registered, running without the GIL (a blocking call) or not started yet.
    Released,
    Exited,
}

/// One thread's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadStats {
    pub thread: ThreadId,
    pub state: ThreadState,
    /// Times it took the GIL.
    pub acquisitions: u64,
    /// Total time it held the GIL.
    pub hold: Duration,
    /// Total time it waited for the GIL.
    pub wait: Duration,
    /// Its longest single wait.
    pub max_wait: Duration,
    /// Times it gave the GIL up at a check point because the policy said so (someone
    /// asked; under `ticks`, its budget ran out while someone waited).
    pub forced_drops: u64,
    /// Times it asked the holder to drop.
    pub drop_requests: u64,
    /// Times it moved to the CPU of the holder it took the GIL from.
    pub cpu_moves: u64,
}

/// A snapshot of the lock's counters; `Display` is the `--gil-stats` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GilStats {
    pub policy: PolicyKind,
    pub switch_interval: Duration,
    pub check_interval: u32,
    /// Time since the lock was created.
    pub elapsed: Duration,
    /// Acquisitions by all threads.
    pub acquisitions: u64,
    /// Times the GIL changed hands.
    pub switches: u64,
    pub forced_drops: u64,
    pub drop_requests: u64,
    pub cpu_moves: u64,
    /// Whether threads follow the holder's CPU (`--gil-cpu follow`).
    pub follow_cpu: bool,
    /// Ordered by thread id.
    pub threads: Vec<ThreadStats>,
}

impl GilStats {
    /// The row for `tid`, if it was registered (since the last fork).
    pub fn thread(&self, tid: ThreadId) -> Option<&ThreadStats> {
        self.threads.iter().find(|t| t.thread == tid)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

impl fmt::Display for GilStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "GIL: policy {}, switch interval {} ms, check interval {} instructions, cpu {}, run time {} ms",
            self.policy,
            ms(self.switch_interval),
            self.check_interval,
            if self.follow_cpu { "follow" } else { "any" },
            ms(self.elapsed)
        )?;
        const HEADER: [&str; 8] = [
            "thread",
            "acquisitions",
            "hold (ms)",
            "wait (ms)",
            "max wait (ms)",
            "forced drops",
            "drop requests",
            "cpu moves",
        ];
        let mut rows: Vec<[String; 8]> = vec![HEADER.map(String::from)];
        for t in &self.threads {
            let main = if t.thread == ThreadId::MAIN { " (main)" } else { "" };
            rows.push([
                format!("{}{main}", t.thread),
                t.acquisitions.to_string(),
                ms(t.hold),
                ms(t.wait),
                ms(t.max_wait),
                t.forced_drops.to_string(),
                t.drop_requests.to_string(),
                t.cpu_moves.to_string(),
            ]);
        }
        let sum = |pick: fn(&ThreadStats) -> Duration| self.threads.iter().map(pick).sum();
        rows.push([
            "total".to_string(),
            self.acquisitions.to_string(),
            ms(sum(|t| t.hold)),
            ms(sum(|t| t.wait)),
            ms(self.threads.iter().map(|t| t.max_wait).max().unwrap_or_default()),
            self.forced_drops.to_string(),
            self.drop_requests.to_string(),
            self.cpu_moves.to_string(),
        ]);
        let mut widths = [0; 8];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in &rows {
            write!(f, "{:<w$}", row[0], w = widths[0])?;
            for (cell, width) in row.iter().zip(widths).skip(1) {
                write!(f, "  {cell:>width$}")?;
            }
            writeln!(f)?;
        }
        writeln!(f, "switches: {}", self.switches)
    }
}

impl<T> Gil<T> {
    /// A snapshot of the counters: totals and one row per registered thread. Intervals
    /// still open (a thread holding or waiting right now) are counted up to this moment.
    pub fn stats(&self) -> GilStats {
        let now = Instant::now();
        let st = self.lock_state();
        let mut threads = Vec::new();
        for (index, rec) in st.threads.iter().enumerate() {
            let Some(rec) = rec else { continue };
            let thread = ThreadId(index as u32 + 1);
            let holding = rec.held_since.map_or(Duration::ZERO, |t| now - t);
            let waiting = rec.waiting_since.map_or(Duration::ZERO, |t| now - t);
            let state = if st.holder == Some(thread) {
                ThreadState::Holding
            } else if rec.waiting_since.is_some() {
                ThreadState::Waiting
            } else if rec.exited {
                ThreadState::Exited
            } else {
                ThreadState::Released
            };
            threads.push(ThreadStats {
                thread,
                state,
                acquisitions: rec.acquisitions,
                hold: rec.hold + holding,
                wait: rec.wait + waiting,
                max_wait: rec.max_wait.max(waiting),
                forced_drops: rec.forced_drops,
                drop_requests: rec.drop_requests,
                cpu_moves: rec.cpu_moves,
            });
        }
        GilStats {
            policy: self.policy,
            switch_interval: self.switch_interval(),
            check_interval: self.check_interval(),
            elapsed: now - self.created,
            acquisitions: threads.iter().map(|t| t.acquisitions).sum(),
            switches: st.switch_number,
            forced_drops: st.forced_drops,
            drop_requests: st.drop_requests,
            cpu_moves: st.cpu_moves,
            follow_cpu: self.follow_cpu,
            threads,
        }
    }
}
