//! The wait-for graph: which threads are blocked, without a timeout, on something of the
//! program's own (a lock, a queue, a condition, a thread to join ...), where they wait and
//! on which `Signal`; plus the one search asked of it, a path of waits from a thread back
//! to itself. It is interpreter state, read and written under the GIL; what a wait is
//! *for* (who holds a lock, whether a thread has finished) is read from the objects by
//! the caller, through the `holders` function it passes in.
//!
//! Invariants:
//! - A thread has at most one entry, present exactly while it is inside a wait without a
//!   timeout on one of the program's objects. A thread without one may be running,
//!   waiting for the GIL, sleeping, in I/O or native code: never assumed stuck.
//! - An entry counts as blocked only while its `Signal` has not moved since the thread
//!   looked at the object's state and decided to wait, and no verdict is pending for it.
//!   Every change of an object's state bumps its signal under the GIL, so a thread that a
//!   change may have freed is never counted as blocked, even before it runs again.
//! - Nothing here is touched by a wait that does not block: an uncontended acquire never
//!   reaches the graph.

use crate::signal::Signal;
use crate::value::ObjId;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// What a blocked thread waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// A `Lock` to be released (also a condition's `Lock`, to be taken back after a wait).
    Lock(ObjId),
    /// An `RLock` to be released by the thread holding it.
    RLock(ObjId),
    /// A `Semaphore` permit.
    Semaphore(ObjId),
    /// A thread (its object) to finish: `join`.
    Thread(ObjId),
    /// An item in an empty queue: `get`.
    QueueItem(ObjId),
    /// Room in a full queue: `put`.
    QueueRoom(ObjId),
    /// An `Event` to be set.
    Event(ObjId),
    /// A `notify` on a `Condition`.
    Notify(ObjId),
    /// The other threads of a `Barrier`'s round.
    Barrier(ObjId),
    /// The main script has ended and waits for this thread to finish (it is listed in no
    /// report: the program's own code no longer waits).
    ProgramEnd(ObjId),
}

/// Who can give what a thread waits for.
#[derive(Debug, Default)]
pub struct Holders {
    pub threads: SmallVec<[u32; 2]>,
    /// Only these threads can give it (a lock's owner, a thread that has to finish). A
    /// semaphore's permits can also be released by a thread that never took one, so a
    /// cycle through a semaphore is certain only when no other thread can run.
    pub only_they: bool,
}

/// One blocked thread.
#[derive(Debug)]
pub struct Entry {
    pub on: WaitFor,
    /// Where it waits: the file and line of its innermost frame.
    pub file: Rc<str>,
    pub line: u32,
    /// Whether its wait may end with an error. A condition taking its lock back after a
    /// wait may not (the lock is held again before any error leaves `wait`), so no
    /// verdict is given to it.
    pub can_fail: bool,
    signal: Arc<Signal>,
    seen: u64,
    verdict: Option<String>,
}

/// A path of waits from a thread back to itself: `threads[i]` waits for something held by
/// `threads[i + 1]`, and the last for something held by the first.
#[derive(Debug, PartialEq)]
pub struct Cycle {
    pub threads: Vec<u32>,
    /// Every step waits for something only the next thread can give (no semaphore).
    pub certain: bool,
}

/// The blocked threads of one interpreter, by thread id.
#[derive(Debug, Default)]
pub struct WaitGraph {
    entries: FxHashMap<u32, Entry>,
    /// Spawned threads that have not finished (the main thread is counted apart).
    spawned_live: usize,
}

impl WaitGraph {
    /// Records that `thread` is about to wait, with the GIL released, for `signal` to move
    /// past `seen`.
    pub fn begin(
        &mut self,
        thread: u32,
        on: WaitFor,
        at: (Rc<str>, u32),
        signal: Arc<Signal>,
        seen: u64,
        can_fail: bool,
    ) {
        let (file, line) = at;
        let entry = Entry {
            on,
            file,
            line,
            can_fail,
            signal,
            seen,
            verdict: None,
        };
        self.entries.insert(thread, entry);
    }

    /// The wait of `thread` is over; the verdict given to it meanwhile, if any.
    pub fn end(&mut self, thread: u32) -> Option<String> {
        self.entries.remove(&thread).and_then(|e| e.verdict)
    }

    /// The threads waiting for `signal` to move.
    pub fn waiting_on(&self, signal: &Arc<Signal>) -> SmallVec<[u32; 2]> {
        self.entries
            .iter()
            .filter(|(_, e)| Arc::ptr_eq(&e.signal, signal))
            .map(|(&thread, _)| thread)
            .collect()
    }

    pub fn entry(&self, thread: u32) -> Option<&Entry> {
        self.entries.get(&thread)
    }

    /// Whether `thread` is blocked: in a wait without a timeout that nothing has disturbed
    /// since it began, with no verdict on its way.
    pub fn is_blocked(&self, thread: u32) -> bool {
        self.entries
            .get(&thread)
            .is_some_and(|e| e.verdict.is_none() && e.signal.generation() == e.seen)
    }

    /// Ends the wait of `thread` with an error: the verdict is thrown there as a
    /// `DeadlockError` once it wakes, which the bump of its signal makes happen now.
    pub fn condemn(&mut self, thread: u32, verdict: String) {
        if let Some(e) = self.entries.get_mut(&thread) {
            e.verdict = Some(verdict);
            e.signal.bump();
        }
    }

    pub fn thread_started(&mut self) {
        self.spawned_live += 1;
    }

    pub fn thread_ended(&mut self) {
        self.spawned_live = self.spawned_live.saturating_sub(1);
    }

    /// Whether as many threads are in waits as there are threads (the main one and the
    /// spawned ones still running): the cheap test before asking whether all are blocked.
    pub fn may_all_be_waiting(&self) -> bool {
        self.entries.len() > self.spawned_live
    }

    /// In a freshly forked child: only the forking thread exists, and it is running.
    pub fn forget_after_fork(&mut self) {
        self.entries.clear();
        self.spawned_live = 0;
    }

    /// A path of waits from `me` (which has just begun to wait) back to itself, through
    /// blocked threads only; the shortest certain one if there is one, else the shortest.
    pub fn cycle_through(&self, me: u32, holders: &dyn Fn(&WaitFor) -> Option<Holders>) -> Option<Cycle> {
        // The usual case first, without allocating: what `me` waits for is held by a
        // thread that is running.
        let first = holders(&self.entries.get(&me)?.on)?;
        if !first.threads.iter().any(|&t| t == me || self.is_blocked(t)) {
            return None;
        }
        if let Some(threads) = self.path_back(me, holders, true) {
            return Some(Cycle { threads, certain: true });
        }
        let threads = self.path_back(me, holders, false)?;
        Some(Cycle {
            threads,
            certain: false,
        })
    }

    /// Breadth first from `me` along "waits for something held by", following semaphores
    /// too unless `certain_only`.
    fn path_back(
        &self,
        me: u32,
        holders: &dyn Fn(&WaitFor) -> Option<Holders>,
        certain_only: bool,
    ) -> Option<Vec<u32>> {
        let mut came_from: FxHashMap<u32, u32> = FxHashMap::default();
        let mut queue = VecDeque::from([me]);
        let mut first = true;
        while let Some(x) = queue.pop_front() {
            if x == me && !first {
                break;
            }
            first = false;
            if !self.is_blocked(x) {
                continue;
            }
            let Some(h) = holders(&self.entries[&x].on) else {
                continue;
            };
            if certain_only && !h.only_they {
                continue;
            }
            for y in h.threads {
                if let std::collections::hash_map::Entry::Vacant(v) = came_from.entry(y) {
                    v.insert(x);
                    queue.push_back(y);
                }
            }
        }
        let mut back = Vec::new();
        let mut at = *came_from.get(&me)?;
        while at != me {
            back.push(at);
            at = came_from[&at];
        }
        back.push(me);
        back.reverse();
        Some(back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph where thread `t` waits on lock `ObjId(t)`; `owners[t]` holds it.
    fn graph(waits: &[(u32, WaitFor)]) -> (WaitGraph, Vec<Arc<Signal>>) {
        let mut g = WaitGraph::default();
        let mut signals = Vec::new();
        for &(t, on) in waits {
            let s = Arc::new(Signal::default());
            g.begin(t, on, ("t.toy".into(), t), s.clone(), s.generation(), true);
            signals.push(s);
        }
        (g, signals)
    }

    fn owners(map: &'static [(u32, &'static [u32], bool)]) -> impl Fn(&WaitFor) -> Option<Holders> {
        move |on| {
            let (WaitFor::Lock(id) | WaitFor::Semaphore(id)) = on else {
                return None;
            };
            map.iter()
                .find(|(o, _, _)| *o == id.index() as u32)
                .map(|(_, ts, only)| Holders {
                    threads: ts.iter().copied().collect(),
                    only_they: *only,
                })
        }
    }

    #[test]
    fn finds_the_cycle_that_a_new_wait_closes() {
        // 2 waits for lock 10 held by 3; 3 waits for lock 11 held by 4; 4 for lock 12 held by 2.
        let (g, _s) = graph(&[
            (2, WaitFor::Lock(ObjId::new(10))),
            (3, WaitFor::Lock(ObjId::new(11))),
            (4, WaitFor::Lock(ObjId::new(12))),
        ]);
        let h = owners(&[(10, &[3], true), (11, &[4], true), (12, &[2], true)]);
        let c = g.cycle_through(4, &h).expect("a cycle");
        assert_eq!(
            c,
            Cycle {
                threads: vec![4, 2, 3],
                certain: true
            }
        );
    }

    #[test]
    fn a_running_holder_or_a_moved_signal_breaks_the_chain() {
        let (g, s) = graph(&[(2, WaitFor::Lock(ObjId::new(10))), (3, WaitFor::Lock(ObjId::new(11)))]);
        // 3's lock is held by 5, which is not waiting.
        let h = owners(&[(10, &[3], true), (11, &[5], true)]);
        assert_eq!(g.cycle_through(2, &h), None);
        let h = owners(&[(10, &[3], true), (11, &[2], true)]);
        assert!(g.cycle_through(2, &h).is_some());
        // A release bumped 3's signal: 3 is about to run, not blocked.
        s[1].bump();
        assert_eq!(g.cycle_through(2, &h), None);
    }

    #[test]
    fn semaphores_make_uncertain_cycles_and_self_loops() {
        let (g, _s) = graph(&[(1, WaitFor::Semaphore(ObjId::new(10)))]);
        let h = owners(&[(10, &[1], false)]);
        assert_eq!(
            g.cycle_through(1, &h),
            Some(Cycle {
                threads: vec![1],
                certain: false
            })
        );
    }

    #[test]
    fn a_knot_elsewhere_is_not_my_cycle() {
        // 1 waits for 2; 2 and 3 wait for each other.
        let (g, _s) = graph(&[
            (1, WaitFor::Lock(ObjId::new(10))),
            (2, WaitFor::Lock(ObjId::new(11))),
            (3, WaitFor::Lock(ObjId::new(12))),
        ]);
        let h = owners(&[(10, &[2], true), (11, &[3], true), (12, &[2], true)]);
        assert_eq!(g.cycle_through(1, &h), None);
        assert!(g.cycle_through(2, &h).is_some());
    }

    #[test]
    fn verdicts_unblock_and_counts_gate_the_all_blocked_test() {
        let (mut g, _s) = graph(&[(1, WaitFor::QueueItem(ObjId::new(10)))]);
        assert!(g.may_all_be_waiting());
        g.thread_started();
        assert!(!g.may_all_be_waiting());
        assert!(g.is_blocked(1));
        g.condemn(1, "all threads are blocked".into());
        assert!(!g.is_blocked(1));
        assert_eq!(g.end(1).as_deref(), Some("all threads are blocked"));
        assert!(g.entry(1).is_none());
    }
}
