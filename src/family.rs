//! `Family`: the interpreters that one root interpreter and its `spawn_interpreter` calls
//! (and theirs, recursively) put in one process — what the process as a whole needs to
//! know of them and nothing more: each one's number (the `N` of `<interpreter N>`, the
//! trace's process id), its eval breaker (so Ctrl-C can reach every one), and its lock's
//! statistics and trace (so `--gil-stats` and `--gil-trace` cover every one).
//!
//! Invariant: a family holds no interpreter values and no interpreter state — only
//! `Send + Sync` handles: breakers, and each member's lock seen through [`Telemetry`],
//! weakly while it runs and as a final snapshot once it has ended, so an ended
//! interpreter's heap is freed while its numbers stay. The root is number 1 and numbers
//! are never reused. Two independent roots (two `Interpreter`s of a host) are two
//! families: nothing here is process-wide.

use crate::gil::{Gil, GilStats, write_trace_end, write_trace_start};
use parking_lot::Mutex;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// What the family reads of a member's lock, whatever state that lock protects.
pub trait Telemetry: Send + Sync {
    /// The lock's counters now.
    fn stats(&self) -> GilStats;
    /// Its tracks as process `pid` of a trace whose times count from `origin`.
    fn write_trace_process(&self, out: &mut dyn io::Write, pid: u32, name: &str, origin: Instant) -> io::Result<()>;
}

impl<T> Telemetry for Gil<T> {
    fn stats(&self) -> GilStats {
        Gil::stats(self)
    }
    fn write_trace_process(&self, out: &mut dyn io::Write, pid: u32, name: &str, origin: Instant) -> io::Result<()> {
        Gil::write_trace_process(self, out, pid, name, origin)
    }
}

/// A member's lock: running (seen weakly), or ended (its last counters and trace).
enum Lock {
    Running(Weak<dyn Telemetry>),
    Ended { stats: GilStats, trace: Vec<u8> },
}

struct Member {
    number: u32,
    breaker: Arc<AtomicU32>,
    lock: Lock,
}

/// The interpreters of one root; see the module docs.
pub struct Family {
    members: Mutex<Vec<Member>>,
    next_number: AtomicU32,
    /// The root's creation: the origin of every member's trace times.
    origin: Instant,
    /// Whether traces are recorded (the root's setting, which every member copies).
    tracing: bool,
}

/// The process name of interpreter `number` in the trace.
fn trace_name(number: u32) -> String {
    if number == 1 {
        "toy".into()
    } else {
        format!("interpreter {number}")
    }
}

impl Family {
    /// A family whose root (number 1) has the lock `root` and the eval breaker `breaker`.
    pub fn new(root: Weak<dyn Telemetry>, origin: Instant, breaker: Arc<AtomicU32>, tracing: bool) -> Arc<Family> {
        Arc::new(Family {
            members: Mutex::new(vec![Member {
                number: 1,
                breaker,
                lock: Lock::Running(root),
            }]),
            next_number: AtomicU32::new(2),
            origin,
            tracing,
        })
    }

    /// The number the next member will get (made known before its lock exists).
    pub fn reserve_number(&self) -> u32 {
        self.next_number.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds member `number` (from [`Family::reserve_number`]) with its lock and breaker.
    pub fn join(&self, number: u32, lock: Weak<dyn Telemetry>, breaker: Arc<AtomicU32>) {
        self.members.lock().push(Member {
            number,
            breaker,
            lock: Lock::Running(lock),
        });
    }

    /// Member `number` has ended: its lock's counters and trace are kept as they are now.
    pub fn ended(&self, number: u32, lock: &dyn Telemetry) {
        let stats = lock.stats();
        let mut trace = Vec::new();
        if self.tracing {
            let _ = lock.write_trace_process(&mut trace, number, &trace_name(number), self.origin);
        }
        let mut members = self.members.lock();
        if let Some(m) = members.iter_mut().find(|m| m.number == number) {
            m.lock = Lock::Ended { stats, trace };
        }
    }

    /// Sets `bits` on the eval breaker of every member but the root (the root's is set by
    /// whoever calls this, e.g. the SIGINT handler).
    pub fn signal_all_but_root(&self, bits: u32) {
        for m in self.members.lock().iter().filter(|m| m.number != 1) {
            m.breaker.fetch_or(bits, Ordering::SeqCst);
        }
    }

    /// The `--gil-stats` text: the root's table, then one per other interpreter, each
    /// under a line naming it.
    pub fn stats_text(&self) -> String {
        let mut text = String::new();
        for (number, stats) in self.all_stats() {
            if number != 1 {
                text.push_str(&format!("interpreter {number}:\n"));
            }
            text.push_str(&stats.to_string());
        }
        text
    }

    /// Every member's counters, by number.
    pub fn all_stats(&self) -> Vec<(u32, GilStats)> {
        let members = self.members.lock();
        members
            .iter()
            .filter_map(|m| match &m.lock {
                Lock::Ended { stats, .. } => Some((m.number, stats.clone())),
                Lock::Running(lock) => lock.upgrade().map(|l| (m.number, l.stats())),
            })
            .collect()
    }

    /// Writes the trace of every member, one process each, to `path`.
    pub fn write_trace(&self, path: &Path) -> io::Result<()> {
        let mut file = io::BufWriter::new(std::fs::File::create(path)?);
        write_trace_start(&mut file)?;
        let members = self.members.lock();
        for m in members.iter() {
            match &m.lock {
                Lock::Ended { trace, .. } => file.write_all(trace)?,
                Lock::Running(lock) => {
                    if let Some(lock) = lock.upgrade() {
                        lock.write_trace_process(&mut file, m.number, &trace_name(m.number), self.origin)?;
                    }
                }
            }
        }
        write_trace_end(&mut file)?;
        file.flush()
    }
}
