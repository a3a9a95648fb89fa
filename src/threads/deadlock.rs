//! Deadlock reports (LANGUAGE.md §8), read off the wait-for graph whenever a thread begins
//! a wait without a timeout or a thread finishes: a wait that closes a cycle of waiting
//! threads throws `DeadlockError` at once in the thread that closes it, naming every thread
//! of the cycle, what it waits for and where; and when every thread of the program is
//! blocked, the main thread gets `DeadlockError: all threads are blocked`, one line per
//! thread (each remaining thread does, once the main script has ended).
//!
//! Invariants:
//! - No false reports. A thread counts as blocked only while it is in the graph and its
//!   signal has not moved (see `wait_graph`); a thread sleeping, in I/O, in native code,
//!   waiting with a timeout or on a child process is not in the graph, so it keeps any
//!   report from being made. A cycle through a semaphore (whose permits any thread may
//!   release) is reported only when no thread outside it can run.
//! - A verdict is given only to a wait that may fail: a condition taking its lock back
//!   after `wait` is passed over, and the error goes to another thread that can throw it.

use crate::heap::Heap;
use crate::object::Obj;
use crate::value::ObjId;
use crate::vm::{Thrown, Vm};
use crate::wait_graph::{Cycle, Holders, WaitFor};

/// What a thread that has just begun to wait must throw at once, if anything. Gives the
/// verdicts that its wait makes due to other threads.
pub(super) fn on_new_wait(vm: &mut Vm, me: u32) -> Option<Box<Thrown>> {
    if let Some(cycle) = closed_cycle(vm, me) {
        let can_fail = |vm: &Vm, t: u32| vm.it.waits.entry(t).is_some_and(|e| e.can_fail);
        if can_fail(vm, me) {
            let text = cycle_text(vm, &cycle.threads);
            return Some(vm.error("DeadlockError", text));
        }
        // A condition taking its lock back: the next thread of the cycle that can throw
        // does, which breaks the cycle as well (and frees what it holds as it unwinds).
        let n = cycle.threads.len();
        match (1..n).find(|&i| can_fail(vm, cycle.threads[i])) {
            Some(i) => {
                let mut turned = cycle.threads.clone();
                turned.rotate_left(i);
                let text = cycle_text(vm, &turned);
                vm.it.waits.condemn(turned[0], text);
            }
            None => {
                // Every thread of the cycle is taking a condition's lock back: one of them
                // must give up without it rather than wait forever.
                let text = cycle_text(vm, &cycle.threads);
                return Some(vm.error("DeadlockError", text));
            }
        }
        return None;
    }
    check_all_blocked(vm);
    None
}

/// The cycle `me`'s new wait closes, if it is certain to be one.
fn closed_cycle(vm: &Vm, me: u32) -> Option<Cycle> {
    let heap = &vm.it.heap;
    let cycle = vm.it.waits.cycle_through(me, &|on| holders(heap, on))?;
    (cycle.certain || blocked_threads(vm).is_some()).then_some(cycle)
}

/// When every thread of the program is blocked, gives each one that is to throw the
/// `DeadlockError: all threads are blocked`: the main thread, or, once the main script has
/// ended (or when the main thread may not fail), every other thread.
pub(super) fn check_all_blocked(vm: &mut Vm) {
    let Some(threads) = blocked_threads(vm) else { return };
    let main = vm.it.main_thread.get();
    let main_ended = matches!(vm.it.waits.entry(main).map(|e| e.on), Some(WaitFor::ProgramEnd(_)));
    let listed: Vec<u32> = threads
        .iter()
        .copied()
        .filter(|&t| !(t == main && main_ended))
        .collect();
    if listed.is_empty() {
        return;
    }
    let mut text = String::from("all threads are blocked");
    for &t in &listed {
        text.push_str("\n  ");
        text.push_str(&wait_text(vm, t));
    }
    let main_can_fail = vm.it.waits.entry(main).is_some_and(|e| e.can_fail);
    if !main_ended && main_can_fail {
        vm.it.waits.condemn(main, text);
        return;
    }
    for t in listed {
        if t != main && vm.it.waits.entry(t).is_some_and(|e| e.can_fail) {
            vm.it.waits.condemn(t, text.clone());
        }
    }
}

/// Every thread of the program (the main one first, then the others by id), if all of
/// them are blocked.
fn blocked_threads(vm: &Vm) -> Option<Vec<u32>> {
    let waits = &vm.it.waits;
    let main = vm.it.main_thread.get();
    if !waits.may_all_be_waiting() || !waits.is_blocked(main) {
        return None;
    }
    let mut threads = vec![main];
    for &id in &vm.it.threads {
        if let Obj::Thread(t) = vm.it.heap.get(id)
            && t.outcome.is_none()
        {
            if !waits.is_blocked(t.tid) {
                return None;
            }
            threads.push(t.tid);
        }
    }
    threads[1..].sort_unstable();
    Some(threads)
}

/// Who can give what `on` names, read from the object; `None` for what any thread could
/// give (an item in a queue, a notify, an event).
fn holders(heap: &Heap, on: &WaitFor) -> Option<Holders> {
    let one = |owner: Option<u32>| Holders {
        threads: owner.into_iter().collect(),
        only_they: true,
    };
    match (*on, heap.get(object_of(on))) {
        (WaitFor::Lock(_), Obj::Lock(l)) => Some(one(l.owner)),
        (WaitFor::Lock(_), Obj::RLock(l)) | (WaitFor::RLock(_), Obj::RLock(l)) => Some(one(l.owner)),
        (WaitFor::Semaphore(_), Obj::Semaphore(s)) => Some(Holders {
            threads: s.holders.iter().filter(|(_, n)| *n > 0).map(|(t, _)| *t).collect(),
            only_they: false,
        }),
        (WaitFor::Thread(_), Obj::Thread(t)) => Some(one(t.outcome.is_none().then_some(t.tid))),
        _ => None,
    }
}

fn object_of(on: &WaitFor) -> ObjId {
    match *on {
        WaitFor::Lock(id)
        | WaitFor::RLock(id)
        | WaitFor::Semaphore(id)
        | WaitFor::Thread(id)
        | WaitFor::QueueItem(id)
        | WaitFor::QueueRoom(id)
        | WaitFor::Event(id)
        | WaitFor::Notify(id)
        | WaitFor::Barrier(id)
        | WaitFor::ProgramEnd(id) => id,
    }
}

/// `thread 2 waits for a lock held by thread 3 (cycle.toy:7), which waits for ...`.
fn cycle_text(vm: &Vm, threads: &[u32]) -> String {
    let heap = &vm.it.heap;
    let mut text = String::new();
    for (i, &t) in threads.iter().enumerate() {
        if i == 0 {
            text.push_str(&format!("thread {t} "));
        } else {
            let before = vm.it.waits.entry(threads[i - 1]).map(|e| e.on);
            let shared = before
                .and_then(|on| holders(heap, &on))
                .is_some_and(|h| h.threads.len() > 1);
            if shared {
                text.push_str(&format!(", of which thread {t} "));
            } else {
                text.push_str(", which ");
            }
        }
        text.push_str(&waits_for(vm, t));
    }
    text
}

/// `thread 2 waits for an item from a queue (all.toy:5)`.
fn wait_text(vm: &Vm, thread: u32) -> String {
    format!("thread {thread} {}", waits_for(vm, thread))
}

/// `waits for a lock held by thread 3 (cycle.toy:7)`.
fn waits_for(vm: &Vm, thread: u32) -> String {
    let Some(e) = vm.it.waits.entry(thread) else {
        return "is running".into();
    };
    format!("waits for {} ({}:{})", describe(&vm.it.heap, &e.on), e.file, e.line)
}

/// What a wait is for, in words: `a lock held by thread 3`, `an item from a queue`.
fn describe(heap: &Heap, on: &WaitFor) -> String {
    let held = |threads: &[u32]| match threads {
        [] => String::new(),
        [t] => format!(" held by thread {t}"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(u32::to_string).collect();
            format!(" held by threads {} and {last}", init.join(", "))
        }
    };
    let holding = holders(heap, on).map(|h| held(&h.threads)).unwrap_or_default();
    match (*on, heap.get(object_of(on))) {
        (WaitFor::Lock(_), Obj::RLock(_)) | (WaitFor::RLock(_), _) => format!("an rlock{holding}"),
        (WaitFor::Lock(_), _) => format!("a lock{holding}"),
        (WaitFor::Semaphore(_), _) => format!("a semaphore permit{holding}"),
        (WaitFor::Thread(_) | WaitFor::ProgramEnd(_), Obj::Thread(t)) => format!("thread {} to finish", t.tid),
        (WaitFor::Thread(_) | WaitFor::ProgramEnd(_), _) => "a thread to finish".into(),
        (WaitFor::QueueItem(_), _) => "an item from a queue".into(),
        (WaitFor::QueueRoom(_), _) => "room in a full queue".into(),
        (WaitFor::Event(_), _) => "an event to be set".into(),
        (WaitFor::Notify(_), _) => "a notify on a condition".into(),
        (WaitFor::Barrier(_), Obj::Barrier(b)) => {
            let waiting = b.next_index - b.returned.len() as u64;
            format!("a barrier ({waiting} of {} threads waiting)", b.parties)
        }
        (WaitFor::Barrier(_), _) => "a barrier".into(),
    }
}
